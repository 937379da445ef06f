"""The pure model of one player's position: which variant it picks, where it starts, its buffer and
playhead.

Side effects: none.
How and why: docs/rig.md, "`rig.playhead`".
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from stitcher.playlist import MasterPlaylist, MediaPlaylist, Variant, format_datetime
from stitcher.sessions import (
    LIVE_SYNC_TARGETS,
)  # hls.js liveSyncDurationCount: where a player starts

EPSILON = 1e-6
_GENERIC_NAMES = {"index", "playlist", "prog_index", "chunklist", "media", "stream"}


def variant_name(uri: str) -> str:
    """A variant's short name: `hi` for `hi.m3u8` or `hi/index.m3u8`."""
    parts = [p for p in urlsplit(uri).path.split("/") if p]
    if not parts:
        return uri
    stem = parts[-1].removesuffix(".m3u8")
    return parts[-2] if stem in _GENERIC_NAMES and len(parts) > 1 else stem


def choose_variant(master: MasterPlaylist, policy: str, rng: random.Random) -> Variant:
    """`policy`: 'random', 'lowest', 'highest' (by BANDWIDTH), or a name, RESOLUTION or
    BANDWIDTH."""
    variants = list(master.variants)
    if not variants:
        raise LookupError("the master playlist has no variants")
    if policy == "random":
        return rng.choice(variants)
    if policy in ("lowest", "highest"):
        ranked = sorted(variants, key=lambda v: v.attributes.number("BANDWIDTH") or 0)
        return ranked[0] if policy == "lowest" else ranked[-1]
    for v in variants:
        if policy in (
            variant_name(v.uri),
            v.uri,
            v.attributes.text("RESOLUTION"),
            v.attributes.raw("BANDWIDTH"),
        ):
            return v
    names = ", ".join(variant_name(v.uri) for v in variants)
    raise LookupError(f"no variant {policy!r} (variants: {names})")


@dataclass(frozen=True)
class _Piece:
    """A downloaded segment in the buffer."""

    msn: int
    duration: float
    pdt: float | None
    kind: str
    ad_id: str | None


@dataclass
class _Break:
    start_msn: int
    start_pdt: float | None
    joined_inside: bool  # the viewer's playback began inside this break
    ads: list[str] = field(default_factory=list)
    ad_seconds: float = 0.0
    slate_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_msn": self.start_msn,
            "start": format_datetime(self.start_pdt) if self.start_pdt else None,
            "joined_inside": self.joined_inside,
            "ads": list(self.ads),
            "ad_seconds": round(self.ad_seconds, 3),
            "slate_seconds": round(self.slate_seconds, 3),
        }


class Playhead:
    """The player model, pure: a buffer of downloaded segments and a playhead moving with the time
    given."""

    def __init__(self) -> None:
        self.buffer: deque[_Piece] = deque()
        self.position = 0.0  # seconds into buffer[0]
        self.at: float | None = None  # when the playhead was last moved (None: not started)
        self.stalled_since: float | None = None
        self.stalls: list[tuple[float, float]] = []  # (start, seconds)
        self.breaks: list[_Break] = []
        self.endlist = False
        self.ended = False
        self._open: _Break | None = None

    @property
    def current(self) -> _Piece | None:
        return self.buffer[0] if self.at is not None and self.buffer else None

    def pdt(self) -> float | None:
        piece = self.current
        return piece.pdt + self.position if piece is not None and piece.pdt is not None else None

    def buffered(self) -> float:
        return (
            max(0.0, sum(p.duration for p in self.buffer) - self.position)
            if self.at is not None
            else 0.0
        )

    def stall_seconds(self, now: float) -> float:
        ongoing = now - self.stalled_since if self.stalled_since is not None else 0.0
        return sum(s for _, s in self.stalls) + ongoing

    def stall_count(self) -> int:
        return len(self.stalls) + (self.stalled_since is not None)

    def advance(self, now: float) -> None:
        """Move the playhead to `now`; a stall begins where it passes the end of the buffered
        media."""
        if self.at is None or self.stalled_since is not None or self.ended:
            return
        elapsed, self.at = max(0.0, now - self.at), now
        while self.buffer:
            remain = self.buffer[0].duration - self.position
            if elapsed <= remain:
                self.position += elapsed
                return
            elapsed -= remain
            if len(self.buffer) > 1:
                self.buffer.popleft()
                self.position = 0.0
                self._enter(self.buffer[0])
                continue
            self.position = self.buffer[0].duration
            if elapsed > EPSILON:
                if self.endlist:
                    self.ended = True
                else:
                    self.stalled_since = now - elapsed
            return

    def append(self, piece: _Piece, now: float, offset: float = 0.0) -> None:
        """A segment arrived at `now`; the first one starts playback `offset` seconds into it."""
        self.advance(now)
        self.buffer.append(piece)
        if self.at is None:
            self.at, self.position = now, min(offset, piece.duration)
            self._enter(piece, first=True)
            return
        if self.stalled_since is not None:
            self.stalls.append((self.stalled_since, now - self.stalled_since))
            self.stalled_since, self.at = None, now
        if len(self.buffer) > 1 and self.position >= self.buffer[0].duration - EPSILON:
            self.buffer.popleft()
            self.position = 0.0
            self._enter(self.buffer[0])

    def _enter(self, piece: _Piece, first: bool = False) -> None:
        """Bookkeeping as the playhead enters a segment: which break and which ad."""
        if piece.kind == "content":
            self._open = None
            return
        if self._open is None:
            self._open = _Break(piece.msn, piece.pdt, first)
            self.breaks.append(self._open)
        if piece.kind == "ad":
            if piece.ad_id is not None and (
                not self._open.ads or self._open.ads[-1] != piece.ad_id
            ):
                self._open.ads.append(piece.ad_id)
            self._open.ad_seconds += piece.duration
        else:
            self._open.slate_seconds += piece.duration


def live_start(playlist: MediaPlaylist) -> tuple[int, float]:
    """(segment index, seconds into it) where playback starts: 3 target durations behind the live
    edge."""
    position = max(0.0, playlist.duration - LIVE_SYNC_TARGETS * playlist.target_duration)
    elapsed = 0.0
    for index, segment in enumerate(playlist.segments):
        if elapsed + segment.duration > position + EPSILON:
            return index, max(0.0, position - elapsed)
        elapsed += segment.duration
    return max(0, len(playlist.segments) - 1), 0.0
