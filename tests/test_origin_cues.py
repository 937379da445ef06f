"""Every cue the origin emits, in every format, decodes with threefive to what was requested."""

from __future__ import annotations

import base64
import itertools

import pytest
import threefive

from origin_emulator.config import CUE_COMMANDS, CUE_FORMATS
from origin_emulator.splices import plan
from stitcher.playlist import Tag

TICKS = 90_000


def decode(payload: str) -> threefive.Cue:
    cue = threefive.Cue(payload)
    cue.decode()
    return cue


def ticks(seconds: float) -> int:
    return round(seconds * TICKS)


def cue_payload(tag: Tag) -> str | None:
    """The SCTE-35 bytes a tag carries (base64 or 0x-hex), as a string threefive accepts."""
    if tag.name == "EXT-X-DATERANGE":
        attributes = tag.attributes()
        for name in ("SCTE35-OUT", "SCTE35-IN", "SCTE35-CMD"):
            if name in attributes:
                return attributes.raw(name)
        return None
    if tag.name == "EXT-OATCLS-SCTE35":
        return tag.value
    if tag.name == "EXT-X-SCTE35":
        return tag.attributes().text("CUE")
    if tag.name == "EXT-X-CUE-OUT-CONT" and "SCTE35=" in (tag.value or ""):
        return tag.attributes().text("SCTE35")
    return None


def check_out(cue: threefive.Cue, command: str, event_id: int, pts: int, duration: float) -> None:
    cmd = cue.command
    if command == "splice_insert":
        assert cmd.command_type == 5
        assert cmd.splice_event_id == event_id
        assert cmd.out_of_network_indicator is True
        assert cmd.break_auto_return is True
        assert ticks(cmd.break_duration) == ticks(duration)
        assert ticks(cmd.pts_time) == pts
    else:
        assert cmd.command_type == 6
        assert ticks(cmd.pts_time) == pts
        (descriptor,) = cue.descriptors
        assert descriptor.segmentation_type_id == 0x34
        assert int(descriptor.segmentation_event_id, 16) == event_id
        assert ticks(descriptor.segmentation_duration) == ticks(duration)


def check_in(cue: threefive.Cue, command: str, event_id: int, pts: int) -> None:
    cmd = cue.command
    if command == "splice_insert":
        assert cmd.command_type == 5 and cmd.splice_event_id == event_id
        assert cmd.out_of_network_indicator is False
        assert ticks(cmd.pts_time) == pts
    else:
        assert cmd.command_type == 6 and ticks(cmd.pts_time) == pts
        (descriptor,) = cue.descriptors
        assert descriptor.segmentation_type_id == 0x35
        assert int(descriptor.segmentation_event_id, 16) == event_id


@pytest.mark.parametrize("fmt, command", list(itertools.product(CUE_FORMATS, CUE_COMMANDS)))
def test_every_cue_decodes_to_the_request(make_channel, clock, fmt, command):
    channel = make_channel(break_every=0)  # only the QA splice
    timeline = channel.timeline
    splice = channel.post_splice(clock.now(), duration=10, preroll=6, fmt=fmt, command=command)
    seen: dict[int, list[Tag]] = {}
    first_seen: dict[str, float] = {}
    while timeline.last_published(clock.now()) < splice.stop + 1:
        clock.advance(0.5)
        playlist = channel.media("hi", clock.now())
        for n, _, segment in playlist.numbered():
            if segment.tags:
                assert (
                    seen.setdefault(n, list(segment.tags)) == list(segment.tags)
                    or n == playlist.media_sequence
                )
            for tag in segment.tags:
                first_seen.setdefault(tag.render(), clock.now())
    pts_out, pts_in = timeline.pts(splice.start), timeline.pts(splice.stop)
    cues = [(n, tag, cue_payload(tag)) for n, tags in seen.items() for tag in tags]
    decoded = [(n, tag, decode(p)) for n, tag, p in cues if p is not None]
    assert decoded, "no SCTE-35 payload was emitted"
    outs = [
        c
        for _, t, c in decoded
        if not ("SCTE35-IN" in (t.value or "") or "CUE-IN=YES" in (t.value or ""))
    ]
    ins = [
        c
        for _, t, c in decoded
        if "SCTE35-IN" in (t.value or "") or "CUE-IN=YES" in (t.value or "")
    ]
    for cue in outs:
        check_out(cue, command, splice.event_id, pts_out, 10.0)
    for cue in ins:
        check_in(cue, command, splice.event_id, pts_in)

    names = {n: [t.name for t in tags] for n, tags in seen.items()}
    if fmt == "daterange":
        out_tag = next(t for t in seen[min(seen)] if "SCTE35-OUT" in t.value)
        # announced with a future START-DATE during the pre-roll
        assert first_seen[out_tag.render()] < timeline.start(splice.start)
        assert names[splice.stop] == ["EXT-X-DATERANGE"] and len(ins) == 1
    else:
        assert min(seen) == splice.start  # tags sit on the segments they describe
        assert set(seen) == set(range(splice.start, splice.stop + 1))
        first = names[splice.start]
        expected_first = {
            "cue-out": ["EXT-X-CUE-OUT"],
            "oatcls": ["EXT-OATCLS-SCTE35", "EXT-X-ASSET", "EXT-X-CUE-OUT"],
            "scte35": ["EXT-X-SCTE35"],
        }[fmt]
        assert first == expected_first
        for n in range(splice.start + 1, splice.stop):
            (cont,) = seen[n]
            elapsed = timeline.start(n) - timeline.start(splice.start)
            if fmt == "cue-out":
                assert cont.value.startswith(f"ElapsedTime={elapsed:.3f},Duration=10.000,SCTE35=")
            elif fmt == "oatcls":
                assert cont.value == f"{elapsed:.3f}/10.000"
            else:
                assert "CUE-OUT=CONT" in cont.value and f"ELAPSED={elapsed:.3f}" in cont.value
        if fmt == "scte35":
            assert len(ins) == 1
        else:
            assert names[splice.stop] == ["EXT-X-CUE-IN"]


@pytest.mark.parametrize("fmt", CUE_FORMATS)
def test_scheduled_breaks_follow_the_channel_config(make_channel, small_settings, fmt):
    channel = make_channel(
        cue_format=fmt, break_every=60, break_duration=10, break_preroll=8, break_offset=20
    )
    epoch = small_settings.origin.epoch
    splices = channel.splices(epoch + 3600, since=epoch)
    starts = [channel.timeline.start(s.start) - epoch for s in splices]
    assert starts[:3] == [20.0, 80.0, 140.0]
    assert all(s.source == "schedule" and s.format == fmt for s in splices)
    assert len({s.event_id for s in splices}) == len(splices)
    assert all(
        channel.timeline.start(s.end) - channel.timeline.start(s.start) == 10.0 for s in splices
    )


def test_cue_base64_is_standard(make_channel, clock):
    channel = make_channel(cue_format="cue-out")
    splice = channel.post_splice(clock.now(), 10, 0, None, None)
    clock.set(channel.timeline.end(splice.start + 1) + 0.1)
    playlist = channel.media("hi", clock.now())
    cont = next(t for s in playlist.segments for t in s.tags if t.name == "EXT-X-CUE-OUT-CONT")
    raw = base64.b64decode(cont.attributes().text("SCTE35"), validate=True)
    assert raw[0] == 0xFC


def test_plan_refuses_impossible_requests(make_channel, clock):
    channel = make_channel()
    for duration, preroll in (
        (0, 0),
        (-1, 0),
        (float("nan"), 0),
        (float("inf"), 0),
        (4000, 0),
        (10, -1),
        (10, 1e6),
    ):
        with pytest.raises(ValueError):
            plan(
                channel.timeline,
                clock.now(),
                duration,
                preroll,
                1,
                "daterange",
                "splice_insert",
                "control",
            )
