"""`stitcher.detect`: breaks found in real-looking playlists, edge cases, and the origin emulator's
output."""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from origin_emulator.config import CUE_COMMANDS, CUE_FORMATS
from origin_emulator.splices import Splice, visible
from stitcher.detect import DetectedBreak, Detection, Signal, breaks, detect, fold, signals
from stitcher.playlist import MediaPlaylist, parse_media_playlist

RESOURCES = Path(__file__).parent / "resources"
PLAYLISTS = RESOURCES / "playlists"
DETECT = RESOURCES / "detect"


def load(path: Path) -> MediaPlaylist:
    return parse_media_playlist(path.read_text(encoding="utf-8"))


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def ms_id(text: str) -> str:
    return f"cue-{round(epoch(text) * 1000)}"


def only(found: list[DetectedBreak], context: object = None) -> DetectedBreak:
    assert len(found) == 1, (found, context)
    return found[0]


# --------------------------------------------------------------------------- fixture playlists

ELEMENTAL_START = "2026-01-01T09:30:00.000Z"
ELEMENTAL_EVENT = 0x4000003B


def test_daterange_pair():
    result = detect(load(PLAYLISTS / "daterange_scte35_pair.m3u8"))
    assert result.problems == ()
    assert [(s.break_id, s.kind, s.msn, s.format) for s in result.signals] == [
        ("splice-662", "out", 238, "daterange"),
        ("splice-662", "in", 241, "daterange"),
    ]
    b = only(list(result.breaks))
    assert b.start == epoch("2026-01-01T00:04:00Z") and b.duration == 242.0
    assert b.end == epoch("2026-01-01T00:08:02Z") and not b.returned_early and not b.cancelled
    assert b.event.event_id == 662 and b.event.kind == "out"
    assert b.scte35 == "/DAvAAAAAAAAAP/wFAUAAAKWf+//4WoauH4BTFYgAAEAAAAKAAhDVUVJAAAAAOv1oqc="
    assert result.signals[1].at == b.end and result.signals[1].event.kind == "in"


def test_daterange_with_bom_and_crlf():
    b = only(breaks(load(PLAYLISTS / "crlf_bom.m3u8")))
    assert (b.break_id, b.start, b.duration, b.end) == (
        "break-3",
        epoch("2026-01-01T00:01:42Z"),
        60.0,
        epoch("2026-01-01T00:02:42Z"),
    )
    assert b.event.event_id == 173781


def test_elemental_oatcls():
    result = detect(load(PLAYLISTS / "elemental_oatcls.m3u8"))
    assert result.problems == ()
    assert [(s.kind, s.msn, s.format, s.elapsed) for s in result.signals] == [
        ("out", 51206, "oatcls", None),
        ("out", 51207, "oatcls", 5.939),
        ("out", 51208, "oatcls", 11.945),
    ]
    b = only(list(result.breaks))
    assert b.break_id == ms_id(ELEMENTAL_START) and b.start == epoch(ELEMENTAL_START)
    assert b.duration == 201.467  # the tag's duration wins over the cue's 201.467133
    assert (
        b.format == "oatcls"
        and b.event.event_id == ELEMENTAL_EVENT
        and b.event.segmentation_types == (0x34,)
    )
    assert (
        b.scte35 == "/DA0AAAAAAAAAAAABQb+ADAQ6QAeAhxDVUVJQAAAO3/PAAEUrEoICAAAAAAg+2UBNAAANvrtoQ=="
    )
    assert b.end == pytest.approx(epoch(ELEMENTAL_START) + 201.467)


def test_cue_out_cont_elapsed_is_the_same_break_as_the_elemental_start():
    """The same Elemental break seen 3 minutes later (only CONT tags, then CUE-IN): same id, same
    start."""
    result = detect(load(PLAYLISTS / "cue_out_cont_elapsed.m3u8"))
    assert result.problems == ()
    b = only(list(result.breaks))
    elemental = only(breaks(load(PLAYLISTS / "elemental_oatcls.m3u8")))
    assert (b.break_id, b.start, b.duration) == (
        elemental.break_id,
        elemental.start,
        elemental.duration,
    )
    assert b.end == pytest.approx(epoch("2026-01-01T09:33:21.467Z")) and not b.returned_early
    assert b.event.event_id == ELEMENTAL_EVENT
    assert [s.kind for s in result.signals] == ["out", "out", "out", "in"]


def test_cue_out_without_pdt_is_a_problem():
    result = detect(load(PLAYLISTS / "cue_out_fraction.m3u8"))
    assert result.signals == () and result.breaks == ()
    assert len(result.problems) == 1 and "PROGRAM-DATE-TIME" in result.problems[0]


def test_mediatailor_splicepoint():
    result = detect(load(PLAYLISTS / "mediatailor_splicepoint.m3u8"))
    b = only(list(result.breaks))
    assert (b.break_id, b.format, b.start, b.duration) == (
        "scte35-1207959694",
        "splicepoint",
        epoch("2026-01-01T07:32:12Z"),
        307.0,
    )
    assert result.signals[0].msn == 4522 and b.event.upid == "000000002ca0a18a"


def test_scte35_tag_with_lenient_whitespace():
    result = detect(load(PLAYLISTS / "scte35_tag_lenient.m3u8"))
    assert result.problems == ()
    assert [(s.kind, s.msn, s.elapsed) for s in result.signals] == [
        ("out", 1802, None),
        ("out", 1803, 2.0),
        ("out", 1804, 4.0),
    ]
    b = only(list(result.breaks))
    assert (b.break_id, b.format, b.start, b.duration, b.end) == (
        "scte35-173781",
        "scte35",
        epoch("2026-01-01T01:00:04Z"),
        60.0,
        epoch("2026-01-01T01:01:04Z"),
    )


@pytest.mark.parametrize(
    "name",
    [
        "interstitial.m3u8",
        "discontinuity_sequence.m3u8",
        "disc_between_extinf_and_uri.m3u8",
        "media_sequence_jump_1.m3u8",
        "media_sequence_jump_2.m3u8",
    ],
)
def test_playlists_without_cues(name):
    assert detect(load(PLAYLISTS / name)) == Detection((), (), ())


def test_every_fixture_is_read_without_crashing():
    for path in sorted(PLAYLISTS.glob("*.m3u8")) + sorted(DETECT.glob("*.m3u8")):
        text = path.read_text(encoding="utf-8")
        if "#EXT-X-STREAM-INF" in text:
            continue
        result = detect(parse_media_playlist(text))
        assert result.breaks == tuple(fold(result.signals))
        for s in result.signals:
            assert s.kind in ("out", "in", "cancel") and s.format in (
                "daterange",
                "cue-out",
                "oatcls",
                "scte35",
                "splicepoint",
            )


# -------------------------------------------------------------- edge cases (tests/resources/detect)


def test_cold_start_mid_break_cue_out():
    warm = only(breaks(load(DETECT / "cue_out_warm.m3u8")))
    cold_result = detect(load(DETECT / "cue_out_cold.m3u8"))
    cold = only(list(cold_result.breaks))
    assert warm.break_id == cold.break_id == ms_id("2026-01-01T10:00:04Z")
    assert warm.start == cold.start == epoch("2026-01-01T10:00:04Z")
    assert warm.duration == cold.duration == 30.0 and warm.end == cold.end
    assert [s.elapsed for s in cold_result.signals] == [16.0, 18.0, 20.0, 22.0, 24.0, 26.0]


def test_cold_start_mid_break_scte35_tag():
    warm = only(breaks(load(PLAYLISTS / "scte35_tag_lenient.m3u8")))
    cold = only(breaks(load(DETECT / "scte35_cold.m3u8")))
    assert (cold.break_id, cold.start, cold.duration, cold.end) == (
        warm.break_id,
        warm.start,
        warm.duration,
        warm.end,
    )


def test_early_return():
    result = detect(load(DETECT / "early_return.m3u8"))
    b = only(list(result.breaks))
    assert b.start == epoch("2026-01-01T10:00:02Z") and b.duration == 30.0
    assert b.end == epoch("2026-01-01T10:00:12Z") and b.returned_early
    assert result.signals[-1].kind == "in" and result.signals[-1].msn == 306


def test_daterange_cancel_is_matched_by_event_id():
    result = detect(load(DETECT / "daterange_cancel.m3u8"))
    assert [(s.break_id, s.kind, s.msn) for s in result.signals] == [
        ("splice-173781", "out", 500),
        ("splice-173781", "cancel", 502),
    ]
    cancel = result.signals[1]
    assert cancel.at == epoch("2026-01-01T10:00:04Z") and cancel.start == epoch(
        "2026-01-01T10:00:20Z"
    )
    b = only(list(result.breaks))
    assert b.cancelled and not b.returned_early and b.duration == 60.0 and b.event.kind == "out"


def test_cancel_without_its_out_range_falls_back_to_the_event_id():
    playlist = load(DETECT / "daterange_cancel.m3u8")
    first = playlist.segments[0]
    without_out = MediaPlaylist(
        target_duration=playlist.target_duration,
        segments=(
            first.__class__(
                first.uri,
                first.duration,
                first.duration_text,
                program_date_time=first.program_date_time,
            ),
        )
        + playlist.segments[1:],
        media_sequence=playlist.media_sequence,
    )
    b = only(breaks(without_out))
    assert b.break_id == "scte35-173781" and b.cancelled
    # folding an earlier reload that had the OUT range with this one finds the cancelled break by
    # event id
    earlier = [s for s in signals(playlist) if s.kind == "out"]
    folded = only(fold(earlier + signals(without_out)))
    assert folded.break_id == "splice-173781" and folded.cancelled and folded.duration == 60.0


def test_crc_broken_cue_in_a_cont_tag():
    result = detect(load(DETECT / "cont_crc_broken.m3u8"))
    assert len(result.problems) == 1
    assert "MSN 51210" in result.problems[0] and "CRC mismatch" in result.problems[0]
    assert [s.event is None for s in result.signals] == [True, False, False]
    b = only(list(result.breaks))
    assert b.break_id == ms_id(ELEMENTAL_START) and b.start == epoch(ELEMENTAL_START)
    assert b.event.event_id == ELEMENTAL_EVENT and b.duration == 201.467


def test_crc_broken_daterange_cue_keeps_the_tag_timing():
    result = detect(load(DETECT / "daterange_crc_broken.m3u8"))
    assert len(result.problems) == 1 and "CRC" in result.problems[0]
    b = only(list(result.breaks))
    assert (b.break_id, b.start, b.duration, b.event, b.scte35) == (
        "splice-173781",
        epoch("2026-01-01T10:00:02Z"),
        60.0,
        None,
        None,
    )


def test_trailing_daterange_after_the_last_segment():
    result = detect(load(DETECT / "trailing_daterange.m3u8"))
    (signal,) = result.signals
    assert (
        signal.msn == 703 and signal.kind == "out" and signal.start == epoch("2026-01-01T10:00:14Z")
    )
    b = only(list(result.breaks))
    assert (b.break_id, b.duration, b.event.event_id, b.event.immediate) == (
        "splice-9",
        30.0,
        9,
        True,
    )


def test_no_pdt():
    result = detect(load(DETECT / "no_pdt.m3u8"))
    assert result.signals == () and result.breaks == ()
    assert result.problems == (
        "cue tags but no EXT-X-PROGRAM-DATE-TIME: the breaks cannot be placed in time",
    )


def test_bare_cue_out_then_cue_in():
    open_ = only(breaks(load(DETECT / "bare_cue_out_open.m3u8")))
    assert (
        open_.duration is None
        and open_.end is None
        and open_.start == epoch("2026-01-01T10:00:02Z")
    )
    closed = only(breaks(load(DETECT / "bare_cue_out.m3u8")))
    assert closed.break_id == open_.break_id == ms_id("2026-01-01T10:00:02Z")
    assert (
        closed.duration == 7.5
        and closed.end == epoch("2026-01-01T10:00:09.500Z")
        and not closed.returned_early
    )


def test_splicepoint_out_and_in():
    result = detect(load(DETECT / "splicepoint_pair.m3u8"))
    assert [(s.kind, s.msn) for s in result.signals] == [("out", 4522), ("in", 4524)]
    b = only(list(result.breaks))
    assert b.end == epoch("2026-01-01T07:32:24Z") and b.returned_early and b.duration == 307.0


def test_daterange_in_only():
    b = only(breaks(load(DETECT / "daterange_in_only.m3u8")))
    assert (b.break_id, b.start, b.end, b.duration) == (
        "splice-662",
        epoch("2026-01-01T00:04:00Z"),
        epoch("2026-01-01T00:08:02Z"),
        242.0,
    )
    assert b.scte35 is None and b.event.kind == "in"


def test_signals_and_breaks_shortcuts():
    playlist = load(PLAYLISTS / "daterange_scte35_pair.m3u8")
    assert signals(playlist) == list(detect(playlist).signals)
    assert breaks(playlist) == list(detect(playlist).breaks)
    assert all(isinstance(s, Signal) for s in signals(playlist))


def test_fold_merges_signals_of_successive_reloads():
    warm, cold = (signals(load(DETECT / n)) for n in ("cue_out_warm.m3u8", "cue_out_cold.m3u8"))
    b = only(fold(warm + cold))
    assert b.start == epoch("2026-01-01T10:00:04Z") and b.duration == 30.0


CUE_B64 = "/DAlAAAAAAAAAP/wFAUAAqbVf+/+AAAAAH4AUmXAAAAAAAAAdIQsGg=="
CUE_HEX = "0xFC302500000000000000FFF014050002A6D57FEFFE000000007E005265C000000000000074842C1A"
TAG_LINES = [
    "#EXT-X-CUE-OUT",
    "#EXT-X-CUE-OUT:30",
    "#EXT-X-CUE-OUT:DURATION=abc",
    "#EXT-X-CUE-OUT:x y",
    "#EXT-X-CUE-OUT-CONT",
    "#EXT-X-CUE-OUT-CONT:4/30",
    "#EXT-X-CUE-OUT-CONT:a/b",
    "#EXT-X-CUE-OUT-CONT:ElapsedTime=nan,Duration=inf",
    f"#EXT-X-CUE-OUT-CONT:ElapsedTime=2,Duration=30,SCTE35={CUE_B64}",
    "#EXT-X-CUE-OUT-CONT:SCTE35=garbage",
    "#EXT-X-CUE-IN",
    f"#EXT-OATCLS-SCTE35:{CUE_B64}",
    "#EXT-OATCLS-SCTE35:!!",
    "#EXT-OATCLS-SCTE35",
    f'#EXT-X-SCTE35:CUE="{CUE_B64}",CUE-OUT=YES',
    f'#EXT-X-SCTE35:CUE="{CUE_B64}",CUE-OUT=CONT',
    "#EXT-X-SCTE35:CUE-IN=YES",
    '#EXT-X-SCTE35:CUE="x",CUE-OUT=CONT,ELAPSED=4',
    "#EXT-X-SCTE35:broken",
    "#EXT-X-SCTE35",
    f"#EXT-X-SPLICEPOINT-SCTE35:{CUE_B64}",
    "#EXT-X-SPLICEPOINT-SCTE35:AAAA",
    "#EXT-X-SPLICEPOINT-SCTE35",
    f'#EXT-X-DATERANGE:ID="a",START-DATE="2026-01-01T10:00:04Z",SCTE35-OUT={CUE_HEX}',
    f'#EXT-X-DATERANGE:ID="a",DURATION=8,SCTE35-IN={CUE_HEX}',
    '#EXT-X-DATERANGE:ID="b",START-DATE="nonsense",SCTE35-OUT=0x00',
    '#EXT-X-DATERANGE:ID="c",SCTE35-CMD=0xFC301600000000000000FFF005050002A6D5FF0000C3B31E02',
    '#EXT-X-DATERANGE:ID="d",START-DATE="2026-01-01T10:00:04Z",DURATION=x,SCTE35-IN=0x1',
]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.sampled_from(TAG_LINES)), max_size=12), st.booleans()
)
def test_any_mix_of_cue_tags_never_crashes(placed, with_pdt):
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:2", "#EXT-X-MEDIA-SEQUENCE:10"]
    for n in range(5):
        if with_pdt and n in (0, 3):
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:2026-01-01T10:00:{2 * n:02d}.000Z")
        lines += [line for at, line in placed if at == n]
        lines += ["#EXTINF:2.000,", f"seg{n}.ts"]
    lines += [line for at, line in placed if at == 4][:1]  # a trailing tag
    result = detect(parse_media_playlist("\n".join(lines) + "\n"))
    assert result.breaks == tuple(fold(result.signals))
    if not with_pdt and placed:
        assert result.signals == () and result.problems


# --------------------------------------------------------------------- the origin emulator's output


def expected_break(channel, splice: Splice, now: float) -> dict | None:
    """What the origin's playlist at `now` says about `splice` (None: nothing that places it)."""
    tl = channel.timeline
    window = tl.window_range(now)
    first, last = window.start, window.stop - 1
    if splice.format == "daterange":
        if splice.cancelled is not None and not visible(splice, tl, splice.cancelled):
            return None
        out_visible = tl.in_production(splice.announce) <= last and first <= splice.stop
        in_visible = splice.cancelled is None and first <= splice.stop <= last
        if not (out_visible or in_visible):
            return None
        cancelled = (
            splice.cancelled is not None
            and out_visible
            and tl.in_production(splice.cancelled) <= last
        )
        break_id = splice.range_id
        fmt = "daterange"
        has_out_cue = out_visible
    else:
        if splice.cancelled is not None or not (first < splice.stop and splice.start <= last):
            return None  # nothing published, or only the CUE-IN left (it cannot place the break)
        in_visible = splice.stop <= last
        cancelled = False
        start_visible = first <= splice.start
        cont_visible = max(first, splice.start + 1) < min(last + 1, splice.stop)
        if splice.format == "scte35":
            break_id, fmt, has_out_cue = f"scte35-{splice.event_id}", "scte35", True
        else:
            break_id = f"cue-{round(tl.start(splice.start) * 1000)}"
            fmt = "oatcls" if splice.format == "oatcls" and start_visible else "cue-out"
            has_out_cue = start_visible if splice.format == "oatcls" else cont_visible
    start = tl.start(splice.start)
    planned = splice.planned_seconds(tl)
    return {
        "break_id": break_id,
        "start": start,
        "duration": planned,
        # A return is known from the in-signal only (the daterange OUT range leaves with it).
        "end": tl.start(splice.stop) if in_visible else start + planned,
        "returned_early": in_visible and splice.returned is not None,
        "cancelled": cancelled,
        "format": fmt,
        "has_out_cue": has_out_cue,
    }


def check_window(channel, splice: Splice, now: float, seen_ids: set[str]) -> DetectedBreak | None:
    model = channel.media("hi", now)
    text_view = parse_media_playlist(model.render())  # what a monitor reading over HTTP sees
    result = detect(text_view)
    assert result.problems == ()
    assert breaks(model) == list(result.breaks)
    assert breaks(parse_media_playlist(channel.media("lo", now).render())) == list(result.breaks)
    want = expected_break(channel, splice, now)
    if want is None:
        assert result.breaks == (), (now, text_view.render())
        return None
    context = (now, text_view.render())
    b = only(list(result.breaks), context)
    seen_ids.add(b.break_id)
    assert b.break_id == want["break_id"], context
    assert b.start == pytest.approx(want["start"], abs=1e-3), context
    assert b.duration == pytest.approx(want["duration"], abs=1e-3), context
    assert b.end == pytest.approx(want["end"], abs=1e-3), context
    assert b.returned_early == want["returned_early"], context
    assert b.cancelled == want["cancelled"], context
    assert b.format == want["format"], context
    if want["has_out_cue"]:
        assert (
            b.event is not None and b.event.kind == "out" and b.event.event_id == splice.event_id
        ), context
        assert b.event.command == splice.command
        assert b.event.duration == pytest.approx(want["duration"], abs=1e-5)
        assert b.scte35 == b.event.base64
    elif b.event is not None:
        assert b.event.event_id == splice.event_id and b.event.kind == "in"
    return b


def sweep(channel, clock, splice: Splice, until: float, step: float = 1.0, action=None):
    """Step the clock to `until`, checking every window; `action(now, splice)` may change the
    splice.

    Returns the break ids seen, the final splice, and (window, break or None) per step.
    """
    seen: set[str] = set()
    steps: list[tuple[range, DetectedBreak | None]] = []
    while clock.now() < until:
        if action is not None:
            splice = action(clock.now(), splice)
        found = check_window(channel, splice, clock.now(), seen)
        steps.append((channel.timeline.window_range(clock.now()), found))
        clock.advance(step)
    return seen, splice, steps


def end_of_story(channel, splice: Splice) -> float:
    """When the last trace of the splice has left the window (plus a little)."""
    tl = channel.timeline
    return tl.end(max(splice.end, splice.stop) + tl.window + 1) + 2


FORMATS_X_COMMANDS = list(itertools.product(CUE_FORMATS, CUE_COMMANDS))


@pytest.mark.parametrize("duration", [10, 30])
@pytest.mark.parametrize("fmt, command", FORMATS_X_COMMANDS)
def test_origin_breaks_at_every_step(make_channel, clock, fmt, command, duration):
    channel = make_channel(break_every=0)
    splice = channel.post_splice(clock.now(), duration, 6, fmt, command)
    seen, _, steps = sweep(channel, clock, splice, end_of_story(channel, splice))
    assert len(seen) == 1  # one id, stable across the whole pre-roll, break and aftermath
    # the sweep went through every phase: nothing yet, announced (daterange: before the start),
    # started, joined mid-break (window past the start), returned, gone again
    assert steps[0][1] is None and steps[-1][1] is None
    if fmt == "daterange":
        assert any(b is not None and w.stop <= splice.start for w, b in steps)
    if duration > channel.timeline.window_seconds:  # a window wholly inside the break: a cold start
        assert any(
            b is not None and w.start > splice.start and w.stop <= splice.stop for w, b in steps
        )
    assert any(b is not None and w.start <= splice.stop < w.stop for w, b in steps)


@pytest.mark.parametrize("fmt, command", FORMATS_X_COMMANDS)
def test_origin_early_return(make_channel, clock, fmt, command):
    channel = make_channel(break_every=0)
    splice = channel.post_splice(clock.now(), 30, 4, fmt, command)
    tl = channel.timeline
    returned_at: list[float] = []

    def maybe_return(now: float, current: Splice) -> Splice:
        if not returned_at and tl.last_published(now) >= current.start + 3:
            returned_at.append(now)
            return channel.delete_splice(current.event_id, now)
        return current

    seen, final, _ = sweep(
        channel, clock, splice, end_of_story(channel, splice), action=maybe_return
    )
    assert final.returned is not None and final.returned < final.end
    assert len(seen) == 1
    # and the early return was seen once its CUE-IN / IN range was published
    when = tl.end(final.returned) + 0.5  # playlists are a pure function of the moment: look back
    b = only(breaks(channel.media("hi", when)))
    assert b.returned_early and b.end == pytest.approx(tl.start(final.returned), abs=1e-3)
    assert b.duration == pytest.approx(final.planned_seconds(tl), abs=1e-3)


@pytest.mark.parametrize("command", CUE_COMMANDS)
def test_origin_daterange_cancel(make_channel, clock, command):
    channel = make_channel(break_every=0)
    splice = channel.post_splice(clock.now(), 10, 8, "daterange", command)
    tl = channel.timeline
    cancelled: list[Splice] = []

    def cancel_once_announced(now: float, current: Splice) -> Splice:
        if not cancelled and tl.last_published(now) >= tl.in_production(current.announce):
            cancelled.append(channel.delete_splice(current.event_id, now))
            return cancelled[0]
        return current

    seen, final, steps = sweep(
        channel,
        clock,
        splice,
        end_of_story(channel, splice),
        step=0.5,
        action=cancel_once_announced,
    )
    assert any(b is not None and b.cancelled for _, b in steps)
    assert final.cancelled is not None and seen == {splice.range_id}
    when = (
        tl.end(tl.in_production(final.cancelled)) + 0.1
    )  # look back at the first window with the cancel
    result = detect(channel.media("hi", when))
    b = only(list(result.breaks))
    assert b.cancelled and b.break_id == splice.range_id
    cancel = next(s for s in result.signals if s.kind == "cancel")
    assert cancel.event.kind == "cancel" and cancel.event.event_id == splice.event_id
    assert cancel.at == pytest.approx(tl.start(tl.in_production(final.cancelled)), abs=1e-3)


@pytest.mark.parametrize("fmt", [f for f in CUE_FORMATS if f != "daterange"])
def test_origin_cancel_before_anything_was_published(make_channel, clock, fmt):
    channel = make_channel(break_every=0)
    splice = channel.post_splice(clock.now(), 10, 8, fmt, None)
    clock.advance(3)
    channel.delete_splice(splice.event_id, clock.now())
    while clock.now() < end_of_story(channel, splice):
        assert breaks(channel.media("hi", clock.now())) == []
        clock.advance(1)


@pytest.mark.parametrize("fmt, command", FORMATS_X_COMMANDS)
def test_origin_late_joiner(make_channel, clock, fmt, command):
    """A first look in the middle of a long break: same id and timing as a viewer who saw the
    start."""
    early = make_channel(break_every=0)
    splice = early.post_splice(clock.now(), 40, 2, fmt, command)
    tl = early.timeline
    clock.set(tl.end(splice.start) + 0.5)  # the start segment was just published
    at_start = only(breaks(early.media("hi", clock.now())))
    middle = tl.start(splice.start) + 24.5  # the start segment left the 6-segment window long ago
    assert tl.window_range(middle).start > splice.start
    late = only(breaks(early.media("hi", middle)))
    assert (late.break_id, late.duration, late.end) == (
        at_start.break_id,
        at_start.duration,
        at_start.end,
    )
    assert (
        late.start
        == pytest.approx(at_start.start, abs=1e-3)
        == pytest.approx(tl.start(splice.start), abs=1e-3)
    )
    assert not late.returned_early and not late.cancelled


def test_origin_scheduled_breaks_one_per_splice(make_channel, small_settings, clock):
    """Short scheduled breaks, several per window: one break per splice, each with its own id."""
    channel = make_channel(
        cue_format="cue-out",
        cue_command="time_signal",
        break_every=10,
        break_duration=4,
        break_preroll=2,
        break_offset=1,
    )
    ids: dict[int, str] = {}
    for _ in range(60):
        now = clock.now()
        found = breaks(parse_media_playlist(channel.media("hi", now).render()))
        expected = [
            e
            for e in (expected_break(channel, s, now) for s in channel.splices(now))
            if e is not None
        ]
        assert [b.break_id for b in found] == [e["break_id"] for e in expected]
        for b, e in zip(found, expected):
            assert b.start == pytest.approx(e["start"], abs=1e-3) and b.end == pytest.approx(
                e["end"], abs=1e-3
            )
        for s in channel.splices(now):
            e = expected_break(channel, s, now)
            if e is not None:
                assert ids.setdefault(s.event_id, e["break_id"]) == e["break_id"]
        clock.advance(1)
    assert len(set(ids.values())) == len(ids) >= 5
