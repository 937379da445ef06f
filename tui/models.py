"""What the TUI shows, as frozen values, and the pure functions that build them from the rig's APIs.

The poller (`tui.sources`) fetches playlists and JSON over HTTP; `tui.windows` turns playlists
into segment views, and this module turns the JSON answers into small immutable views
(`BreakView`, `SpliceView`, `SessionView`, `ViewerView`) and holds the one `Snapshot` per poll. The
widgets only render these values. Nothing here does I/O, reads a clock or imports textual: every
function is a pure function of its arguments (`now` is passed in).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stitcher.playlist import parse_datetime
from tui.windows import SegmentView, WindowRow, window_rows


@dataclass(frozen=True)
class Selection:
    """What the live windows show: one channel, one variant (rung), one stitcher mode."""

    channel: str
    variant: str
    mode: str = "ssai"


@dataclass(frozen=True)
class PodItemView:
    id: str
    kind: str
    duration: float


@dataclass(frozen=True)
class BreakView:
    """A break as GET /v1/channels/{channel}/breaks answers it (the fields the TUI shows)."""

    event_id: str
    source: str
    state: str
    start: float | None
    ad_start: float | None
    end: float | None
    duration: float | None
    items: tuple[PodItemView, ...]

    def remaining(self, now: float) -> str:
        """Seconds left (active) or until the ads start (upcoming), computed from the clock."""
        if self.ad_start is not None and now < self.ad_start:
            return f"in {math.ceil(self.ad_start - now)} s"
        if self.end is not None and now < self.end:
            return f"{math.ceil(self.end - now)} s left"
        return "ended"

    def item_at(self, t: float) -> PodItemView | None:
        """The pod item playing at time `t` (None outside the ads; slate after the pod)."""
        if self.ad_start is None or self.end is None or not (self.ad_start <= t < self.end):
            return None
        offset = self.ad_start
        for item in self.items:
            if t < offset + item.duration:
                return item
            offset += item.duration
        return PodItemView("slate", "slate", self.end - offset)


@dataclass(frozen=True)
class SpliceView:
    """A splice at the origin emulator (GET /control/{channel}/splices)."""

    id: str
    source: str
    format: str
    command: str
    state: str
    start: float | None
    duration: float | None


@dataclass(frozen=True)
class SessionView:
    """A real player the stitcher has seen (GET /v1/sessions)."""

    id: str
    client: str
    channel: str
    mode: str
    variant: str
    last_seen: float | None
    msn: int | None
    playhead: float | None
    kind: str | None = None  # the stitcher's own estimate (content|ad|slate), when it gives one
    ad: str | None = None


@dataclass(frozen=True)
class ComponentView:
    """One process of the rig as the status line shows it."""

    name: str
    state: str  # starting | running | restarting | stopped
    restarts: int = 0


@dataclass(frozen=True)
class TopologyView:
    """The rig's shape: its components, the stitcher's workers and the edge's hit ratio (None
    without an edge, or before it answered anything cacheable)."""

    components: tuple[ComponentView, ...]
    workers: int = 1
    edge_hit_ratio: float | None = None

    def describe(self) -> str:
        parts = []
        for c in self.components:
            name = (
                f"stitcher×{self.workers}" if c.name == "stitcher" and self.workers > 1 else c.name
            )
            mark = "" if c.state == "running" else f" {c.state}"
            restarts = f" ↻{c.restarts}" if c.restarts else ""
            parts.append(f"{name}{mark}{restarts}")
        if self.edge_hit_ratio is not None:
            parts.append(f"edge hits {self.edge_hit_ratio:.1%}")
        return " · ".join(parts)


@dataclass(frozen=True)
class ViewerView:
    """A simulated viewer of the rig's fleet (the `Viewers` protocol's snapshot)."""

    id: str
    variant: str
    state: str  # content | ad | slate | stalled | joining
    ad_id: str | None
    playhead: float | None
    msn: int | None
    stalls: int
    violations: int


@dataclass(frozen=True)
class SourceHealth:
    """How one endpoint answered in the last poll: `ok`, or the error in the server's words."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class Snapshot:
    """Everything one poll saw. A field is None when its source failed (see `health`) or is
    absent."""

    selection: Selection
    now: float
    origin: tuple[SegmentView, ...] | None
    stitched: tuple[SegmentView, ...] | None
    breaks: tuple[BreakView, ...] | None
    splices: tuple[SpliceView, ...] | None
    sessions: tuple[SessionView, ...] | None
    viewers: tuple[ViewerView, ...] | None
    health: tuple[SourceHealth, ...]
    topology: TopologyView | None = None

    @property
    def rows(self) -> tuple[WindowRow, ...]:
        return window_rows(self.origin or (), self.stitched or ())

    @property
    def active_break(self) -> BreakView | None:
        return next((b for b in self.breaks or () if b.state == "active"), None)

    @property
    def failures(self) -> tuple[SourceHealth, ...]:
        return tuple(h for h in self.health if not h.ok)


# --------------------------------------------------------------------------- values


def epoch(value: Any) -> float | None:
    """Epoch seconds from a number or an ISO-8601 date-time with a zone; None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return parse_datetime(value).timestamp()
        except ValueError:
            return None
    return None


def clock_text(t: float | None, millis: bool = False) -> str:
    """`HH:MM:SS` (UTC) of epoch seconds, `-` for None."""
    if t is None:
        return "-"
    stamp = datetime.fromtimestamp(round(t, 3), tz=UTC)
    text = stamp.strftime("%H:%M:%S")
    return text + f".{stamp.microsecond // 1000:03d}" if millis else text


def date_text(t: float) -> str:
    """`2026-01-02 00:00:04 UTC`: the header's clock."""
    return datetime.fromtimestamp(int(t), tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def relative_to_live(playhead: float | None, now: float) -> str:
    """How far a playhead is behind live (`live-18.0s`); `-` when unknown."""
    if playhead is None:
        return "-"
    behind = now - playhead
    return "live" if abs(behind) < 0.05 else f"live{-behind:+.1f}s"


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# --------------------------------------------------------------------------- JSON answers


def _items(data: Any, key: str) -> list[Mapping[str, Any]]:
    values = data.get(key) if isinstance(data, Mapping) else None
    return [v for v in values if isinstance(v, Mapping)] if isinstance(values, list) else []


def break_views(data: Any) -> tuple[BreakView, ...]:
    """GET /v1/channels/{channel}/breaks -> break views, in start order."""
    views = []
    for entry in _items(data, "breaks"):
        decision = entry.get("decision") if isinstance(entry.get("decision"), Mapping) else {}
        items = tuple(
            PodItemView(
                _text(i.get("id")), _text(i.get("kind") or "ad"), _number(i.get("duration")) or 0.0
            )
            for i in _items(decision, "items")
        )
        views.append(
            BreakView(
                event_id=_text(entry.get("eventId")),
                source=_text(entry.get("source")),
                state=_text(entry.get("state")),
                start=epoch(entry.get("startTime")),
                ad_start=epoch(entry.get("adStart")),
                end=epoch(entry.get("endTime")),
                duration=_number(entry.get("duration")),
                items=items,
            )
        )
    return tuple(sorted(views, key=lambda b: (b.ad_start or b.start or 0.0, b.event_id)))


def splice_views(data: Any) -> tuple[SpliceView, ...]:
    """GET /control/{channel}/splices -> splice views."""
    return tuple(
        SpliceView(
            id=_text(entry.get("id")),
            source=_text(entry.get("source")),
            format=_text(entry.get("format")),
            command=_text(entry.get("command")),
            state=_text(entry.get("state")),
            start=epoch(entry.get("start")),
            duration=_number(entry.get("duration")),
        )
        for entry in _items(data, "splices")
    )


def session_views(data: Any, hide_agent: str = "") -> tuple[SessionView, ...]:
    """GET /v1/sessions -> session views (whatever fields are there; missing ones are blank).
    Sessions whose id contains `hide_agent` (the TUI's own User-Agent: its window polls) are left
    out."""
    return tuple(
        SessionView(
            id=_text(entry.get("id")),
            client=_text(entry.get("client")),
            channel=_text(entry.get("channel")),
            mode=_text(entry.get("mode")),
            variant=_text(entry.get("variant")),
            last_seen=epoch(entry.get("last_seen")),
            msn=_int(entry.get("msn")),
            playhead=epoch(entry.get("playhead")),
            kind=_text(entry.get("kind")) or None,
            ad=_text(entry.get("ad")) or None,
        )
        for entry in _items(data, "sessions")
        if not (hide_agent and hide_agent in _text(entry.get("id")))
    )


def viewer_views(viewers: Iterable[Any]) -> tuple[ViewerView, ...]:
    """The fleet's snapshot objects -> viewer views (attributes read leniently)."""
    return tuple(
        ViewerView(
            id=_text(getattr(v, "id", "?")),
            variant=_text(getattr(v, "variant", "")),
            state=_text(getattr(v, "state", "")),
            ad_id=getattr(v, "ad_id", None),
            playhead=epoch(getattr(v, "playhead", None)),
            msn=_int(getattr(v, "msn", None)),
            stalls=_int(getattr(v, "stalls", 0)) or 0,
            violations=_int(getattr(v, "violations", 0)) or 0,
        )
        for v in viewers
    )


def locate(
    session: SessionView,
    selection: Selection,
    breaks: Sequence[BreakView],
    stitched: Sequence[SegmentView],
) -> tuple[str, str | None]:
    """(`content`|`ad`|`slate`|`?`, ad id) for a real player: the stitcher's own estimate when it
    gives one, else by its MSN in the stitched window (same channel and SSAI), else by its playhead
    against the channel's breaks."""
    if session.kind:
        return session.kind, session.ad
    if session.channel != selection.channel:
        return "?", None
    if session.msn is not None and session.mode == "ssai" and selection.mode == "ssai":
        for segment in stitched:
            if segment.msn == session.msn:
                return segment.kind, segment.ad_id
    if session.playhead is None:
        return "?", None
    for view in breaks:
        item = view.item_at(session.playhead)
        if item is not None:
            return ("slate", None) if item.kind == "slate" else ("ad", item.id)
    return "content", None
