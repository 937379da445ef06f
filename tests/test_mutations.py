"""Playlists and SCTE-35 cues broken byte by byte (hypothesis): the parser, the cue detector and the
playlist builders raise only the project's own error types, the stitcher answers a 200 or a JSON
502/504 (never a 500) and the monitor's poll fails only with a clear error; a valid cue next to
broken ones is found exactly as it is alone.

The seeds are the real-world playlists under tests/resources/playlists (Elemental, MediaTailor,
DATERANGE pairs, CUE-OUT/CONT, BOM and CRLF, discontinuities, a master). The decoder's own random
and CRC-valid mutations are in tests/test_scte35.py; the detector's mixes of whole cue tags in
tests/test_detect.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stitcher.breaks import Grid
from stitcher.detect import detect
from stitcher.errors import RigError
from stitcher.modes import passthrough
from stitcher.origin import OriginUnavailable, parse_origin
from stitcher.playlist import MediaPlaylist, PlaylistError, parse_playlist
from stitcher.sgai import interleave
from tests.test_origin_faults import rig as rig  # noqa: F401 (the fixture: origin + stitcher)

PLAYLISTS = Path(__file__).parent / "resources" / "playlists"
SEEDS = {path.name: path.read_bytes() for path in sorted(PLAYLISTS.glob("*.m3u8"))}
URL = "http://origin.test/live/720p/index.m3u8"
PAIR = SEEDS["daterange_scte35_pair.m3u8"]


ALL = tuple(SEEDS.values())


@st.composite
def mutated(draw, seeds=ALL) -> bytes:
    """A seed with a few bytes replaced, inserted or deleted (any byte value)."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        how = draw(st.sampled_from(("replace", "insert", "delete")))
        value = draw(st.integers(0, 255))
        if how == "replace" and data:
            data[at] = value
        elif how == "insert":
            data.insert(at, value)
        elif data:
            del data[at]
    return bytes(data)


def as_fetched(data: bytes) -> str:
    return data.decode("utf-8", "replace")  # as stitcher.origin.fetch_text decodes


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_a_broken_playlist_raises_only_the_projects_errors(data):
    text = as_fetched(data)
    try:
        playlist = parse_playlist(text)
    except PlaylistError:
        with pytest.raises(OriginUnavailable, match=r"^http://origin\.test/"):
            parse_origin(text, URL)  # what the stitcher and the monitor say of it
        return
    if not isinstance(playlist, MediaPlaylist):
        return
    found = detect(playlist)  # problems are reported, never raised
    assert all(isinstance(problem, str) and problem for problem in found.problems)
    for made in (
        lambda: passthrough(playlist, URL).render(),
        lambda: interleave(playlist, URL, (), 2.0).render(),
        lambda: Grid.of(playlist, 2.0),
    ):
        try:
            made()
        except RigError:
            pass  # a clear error of the project's own (e.g. no PROGRAM-DATE-TIME to place breaks)


def noise(draw) -> str:
    """A broken cue tag of another break: a DATERANGE with some of a real one's attributes and a
    SCTE-35 payload of random bytes, then damaged byte by byte (kept on one line)."""
    attributes = draw(
        st.lists(
            st.sampled_from(
                (
                    'START-DATE="2026-01-01T00:08:00.000Z"',
                    "PLANNED-DURATION=30.0",
                    "DURATION=x",
                    'END-DATE="nonsense"',
                    'CLASS="urn:scte:scte35:2013:bin"',
                )
            ),
            max_size=4,
        )
    )
    payload = draw(st.binary(max_size=40)).hex().upper()
    which = draw(st.sampled_from(("SCTE35-OUT", "SCTE35-IN", "SCTE35-CMD")))
    line = bytearray(
        ",".join(
            [f'ID="noise-{draw(st.integers(0, 99))}"', *attributes, f"{which}=0x{payload}"]
        ).encode()
    )
    for _ in range(draw(st.integers(0, 4))):
        if line:
            line[draw(st.integers(0, len(line) - 1))] = draw(st.integers(32, 126))
    return "#EXT-X-DATERANGE:" + line.decode("ascii")


@st.composite
def pair_with_noise(draw) -> str:
    lines = PAIR.decode().splitlines()
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.integers(1, len(lines)))
        if not lines[at - 1].startswith("#EXTINF"):  # a tag between EXTINF and its URI is not one
            lines.insert(at, noise(draw))
    return "\n".join(lines) + "\n"


def the_pair(found) -> list[tuple]:
    return [
        (b.break_id, b.start, b.duration, b.end, b.cancelled, b.returned_early, b.scte35)
        for b in found.breaks
        if b.break_id == "splice-662"
    ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair_with_noise())
def test_a_valid_cue_next_to_broken_ones_is_found_as_it_is_alone(text):
    alone = detect(parse_playlist(PAIR.decode()))
    assert len(the_pair(alone)) == 1
    assert the_pair(detect(parse_playlist(text))) == the_pair(alone)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=mutated(seeds=(PAIR, SEEDS["elemental_oatcls.m3u8"], SEEDS["cue_out_fraction.m3u8"])))
async def test_the_stitcher_and_the_monitor_meet_a_broken_origin_with_clear_errors(
    rig, clock, data
):
    """The real stitcher app and a real monitor over an origin answering the damaged playlist for
    every variant: every answer is a playlist or the JSON error about the origin (never a 500),
    and a poll either passes or raises the project's own error."""
    text = as_fetched(data)
    rig.fault = lambda variant: text
    clock.advance(5.0)  # past the stale limit of the last good copy: the damage is what counts
    for mode in ("passthrough", "ssai", "sgai"):
        response = await rig.client.get(f"/{mode}/news/hi.m3u8")
        body = await response.text()
        assert response.status in (200, 502, 504), body  # 504: the origin was slow to answer
        if response.status != 200:
            assert (await response.json())["error"].startswith("the origin"), body
    try:
        await rig.stack.monitor.poll(rig.stack.channel)
    except RigError:
        pass
    rig.fault = lambda variant: None
