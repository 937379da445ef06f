"""The channel database: channels, ads and conditioned ad renditions in one SQLite file
(sqlite-utils).

Side effects: reads and writes the database file.
How and why: docs/stitcher.md, "`stitcher.catalog`".
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from stitcher.errors import RigError

MODES = ("ssai", "sgai", "passthrough")
STATUSES = ("active", "paused")


class CatalogError(RigError):
    """A catalog request that cannot be done (unknown channel, duplicate, bad value)."""


def _now_iso() -> str:
    return datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Rung:
    """One variant of a channel's ladder, as its master playlist says (and probing measured)."""

    name: str
    bandwidth: int
    width: int
    height: int
    codecs: str = "avc1.4d401f,mp4a.40.2"
    frame_rate: float = 25.0
    uri: str = ""  # the variant playlist URI as written in the origin master


@dataclass(frozen=True)
class Conditioning:
    """What ads must match to splice into a channel: ladder, segment duration, frame rate, audio."""

    ladder: tuple[Rung, ...]
    segment_duration: float
    frame_rate: float
    audio_rate: int = 48000
    audio_channels: int = 2
    audio_offset: float = (
        0.0  # the channel's interleave: where its sound switches against the picture boundary (s)
    )

    @property
    def key(self) -> str:
        """Channels with the same key share conditioned ads."""
        body = {
            "ladder": [(r.name, r.width, r.height, r.bandwidth) for r in self.ladder],
            "segment": round(self.segment_duration, 6),
            "fps": round(self.frame_rate, 3),
            "audio": (self.audio_rate, self.audio_channels),
            "offset": round(self.audio_offset, 4),
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Channel:
    slug: str
    origin_url: str
    ladder: tuple[Rung, ...]
    segment_duration: float
    status: str = "active"
    scte35_enabled: bool = True
    cue_formats: tuple[str, ...] = ("daterange", "cue-out", "scte35", "oatcls")
    audio_rate: int = 48000
    audio_channels: int = 2
    default_mode: str = "ssai"
    window_seconds: float = (
        3600.0  # longest playlist window the origin serves (break records must outlive it)
    )
    audio_offset: float = (
        0.0  # interleave: sound minus picture at the origin's segment boundaries (s, measured)
    )
    created_at: str = ""
    updated_at: str = ""

    @property
    def frame_rate(self) -> float:
        return self.ladder[0].frame_rate if self.ladder else 25.0

    @property
    def conditioning(self) -> Conditioning:
        return Conditioning(
            self.ladder,
            self.segment_duration,
            self.frame_rate,
            self.audio_rate,
            self.audio_channels,
            self.audio_offset,
        )

    def check(self) -> None:
        if (
            not self.slug
            or not all(c.isalnum() or c == "-" for c in self.slug)
            or self.slug != self.slug.lower()
        ):
            raise CatalogError(
                f"channel name {self.slug!r}: use lower-case letters, digits and '-'"
            )
        if not self.origin_url.startswith(("http://", "https://")):
            raise CatalogError(f"origin URL {self.origin_url!r} must be http(s)")
        if self.default_mode not in MODES:
            raise CatalogError(
                f"default mode {self.default_mode!r} is not one of {', '.join(MODES)}"
            )
        if self.status not in STATUSES:
            raise CatalogError(f"status {self.status!r} is not one of {', '.join(STATUSES)}")
        if not self.ladder:
            raise CatalogError(f"channel {self.slug} has no variants")
        if not 0 < self.segment_duration <= 60:
            raise CatalogError(f"segment duration {self.segment_duration} s is not plausible")
        if not self.window_seconds >= 3 * self.segment_duration:
            raise CatalogError(
                f"a window of {self.window_seconds} s is shorter than three segments"
            )


@dataclass(frozen=True)
class Ad:
    id: str
    title: str
    duration: float  # of the creative itself, seconds
    source: str  # "house" or the path of the file it was added from
    status: str = "ready"  # ready | failed
    error: str = ""
    created_at: str = ""


@dataclass(frozen=True)
class AdRendition:
    """A conditioned HLS VOD playlist of an ad (or the slate, id "slate") for one rung of a
    ladder."""

    ad_id: str
    ladder_key: str
    rendition: str
    bandwidth: int
    path: str  # media-server path, e.g. /ads/house-1/<ladder_key>/540p/index.m3u8
    duration: float  # conditioned duration: whole segments, the last padded with slate
    segments: int
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def _locked(method):
    """Serialise use of the one connection: async callers use the catalog from worker threads."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


class Catalog:
    """The channel database in `<state_dir>/channels.db` (or any path). Thread-safe."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        connection = sqlite3.connect(str(self.path), timeout=10, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        self.db = sqlite_utils.Database(connection)
        self._create()

    @_locked
    def close(self) -> None:
        self.db.conn.close()

    def _create(self) -> None:
        with self.db.conn:
            self.db.table("channels").create(
                {
                    "slug": str, "origin_url": str, "status": str, "scte35_enabled": int,
                    "cue_formats": str, "segment_duration": float, "ladder": str,
                    "audio_rate": int, "audio_channels": int, "default_mode": str,
                    "window_seconds": float, "audio_offset": float,
                    "created_at": str, "updated_at": str,
                },
                pk="slug",
                if_not_exists=True,
            )  # fmt: skip
            self.db.table("ads").create(
                {
                    "id": str,
                    "title": str,
                    "duration": float,
                    "source": str,
                    "status": str,
                    "error": str,
                    "created_at": str,
                },
                pk="id",
                if_not_exists=True,
            )
            self.db.table("ad_renditions").create(
                {
                    "ad_id": str,
                    "ladder_key": str,
                    "rendition": str,
                    "bandwidth": int,
                    "path": str,
                    "duration": float,
                    "segments": int,
                    "extra": str,
                },
                pk=("ad_id", "ladder_key", "rendition"),
                if_not_exists=True,
            )

    # ------------------------------------------------------------------ channels

    @staticmethod
    def _channel_row(channel: Channel) -> dict[str, Any]:
        row = asdict(channel)
        row["ladder"] = json.dumps([asdict(r) for r in channel.ladder])
        row["cue_formats"] = json.dumps(list(channel.cue_formats))
        row["scte35_enabled"] = int(channel.scte35_enabled)
        return row

    @staticmethod
    def _channel(row: dict[str, Any]) -> Channel:
        return Channel(
            **{
                **row,
                "window_seconds": row.get("window_seconds") or 3600.0,
                "audio_offset": row.get("audio_offset") or 0.0,
                "ladder": tuple(Rung(**r) for r in json.loads(row["ladder"])),
                "cue_formats": tuple(json.loads(row["cue_formats"])),
                "scte35_enabled": bool(row["scte35_enabled"]),
            }
        )

    @_locked
    def put_channel(self, channel: Channel, replace_existing: bool = True) -> Channel:
        """Add or update a channel; `replace_existing=False` refuses a duplicate."""
        channel.check()
        existing = self.find_channel(channel.slug)
        if existing is not None and not replace_existing:
            raise CatalogError(
                f"channel {channel.slug} already exists (origin {existing.origin_url})"
            )
        now = _now_iso()
        stored = replace(
            channel,
            created_at=existing.created_at if existing else (channel.created_at or now),
            updated_at=now,
        )
        with self.db.conn:
            self.db.table("channels").upsert(self._channel_row(stored), pk="slug", alter=True)
        return stored

    @_locked
    def find_channel(self, slug: str) -> Channel | None:
        rows = list(self.db.table("channels").rows_where("slug = ?", [slug]))
        return self._channel(rows[0]) if rows else None

    @_locked
    def channel(self, slug: str) -> Channel:
        found = self.find_channel(slug)
        if found is None:
            known = ", ".join(c.slug for c in self.channels()) or "none"
            raise CatalogError(f"no channel {slug!r} (channels: {known})")
        return found

    @_locked
    def channels(self) -> list[Channel]:
        return [self._channel(row) for row in self.db.table("channels").rows_where(order_by="slug")]

    @_locked
    def remove_channel(self, slug: str) -> None:
        self.channel(slug)
        with self.db.conn:
            self.db.table("channels").delete(slug)

    # ------------------------------------------------------------------ ads

    @_locked
    def put_ad(
        self, ad: Ad, renditions: Iterable[AdRendition] = (), replace_renditions: bool = False
    ) -> Ad:
        """Register an ad with its conditioned renditions, in one transaction (all or nothing).

        `replace_renditions` drops the ad's previous renditions first (a replaced creative)."""
        stored = replace(ad, created_at=ad.created_at or _now_iso())
        with self.db.conn:
            if replace_renditions:
                self.db.table("ad_renditions").delete_where("ad_id = ?", [ad.id])
            self.db.table("ads").upsert(asdict(stored), pk="id")
            for rendition in renditions:
                row = asdict(rendition)
                row["extra"] = json.dumps(rendition.extra)
                self.db.table("ad_renditions").upsert(row, pk=("ad_id", "ladder_key", "rendition"))
        return stored

    @_locked
    def find_ad(self, ad_id: str) -> Ad | None:
        rows = list(self.db.table("ads").rows_where("id = ?", [ad_id]))
        return Ad(**rows[0]) if rows else None

    @_locked
    def ads(self, status: str | None = None) -> list[Ad]:
        where, args = ("status = ?", [status]) if status else (None, [])
        return [Ad(**row) for row in self.db.table("ads").rows_where(where, args, order_by="id")]

    @_locked
    def ad_renditions(self, ladder_key: str, ad_id: str | None = None) -> list[AdRendition]:
        where, args = "ladder_key = ?", [ladder_key]
        if ad_id is not None:
            where, args = where + " and ad_id = ?", args + [ad_id]
        return [
            AdRendition(**{**row, "extra": json.loads(row["extra"] or "{}")})
            for row in self.db.table("ad_renditions").rows_where(
                where, args, order_by="ad_id, bandwidth desc"
            )
        ]

    @_locked
    def remove_ad(self, ad_id: str) -> None:
        if self.find_ad(ad_id) is None:
            raise CatalogError(f"no ad {ad_id!r}")
        with self.db.conn:
            self.db.table("ad_renditions").delete_where("ad_id = ?", [ad_id])
            self.db.table("ads").delete(ad_id)
