"""A live window as the TUI shows it: segments classified (content, ad, slate), cue tags as markers.

Pure functions from the typed playlist model (`stitcher.playlist`) to frozen views: `segment_views`
turns a media playlist into `SegmentView`s (MSN, duration, kind and ad id from the URI, PDT,
discontinuities, cue markers for every playlist cue format), `window_rows` lines the origin's and
the stitcher's windows up by media sequence number. No I/O, no clock, no textual.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stitcher.playlist import MediaPlaylist, Tag, segment_kind

INTERSTITIAL = "com.apple.hls.interstitial"


@dataclass(frozen=True)
class SegmentView:
    """One segment of a window: its MSN, duration, what it is (content, ad, slate) and its marks."""

    msn: int
    duration: float
    kind: str  # "content" | "ad" | "slate"
    ad_id: str | None
    pdt: float | None  # epoch seconds
    discontinuities: int
    markers: tuple[str, ...]


@dataclass(frozen=True)
class WindowRow:
    """One media sequence number, with the origin's and the stitcher's segment (either may be
    absent)."""

    msn: int
    origin: SegmentView | None
    stitched: SegmentView | None

    @property
    def pdt(self) -> float | None:
        for side in (self.origin, self.stitched):
            if side is not None and side.pdt is not None:
                return side.pdt
        return None

    @property
    def pdt_mismatch(self) -> bool:
        """Both sides carry a PDT and they differ (T1 says they never should)."""
        if (
            self.origin is None
            or self.stitched is None
            or self.origin.pdt is None
            or self.stitched.pdt is None
        ):
            return False
        return abs(self.origin.pdt - self.stitched.pdt) > 0.0005


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:g}s"


def tag_marker(tag: Tag) -> str | None:
    """A short label for a cue tag (None for tags the windows do not show)."""
    name = tag.name
    try:
        if name == "EXT-X-DATERANGE":
            attrs = tag.attributes()
            ident = attrs.text("ID") or "?"
            if attrs.text("CLASS") == INTERSTITIAL:
                return f"INTERSTITIAL {ident} {_seconds(attrs.number('DURATION'))}"
            if "SCTE35-OUT" in attrs:
                return (
                    f"DATERANGE {ident} OUT"
                    f" {_seconds(attrs.number('PLANNED-DURATION') or attrs.number('DURATION'))}"
                )
            if "SCTE35-IN" in attrs:
                return f"DATERANGE {ident} IN"
            if "SCTE35-CMD" in attrs:
                return f"DATERANGE {ident} CMD"
            return f"DATERANGE {ident}"
        if name == "EXT-X-CUE-OUT":
            value = (tag.value or "").strip()
            seconds = _number(tag.attributes().text("DURATION")) if "=" in value else _number(value)
            return f"CUE-OUT {f'{seconds:g}' if seconds is not None else value}".strip()
        if name == "EXT-X-CUE-OUT-CONT":
            value = (tag.value or "").strip()
            if "=" in value:
                attrs = tag.attributes()
                value = f"{attrs.text('ElapsedTime') or '?'}/{attrs.text('Duration') or '?'}"
            return f"CUE-OUT-CONT {value}".strip()
        if name == "EXT-X-CUE-IN":
            return "CUE-IN"
        if name == "EXT-X-SCTE35":
            attrs = tag.attributes()
            if attrs.text("CUE-IN") == "YES":
                return "SCTE35 IN"
            out = attrs.text("CUE-OUT")
            return f"SCTE35 {'OUT' if out == 'YES' else out or ''}".strip()
        if name == "EXT-OATCLS-SCTE35":
            return "OATCLS-SCTE35"
        if name == "EXT-X-SPLICEPOINT-SCTE35":
            return "SPLICEPOINT-SCTE35"
    except ValueError:
        return f"{name} (unreadable)"
    return None


def segment_views(playlist: MediaPlaylist) -> tuple[SegmentView, ...]:
    """The window's segments with their kind, PDT and cue markers; tags after the last segment
    (a DATERANGE announced ahead) are shown on the last one, prefixed with `next`."""
    views: list[SegmentView] = []
    times = playlist.segment_times()
    for index, (msn, _, segment) in enumerate(playlist.numbered()):
        kind, ad_id = segment_kind(segment.uri)
        markers = tuple(m for m in (tag_marker(t) for t in segment.tags) if m)
        pdt = None if times is None else times[index]
        views.append(
            SegmentView(
                msn, segment.duration, kind, ad_id, pdt, int(segment.discontinuity), markers
            )
        )
    trailing = tuple(f"next {m}" for m in (tag_marker(t) for t in playlist.trailing_tags) if m)
    if trailing and views:
        last = views[-1]
        views[-1] = SegmentView(
            last.msn,
            last.duration,
            last.kind,
            last.ad_id,
            last.pdt,
            last.discontinuities,
            last.markers + trailing,
        )
    return tuple(views)


def window_rows(
    origin: Sequence[SegmentView], stitched: Sequence[SegmentView]
) -> tuple[WindowRow, ...]:
    """One row per media sequence number in either window, oldest first."""
    by_origin = {s.msn: s for s in origin}
    by_stitched = {s.msn: s for s in stitched}
    return tuple(
        WindowRow(msn, by_origin.get(msn), by_stitched.get(msn))
        for msn in sorted(by_origin.keys() | by_stitched.keys())
    )
