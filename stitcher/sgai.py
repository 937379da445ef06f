"""SGAI: the pure core of server-guided ad insertion with HLS Interstitials (bis Appendix D).

Side effects: none.
How and why: docs/stitcher.md, "`stitcher.sgai`".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from urllib.parse import quote as url_quote
from urllib.parse import urljoin

from stitcher.breaks import BreakRecord
from stitcher.catalog import Rung
from stitcher.errors import RigError
from stitcher.playlist import (
    AttributeList,
    MasterPlaylist,
    MediaPlaylist,
    Tag,
    Variant,
    format_datetime,
    format_decimal,
    quote,
)
from stitcher.pod import PodItem
from stitcher.ssai import SsaiError, pdts

CLASS = "com.apple.hls.interstitial"


class SgaiError(RigError):
    """A request the SGAI core cannot answer; `status` is the HTTP status for the app."""

    status = 400


class NoInterstitial(SgaiError):
    """The break has no interstitial (cancelled)."""

    status = 404


def interstitial_id(record: BreakRecord) -> str:
    """The DATERANGE ID: one per break instance, never reused (an event id may come back later)."""
    ident = f"ad-{record.event_id}-{round(record.created * 1000)}"
    try:
        quote(ident)
    except ValueError:
        raise SgaiError(
            f"break id {record.event_id!r} cannot be written as a DATERANGE ID"
        ) from None
    return ident


def interstitial_duration(record: BreakRecord, segment_duration: float) -> float:
    """DURATION of the break's interstitial: `interstitialEnd - adStart`, in whole milliseconds.

    Every record time is on the origin's grid at millisecond precision; an interstitial of less
    than half a segment cannot come from the ledger and is refused."""
    duration = round(record.sgai_end - record.ad_start, 3)
    if not duration >= segment_duration / 2:
        raise SgaiError(f"break {record.event_id}: an interstitial of {duration!r} s is impossible")
    return duration


def asset_list_uri(record: BreakRecord) -> str:
    """X-ASSET-LIST, relative to the media playlist (`/sgai/{channel}/{variant}.m3u8`)."""
    event = url_quote(record.event_id, safe="")
    return (
        f"breaks/{event}/assets.json"
        f"?_HLS_interstitial_id={url_quote(interstitial_id(record), safe='')}"
    )


def daterange(record: BreakRecord, segment_duration: float) -> Tag:
    """The interstitial's EXT-X-DATERANGE, attributes in a fixed order, numbers with fixed
    decimals."""
    duration = format_decimal(interstitial_duration(record, segment_duration))
    attributes = AttributeList.of(
        ("ID", quote(interstitial_id(record))),
        ("CLASS", quote(CLASS)),
        ("START-DATE", quote(format_datetime(record.ad_start))),
        ("DURATION", duration),
        ("X-ASSET-LIST", quote(asset_list_uri(record))),
        ("X-RESUME-OFFSET", duration),
        ("X-PLAYOUT-LIMIT", duration),
        ("X-RESTRICT", quote("SKIP,JUMP")),
        ("X-SNAP", quote("OUT,IN")),
    )
    return Tag("EXT-X-DATERANGE", attributes.render())


def interleave(
    origin: MediaPlaylist,
    origin_url: str,
    records: Sequence[BreakRecord],
    segment_duration: float,
    late: Mapping[str, float] | None = None,
) -> MediaPlaylist:
    """The SGAI media playlist for one variant (see the module docstring).

    A break's tag first appears on the first segment published after the break was recorded (the
    segment whose end is after `created`: every replica finds the same one), ahead of its
    START-DATE, so a player learns of the interstitial and loads its asset list before it reaches
    the break (hls.js looks `interstitialLiveLookAhead`, 10 s, ahead; told only with the break's
    first segment, it has already buffered the content up to the break and stalls there) - after
    an earlier break, not before the segment starting one segment after its interstitial's end
    (`announce_from`). The tag stays on that segment while it is in the window, then on the
    window's first segment while the window still reaches into the interstitial.

    `late` (a break's `entry` -> epoch seconds, from `late_announcements`): a break this replica
    learnt of too late for that segment goes on the first segment ending after the given time."""
    late = late or {}
    segments = [replace(s, uri=urljoin(origin_url, s.uri)) for s in origin.segments]
    if not segments:
        return replace(origin, segments=())
    tolerance = segment_duration / 2
    try:
        times = pdts(origin)
    except SsaiError as exc:
        raise SgaiError(str(exc).replace("breaks", "interstitials")) from None
    ends = [t + s.duration for t, s in zip(times, segments)]
    for record in sorted(records, key=lambda r: (r.ad_start, r.created)):
        if record.cancelled or times[0] >= record.sgai_end - tolerance:
            continue  # no interstitial, or the window is past it
        start = announce_from(record, records, segment_duration)
        index = next(
            (
                i
                for i, (t, end) in enumerate(zip(times, ends))
                if end > max(record.created, late.get(record.entry, 0.0))
                and (start is None or t >= start - tolerance)
            ),
            None,
        )
        if index is None:
            continue  # not announced yet: the segment that first carries it is not published
        segments[index] = replace(
            segments[index], tags=segments[index].tags + (daterange(record, segment_duration),)
        )
    return replace(origin, segments=tuple(segments))


def late_announcements(
    records: Sequence[BreakRecord], seen: Collection[str], served_end: float | None
) -> dict[str, float]:
    """The breaks among `records` that this replica sees for the first time (not in `seen`, the
    `entry`s it saw before) although their tag belongs on a segment it has already served without
    it: the first segment ending after `created` ends no later than `served_end`, the newest
    segment end of its SGAI output so far. Each is to be announced after `served_end` instead.

    Every replica reading the KV in time puts the tag on that first segment; one that could not
    (its reads failed, e.g. while redis-server restarts) has meanwhile served playlists without
    the tag, and adding it there now would change what was served (RFC 8216bis 6.2.1: a live
    playlist only appends). A replica that served nothing yet (`served_end` None: just started)
    follows the shared rule."""
    if served_end is None:
        return {}
    return {
        r.entry: served_end
        for r in records
        if r.entry not in seen and not r.cancelled and r.created < served_end
    }


def announce_from(
    record: BreakRecord, records: Sequence[BreakRecord], segment_duration: float
) -> float | None:
    """The earliest PDT of a segment that may carry the break's tag because of an earlier break
    (None: no such bound, the tag goes on the first segment published after the break was recorded).

    After an earlier break whose interstitial ends before this one starts, the tag waits for the
    segment that starts one segment after that end: the playlist that first reaches past the
    earlier interstitial's resumption (by more than half a second) must not yet hold this
    interstitial. hls.js 1.7.4, having buffered an in-place interstitial to its end before the
    live edge reached the resumption point, pauses primary loading ("Resume primary loading when
    live passes ..." in `InterstitialsController.startLoadingPrimaryAt`) and restarts it in
    `onLevelUpdated` once `bufferedPos + 0.5 < details.edge` - but only when the primary item being
    buffered is open-ended (`bufferingItem.end === Infinity`). With the next interstitial already in
    the playlist, that item ends at the next break, nothing loads the content after the earlier
    break, and playback stops at the end of its asset's media until the DATERANGE leaves the window
    (measured: the second of three /cue breaks of a single ad, tests/test_browser.py). An ad pod of
    several assets hid this, because the asset change restarts primary loading.

    Only breaks recorded before this one (`created`, strictly) and not cancelled count, so a tag
    that has been served never moves: an earlier break's tag is always published no later than
    this one's, after which its interstitial's end is fixed (an early return keeps it,
    `stitcher.breaks.shorten`) and it can no longer be cancelled (a cancel happens before its
    slots begin, while this tag still waits for the segment after its end). A cancel can let this
    tag appear on a segment already in the window, never take it away. Back-to-back breaks (no
    primary content between them) are not held back. When breaks are at least two segments apart
    the tag still comes before this break's first segment; with one segment between them it comes
    with it. A break recorded later than this one and placed before it is not considered (this
    tag may already have been served), nor can a player that misses the one playlist in which the
    live edge first passes the earlier resumption point be helped."""
    tolerance = segment_duration / 2
    ends = [
        r.sgai_end
        for r in records
        if r is not record
        and not r.cancelled
        and r.created < record.created
        and r.sgai_end < record.ad_start - tolerance
    ]
    return round(max(ends) + segment_duration, 3) if ends else None


# --------------------------------------------------------------------------- asset lists


def _pieces(total_ms: int, chunk_ms: int) -> list[int]:
    """`total_ms` cut into pieces of at most `chunk_ms` (whole ones first)."""
    whole, rest = divmod(total_ms, chunk_ms)
    return [chunk_ms] * whole + ([rest] if rest else [])


def asset_list(
    record: BreakRecord,
    segment_duration: float,
    asset_uri: Callable[[int], str],
    start_offset: float | str | None = None,
    slate_media: float | None = None,
) -> dict:
    """The HLS Interstitials asset list of the break: `{"ASSETS": [{"URI", "DURATION"}, ...]}`.

    The pod items in order, the last one cut so that the DURATIONs add up to the DATERANGE's
    DURATION exactly (computed in whole milliseconds); filler slate (`asset_uri(len(items))`, as
    `stitcher.breaks.Slot.item`) covers what the pod leaves. An ad item lasts as long as its
    conditioned media (whole segments, `stitcher.decision`); a slate item is whatever the ads left
    of the break, while the slate media is `slate_media` seconds long (the catalog's rendition
    duration; None: one segment, always safe since conditioned media is whole segments), so slate
    is repeated as several assets, each no longer than the media it points at. `asset_uri(k)` is
    the absolute URI of pod item k's multivariant playlist (`item_master`).

    `_HLS_start_offset` (a live session starting inside the interstitial, I9): the answer is the
    full list. hls.js lays the assets out from the interstitial's start by their cumulative
    DURATIONs (`InterstitialsController.onAssetListLoaded`: startOffset = sum of the earlier
    DURATIONs), then itself starts the asset covering the join position at the right time
    (`InterstitialsSchedule.findAssetIndex`, and `createAssetPlayer` sets the asset's
    startPosition to timelinePos - asset.timelineStart). Dropping the assets before the offset
    would shift every later asset back to the interstitial's start and shorten the sum, so hls.js
    would play the wrong ad at the wrong time or abandon the break ("no longer within playback
    range"); the JSON has no field to say that assets were left out. An offset at or past the end
    leaves nothing to play: empty ASSETS, which hls.js answers by resuming the primary content
    (I10). A non-numeric, negative or infinite offset (a number or the query's text) is an
    `SgaiError`.
    """
    if record.cancelled:
        raise NoInterstitial(f"break {record.event_id} was cancelled: it has no interstitial")
    total = round(interstitial_duration(record, segment_duration) * 1000)
    if start_offset is not None:
        try:
            offset = float(start_offset)
        except (TypeError, ValueError):
            offset = math.nan
        if not (math.isfinite(offset) and offset >= 0):
            raise SgaiError(
                f"_HLS_start_offset={start_offset!r} is not a finite, non-negative number of"
                " seconds"
            )
        if round(offset * 1000) >= total:
            return {"ASSETS": []}
    slate_ms = round((slate_media if slate_media is not None else segment_duration) * 1000)
    if slate_ms <= 0:
        raise SgaiError(f"slate media of {slate_media!r} s cannot fill a break")
    planned: list[tuple[int, int]] = []  # (item index, milliseconds)
    for k, item in enumerate(record.pod.items):
        item_ms = round(item.duration * 1000)
        planned += [
            (k, ms) for ms in (_pieces(item_ms, slate_ms) if item.kind == "slate" else [item_ms])
        ]
    filled = sum(ms for _, ms in planned)
    if filled < total:
        planned += [(len(record.pod.items), ms) for ms in _pieces(total - filled, slate_ms)]
    assets, left = [], total
    for k, ms in planned:
        take = min(ms, left)
        if take <= 0:
            break
        assets.append({"URI": asset_uri(k), "DURATION": take / 1000})
        left -= take
    return {"ASSETS": assets}


# --------------------------------------------------------------------------- item playlists


def rendition_url(item: PodItem, bandwidth: int) -> str:
    """The item's playlist for a rung: the same bandwidth, else the nearest."""
    if not item.variants:
        raise SgaiError(f"pod item {item.id} has no renditions")
    return item.playlist_for(bandwidth)


def item_master(channel_ladder: Sequence[Rung], item: PodItem) -> MasterPlaylist:
    """A multivariant playlist for one pod item: one EXT-X-STREAM-INF per rung of the channel."""
    if not channel_ladder:
        raise SgaiError("a channel without a ladder has no item playlists")
    variants = []
    for rung in channel_ladder:
        attributes = AttributeList.of(
            ("BANDWIDTH", str(int(rung.bandwidth))),
            ("RESOLUTION", f"{rung.width}x{rung.height}"),
            ("CODECS", quote(rung.codecs)),
            ("FRAME-RATE", format_decimal(rung.frame_rate)),
        )
        variants.append(Variant(rendition_url(item, rung.bandwidth), attributes))
    return MasterPlaylist(tuple(variants))
