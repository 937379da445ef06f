"""Unit tests of the live-playlist validator core (the rig.validator package).

One small test per rule proving the checker catches it, the failure modes of a deployed stitcher
from docs/references.md, and a clean live stream (several viewers, two variants, an ad break with
DATERANGE and discontinuities) that must produce no violation at all, so the checker is not
trivially failing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rig.validator import Checker, Tolerances, Violation
from stitcher.playlist import MediaPlaylist, Segment, Tag, format_datetime, parse_media_playlist

RESOURCES = Path(__file__).parent / "resources" / "validator"
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z: PDT of MSN 0
SEG = 2.0
URL = "http://origin.test/live/720p/index.m3u8"
URL_360 = "http://origin.test/live/360p/index.m3u8"
MASTER = "http://origin.test/live/master.m3u8"


@dataclass(frozen=True)
class Stream:
    """A synthetic live variant: 2 s segments, an ad break (own directory, DISCONTINUITY in and out,
    a DATERANGE on its first segment) at MSNs `ad`, PDT on every segment."""

    variant: str = "720p"
    count: int = 6
    ad: range = range(20, 23)
    target: int = 2

    @property
    def url(self) -> str:
        return f"http://origin.test/live/{self.variant}/index.m3u8"

    def segment(self, msn: int) -> Segment:
        in_ad = msn in self.ad
        tags: tuple[Tag, ...] = ()
        if msn == self.ad.start:
            start = format_datetime(T0 + msn * SEG)
            tags = (
                Tag(
                    "EXT-X-DATERANGE",
                    f'ID="break-1",START-DATE="{start}",DURATION=6.0,SCTE35-OUT=0xFC3020',
                ),
            )
        return Segment(
            uri=f"/ads/b1/{self.variant}/a{msn - self.ad.start}.ts" if in_ad else f"seg{msn}.ts",
            duration=SEG,
            duration_text="2.000",
            discontinuity=msn in (self.ad.start, self.ad.stop),
            program_date_time=datetime.fromtimestamp(T0 + msn * SEG, tz=UTC),
            tags=tags,
        )

    def playlist(self, last: int) -> MediaPlaylist:
        first = last - self.count + 1
        disc_before = sum(1 for m in (self.ad.start, self.ad.stop) if m < first)
        return MediaPlaylist(
            target_duration=self.target,
            segments=tuple(self.segment(m) for m in range(first, last + 1)),
            media_sequence=first,
            discontinuity_sequence=disc_before,
            version=6,
        )

    def text(self, last: int) -> str:
        return self.playlist(last).render()


def at(last: int, late: float = 0.3) -> float:
    """A time shortly after segment `last` was published (it is complete at T0 + (last + 1) × 2
    s)."""
    return T0 + (last + 1) * SEG + late


def rules(violations: list[Violation]) -> set[str]:
    return {v.rule for v in violations}


def edit(playlist: MediaPlaylist, index: int, **changes: Any) -> MediaPlaylist:
    """The playlist with segment `index` (negative: from the end) changed by
    `dataclasses.replace`."""
    segments = list(playlist.segments)
    segments[index] = replace(segments[index], **changes)
    return replace(playlist, segments=tuple(segments))


def live(*lines: str, target: int = 2, sequence: int = 100) -> str:
    """A small live playlist from segment lines."""
    return (
        "\n".join(
            [
                "#EXTM3U",
                f"#EXT-X-TARGETDURATION:{target}",
                f"#EXT-X-MEDIA-SEQUENCE:{sequence}",
                *lines,
            ]
        )
        + "\n"
    )


def pdt(msn: int) -> str:
    return f"#EXT-X-PROGRAM-DATE-TIME:{format_datetime(T0 + msn * SEG)}"


def three(
    first: int = 100, *, with_pdt: bool = True, tags: dict[int, list[str]] | None = None
) -> list[str]:
    """Lines of three clean 2 s segments from `first` (6 s: exactly 3 × TD 2)."""
    lines: list[str] = []
    for msn in range(first, first + 3):
        if with_pdt:
            lines.append(pdt(msn))
        lines += (tags or {}).get(msn, [])
        lines += ["#EXTINF:2.000,", f"seg{msn}.ts"]
    return lines


# --------------------------------------------------------------------------- the clean baseline


def test_clean_live_stream_has_no_violations() -> None:
    checker = Checker()
    master = (RESOURCES / "master_clean.m3u8").read_text()
    assert checker.observe_master(MASTER, master, at(9)) == []
    streams = [Stream("720p"), Stream("360p")]
    for last in range(10, 60):  # the ad break enters and leaves the window
        for number, viewer in enumerate(("a", "b", "c")):
            if last < 10 + 4 * number:
                continue  # late joiners
            for stream in streams:
                found = checker.observe_media(
                    stream.url,
                    stream.text(last),
                    at(last, 0.2 + 0.1 * number),
                    viewer=viewer,
                    round_id=last,
                )
                assert found == [], [v.line() for v in found]
        # a slow reload of an unchanged playlist is fine as long as it is within 1.5 × TD
        checker.observe_media(
            Stream().url, Stream().text(last), at(last, 1.9), viewer="a", round_id=f"{last}b"
        )
    summary = checker.summary()
    assert summary["ok"] is True, checker.violations[:5]
    assert summary["violations"] == 0
    assert summary["segments_seen"] == 2 * (59 - 5 + 1)
    assert summary["reloads_per_viewer"]["a"] == 50 * 3
    assert set(summary["variants"]) == {Stream("720p").url, Stream("360p").url}
    json.dumps(summary)


def test_clean_fixture_file_has_no_violations() -> None:
    checker = Checker()
    text = (RESOURCES / "clean_live.m3u8").read_text()
    assert checker.observe_media(URL, text, T0 + 212.5) == []


def test_violation_line_and_summary() -> None:
    checker = Checker()
    found = checker.observe_media(URL, "not a playlist", T0, viewer="v1")
    assert [v.rule for v in found] == ["PARSE"]
    assert found[0].line().startswith(f"[PARSE] variant={URL} viewer=v1 ")
    summary = checker.summary()
    assert (
        summary["ok"] is False and summary["by_rule"] == {"PARSE": 1} and summary["violations"] == 1
    )
    assert summary["examples"][0]["rule"] == "PARSE"
    json.dumps(summary)


def test_on_violation_callback_sees_every_violation() -> None:
    seen: list[Violation] = []
    checker = Checker(on_violation=seen.append)
    checker.observe_media(URL, live(*three(), "#EXT-X-PLAYLIST-TYPE:EVENT"), at(102))
    assert [v.rule for v in seen] == ["R13"] and seen == checker.violations


# --------------------------------------------------------------------------- single-playlist rules


@pytest.mark.parametrize(
    "text",
    [
        "",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n",
        "#EXTINF:2,\nseg.ts\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:abc,\nseg.ts\n",
    ],
)
def test_unparseable_text_is_a_violation_not_an_exception(text: str) -> None:
    assert rules(Checker().observe_media(URL, text, T0)) == {"PARSE"}


def test_a_daterange_without_an_id_is_a_struct_violation_and_the_rest_is_read() -> None:
    text = live(*three())
    broken = text.replace(
        "#EXTINF", '#EXT-X-DATERANGE:START-DATE="2026-01-01T00:00:00Z"\n#EXTINF', 1
    )
    found = Checker().observe_media(URL, broken, at(102))
    assert rules(found) == {"STRUCT"} and "without a readable ID" in found[0].message
    assert rules(Checker().observe_media(URL, text, at(102))) == set()


def test_r4_target_duration_missing_or_not_an_integer() -> None:
    body = "\n".join(three()) + "\n"
    assert rules(
        Checker().observe_media(URL, "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:100\n" + body, at(102))
    ) == {"R4"}
    not_int = "#EXTM3U\n#EXT-X-TARGETDURATION:2.0\n#EXT-X-MEDIA-SEQUENCE:100\n" + body
    assert rules(Checker().observe_media(URL, not_int, at(102))) == {"R4"}


def test_r4_extinf_rounds_above_target_duration() -> None:
    text = live(*three(), pdt(103), "#EXTINF:2.5,", "seg103.ts")
    found = Checker().observe_media(URL, text, at(103) + 0.5)
    assert rules(found) == {"R4"} and found[0].msn == 103 and "2.5" in found[0].message
    assert (
        Checker().observe_media(
            URL, live(*three(), pdt(103), "#EXTINF:2.499,", "seg103.ts"), at(103)
        )
        == []
    )


def test_r9_window_shorter_than_three_target_durations() -> None:
    found = Checker().observe_media(URL, live(*three()[:-3]), at(101))
    assert rules(found) == {"R9"} and "4.000 s" in found[0].message


def test_r13_playlist_type_in_a_live_playlist() -> None:
    assert rules(
        Checker().observe_media(URL, live("#EXT-X-PLAYLIST-TYPE:EVENT", *three()), at(102))
    ) == {"R13"}
    vod = live("#EXT-X-PLAYLIST-TYPE:VOD", *three(), "#EXT-X-ENDLIST")
    assert Checker().observe_media(URL, vod, at(102)) == []


def test_p1_discontinuity_without_pdt() -> None:
    lines = three() + ["#EXT-X-DISCONTINUITY", "#EXTINF:2.000,", "/ads/a0.ts"]
    found = Checker().observe_media(URL, live(*lines), at(103))
    assert rules(found) == {"P1"} and found[0].msn == 103


def test_p2_pdt_does_not_follow_extinf() -> None:
    lines = three()
    lines[lines.index(pdt(102))] = (
        f"#EXT-X-PROGRAM-DATE-TIME:{format_datetime(T0 + 102 * SEG + 0.010)}"
    )
    found = Checker().observe_media(URL, live(*lines), at(102))
    assert rules(found) == {"P2"} and found[0].msn == 102 and "+10 ms" in found[0].message
    # 5 ms is within the tolerance
    lines[lines.index(f"#EXT-X-PROGRAM-DATE-TIME:{format_datetime(T0 + 102 * SEG + 0.010)}")] = (
        f"#EXT-X-PROGRAM-DATE-TIME:{format_datetime(T0 + 102 * SEG + 0.005)}"
    )
    assert Checker().observe_media(URL, live(*lines), at(102)) == []


def test_p2_pdt_overlaps_across_a_discontinuity() -> None:
    back = f"#EXT-X-PROGRAM-DATE-TIME:{format_datetime(T0 + 102 * SEG - 1.0)}"
    lines = three() + ["#EXT-X-DISCONTINUITY", back, "#EXTINF:2.000,", "/ads/a0.ts"]
    found = Checker().observe_media(URL, live(*lines), at(103))
    assert rules(found) == {"P2"} and "overlap" in found[0].message
    later = f"#EXT-X-PROGRAM-DATE-TIME:{format_datetime(T0 + 104 * SEG)}"  # a gap is fine
    lines = three() + ["#EXT-X-DISCONTINUITY", later, "#EXTINF:2.000,", "/ads/a0.ts"]
    assert Checker().observe_media(URL, live(*lines), at(104)) == []


def test_p4_daterange_without_pdt() -> None:
    dr = '#EXT-X-DATERANGE:ID="x",START-DATE="2026-01-01T00:03:22.000Z",DURATION=2.0'
    found = Checker().observe_media(URL, live(*three(with_pdt=False, tags={101: [dr]})), T0)
    assert rules(found) == {"P4"}


def test_d2_first_daterange_without_start_date() -> None:
    tags = {
        101: ['#EXT-X-DATERANGE:ID="x",DURATION=2.0'],
        102: ['#EXT-X-DATERANGE:ID="x",START-DATE="2026-01-01T00:03:22.000Z"'],
    }
    found = Checker().observe_media(URL, live(*three(tags=tags)), at(102))
    assert rules(found) == {"D2"} and found[0].msn == 101


def test_d2_later_tag_may_omit_start_date() -> None:
    tags = {
        101: [
            '#EXT-X-DATERANGE:ID="x",START-DATE="2026-01-01T00:03:22.000Z",PLANNED-DURATION=2.0,SCTE35-OUT=0xFC01'
        ],
        102: ['#EXT-X-DATERANGE:ID="x",DURATION=2.0,SCTE35-IN=0xFC02'],
    }
    assert Checker().observe_media(URL, live(*three(tags=tags)), at(102)) == []


@pytest.mark.parametrize(
    "attributes, fragment",
    [
        (
            'START-DATE="2026-01-01T00:03:22.000Z",END-DATE="2026-01-01T00:03:20.000Z"',
            "before START-DATE",
        ),
        ('START-DATE="2026-01-01T00:03:22.000Z",DURATION=-1.0', "negative"),
        ('START-DATE="2026-01-01T00:03:22.000Z",PLANNED-DURATION=-2', "negative"),
        (
            'START-DATE="2026-01-01T00:03:22.000Z",END-DATE="2026-01-01T00:03:32.000Z",DURATION=30.0',
            "DURATION=30.0",
        ),
    ],
)
def test_d4_dates_and_durations(attributes: str, fragment: str) -> None:
    tags = {101: [f'#EXT-X-DATERANGE:ID="x",{attributes}']}
    found = Checker().observe_media(URL, live(*three(tags=tags)), at(102))
    assert rules(found) == {"D4"} and fragment in found[0].message


@pytest.mark.parametrize(
    "attribute",
    [
        'DURATION="30.0"',
        "ID=x",
        "CLASS=foo",
        "START-DATE=2026-01-01T00:03:22.000Z",
        'START-DATE="yesterday"',
        'PLANNED-DURATION="30"',
        'X-RESUME-OFFSET="0"',
        "X-PLAYOUT-LIMIT=30s",
        'SCTE35-OUT="0xFC30"',
        "SCTE35-IN=FC30",
        "SCTE35-CMD=0x",
    ],
)
def test_d5_attribute_types(attribute: str) -> None:
    parts = {"ID": 'ID="x"', "START-DATE": 'START-DATE="2026-01-01T00:03:22.000Z"'}
    parts[attribute.split("=", 1)[0]] = attribute
    tags = {101: ["#EXT-X-DATERANGE:" + ",".join(parts.values())]}
    found = Checker().observe_media(URL, live(*three(tags=tags)), at(102))
    assert rules(found) == {"D5"}, [v.line() for v in found]
    assert attribute in found[0].message


def test_d5_quoted_duration_fixture() -> None:
    """Deployed-stitcher failure mode: DATERANGE attributes quoted."""
    found = Checker().observe_media(
        URL, (RESOURCES / "quoted_daterange_duration.m3u8").read_text(), at(102)
    )
    assert rules(found) == {"D5"}
    assert {v.message for v in found} == {
        "DATERANGE ID='ad-1': DURATION=\"30.0\" must be an unquoted decimal-floating-point",
        "DATERANGE ID='ad-1': X-RESUME-OFFSET=\"30.0\" must be an unquoted decimal-floating-point",
    }


@pytest.mark.parametrize(
    "attributes",
    [
        "END-ON-NEXT=YES",
        'CLASS="c",END-ON-NEXT=YES,DURATION=2.0',
        'CLASS="c",END-ON-NEXT=YES,END-DATE="2026-01-01T00:03:24.000Z"',
    ],
)
def test_d6_end_on_next(attributes: str) -> None:
    tags = {101: [f'#EXT-X-DATERANGE:ID="x",START-DATE="2026-01-01T00:03:22.000Z",{attributes}']}
    assert rules(Checker().observe_media(URL, live(*three(tags=tags)), at(102))) == {"D6"}
    good = {
        101: [
            '#EXT-X-DATERANGE:ID="x",CLASS="c",START-DATE="2026-01-01T00:03:22.000Z",END-ON-NEXT=YES'
        ]
    }
    assert Checker().observe_media(URL, live(*three(tags=good)), at(102)) == []


def test_d1_d3_same_id_different_values_in_one_playlist() -> None:
    first = '#EXT-X-DATERANGE:ID="x",START-DATE="2026-01-01T00:03:22.000Z",PLANNED-DURATION=30'
    tags = {101: [first], 102: ['#EXT-X-DATERANGE:ID="x",PLANNED-DURATION=30.0']}
    found = Checker().observe_media(URL, live(*three(tags=tags)), at(102))
    assert (
        rules(found) == {"D3"}
        and "PLANNED-DURATION=30 and later PLANNED-DURATION=30.0" in found[0].message
    )
    tags = {101: [first], 102: ['#EXT-X-DATERANGE:ID="x",START-DATE="2026-01-01T00:03:24.000Z"']}
    assert rules(Checker().observe_media(URL, live(*three(tags=tags)), at(102))) == {"D1"}


def test_struct_discontinuity_between_extinf_and_uri() -> None:
    """Deployed-stitcher failure mode: a DISCONTINUITY tag written between an EXTINF and its URI."""
    checker = Checker()
    text = (RESOURCES / "disc_between_extinf_and_uri.m3u8").read_text()
    found = checker.observe_media(URL, text, at(103))
    assert rules(found) == {"STRUCT"}
    assert found[0].msn == 102 and "EXT-X-DISCONTINUITY between EXTINF" in found[0].message
    # the same layout in the next reload (the window slid, line numbers moved) is not reported again
    playlist = parse_media_playlist(text)
    lines = text.splitlines()
    slid = "\n".join(lines[:2] + ["#EXT-X-MEDIA-SEQUENCE:101"] + lines[6:]) + "\n"
    slid += "#EXT-X-DISCONTINUITY\n" + pdt(104) + "\n#EXTINF:2.000,\nseg104.ts\n"
    assert playlist.media_sequence == 100 and parse_media_playlist(slid).media_sequence == 101
    assert checker.observe_media(URL, slid, at(104)) == []


def test_m1_master_with_media_tags_and_bad_bandwidth() -> None:
    found = Checker().observe_master(
        MASTER, (RESOURCES / "master_with_media_tags.m3u8").read_text(), T0
    )
    assert rules(found) == {"M1"}
    messages = " | ".join(v.message for v in found)
    assert "EXT-X-DATERANGE in a master playlist" in messages and "BANDWIDTH=800000.5" in messages


def test_m1_master_without_bandwidth_or_variants() -> None:
    no_bandwidth = "#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=640x360\n360p.m3u8\n"
    assert rules(Checker().observe_master(MASTER, no_bandwidth, T0)) == {"M1"}
    renditions_only = '#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="en"\n'
    assert rules(Checker().observe_master(MASTER, renditions_only, T0)) == {"M1"}
    assert Checker().observe_master(MASTER, (RESOURCES / "master_clean.m3u8").read_text(), T0) == []


def test_r14_directory_change_without_discontinuity() -> None:
    lines = three() + [pdt(103), "#EXTINF:2.000,", "/ads/b1/720p/a0.ts"]
    found = Checker().observe_media(URL, live(*lines), at(103))
    assert rules(found) == {"R14"} and found[0].msn == 103
    # query strings and the playlist's own directory written absolutely do not count as a change
    lines = three() + [pdt(103), "#EXTINF:2.000,", "http://origin.test/live/720p/seg103.ts?token=1"]
    assert Checker().observe_media(URL, live(*lines), at(103)) == []


# --------------------------------------------------------------------------- across reloads, one
# viewer


def test_r5_media_sequence_goes_back() -> None:
    checker = Checker()
    stream = Stream()
    checker.observe_media(URL, stream.text(12), at(12), viewer="v")
    found = checker.observe_media(URL, stream.text(11), at(12, 0.8), viewer="v")
    assert "R5" in rules(found)
    # another viewer behind a different cache may see an older window: that is not its own
    # regression
    assert checker.observe_media(URL, stream.text(11), at(12, 0.9), viewer="w") == []


def test_t1_discontinuity_sequence_goes_back() -> None:
    checker = Checker()
    stream = Stream()
    checker.observe_media(URL, stream.text(30), at(30), viewer="v")
    lowered = replace(stream.playlist(31), discontinuity_sequence=1)
    found = checker.observe_media(URL, lowered.render(), at(31), viewer="v")
    assert "T1" in rules(found)
    assert any("DISCONTINUITY-SEQUENCE went back from 2 to 1" in v.message for v in found)


def test_r1_segments_removed_from_the_tail() -> None:
    checker = Checker()
    stream = Stream()
    checker.observe_media(URL, stream.text(12), at(12), viewer="v")
    shorter = replace(stream.playlist(12), segments=stream.playlist(12).segments[:-2])
    found = checker.observe_media(URL, shorter.render(), at(12, 0.8), viewer="v")
    assert "R1" in rules(found) and any(
        "11..12 were removed from the tail" in v.message for v in found
    )


def test_r1_tag_added_before_a_kept_segment() -> None:
    checker = Checker()
    stream = Stream()
    checker.observe_media(URL, stream.text(12), at(12), viewer="v")
    playlist = stream.playlist(13)
    changed = edit(playlist, 3, tags=(Tag("EXT-X-CUE-OUT", "30.000"),))
    found = checker.observe_media(URL, changed.render(), at(13), viewer="v")
    assert rules(found) == {"R1"} and found[0].msn == 11 and "EXT-X-CUE-OUT" in found[0].message


def test_r1_tags_may_be_removed_and_the_first_segment_may_take_over_dateranges() -> None:
    checker = Checker()
    stream = Stream()
    checker.observe_media(
        URL, stream.text(24), at(24), viewer="v"
    )  # DATERANGE on MSN 20, window 19..24
    playlist = stream.playlist(26)  # window 21..26: the DATERANGE moves to the new first segment
    moved = edit(playlist, 0, tags=stream.segment(20).tags)
    assert checker.observe_media(URL, moved.render(), at(26), viewer="v") == []
    # ... and may later be dropped, but it may not re-appear before a later segment
    assert checker.observe_media(URL, stream.text(26), at(26, 0.5), viewer="v") == []
    moved_again = edit(stream.playlist(27), 1, tags=stream.segment(20).tags).render()
    found = checker.observe_media(URL, moved_again, at(27), viewer="v")
    assert rules(found) == {"R1"}


def test_r4_target_duration_changes_between_reloads() -> None:
    checker = Checker()
    stream = Stream()
    checker.observe_media(URL, stream.text(12), at(12), viewer="v")
    found = checker.observe_media(
        URL, replace(stream.playlist(13), target_duration=3).render(), at(13), viewer="w"
    )
    assert rules(found) == {"R4"} and "changed from 2 to 3" in found[0].message


def test_r10_stall_is_reported_once_per_stall() -> None:
    checker = Checker()
    stream = Stream()
    assert checker.observe_media(URL, stream.text(12), at(12), viewer="v") == []
    assert (
        checker.observe_media(URL, stream.text(12), at(12) + 3.4, viewer="v") == []
    )  # within 1.5 × 2 + 0.5
    found = checker.observe_media(URL, stream.text(12), at(12) + 3.6, viewer="v")
    assert "R10" in rules(found) and found[0].msn == 12
    assert "R10" not in rules(checker.observe_media(URL, stream.text(12), at(12) + 4.6, viewer="v"))
    assert "R10" not in rules(checker.observe_media(URL, stream.text(13), at(12) + 5.0, viewer="v"))
    later = checker.observe_media(URL, stream.text(13), at(12) + 9.0, viewer="v")
    assert "R10" in rules(later)
    assert checker.counts["R10"] == 2


def test_t3_segments_from_the_future() -> None:
    found = Checker().observe_media(URL, Stream().text(12), at(12) - 1.5, viewer="v")
    assert rules(found) == {"T3"} and "from the future" in found[0].message


def test_t3_latency_drifts_from_live() -> None:
    checker = Checker()
    stream = Stream()
    for last in range(12, 16):
        assert checker.observe_media(URL, stream.text(last), at(last), viewer="v") == []
    # the server keeps adding segments, but 4 s late (e.g. stitched from a stale origin fetch)
    found = checker.observe_media(URL, stream.text(16), at(16) + 3.9, viewer="v")
    assert rules(found) == {"T3"} and "drifting from live" in found[0].message
    assert (
        checker.observe_media(URL, stream.text(17), at(17) + 3.9, viewer="v") == []
    )  # once per episode


# --------------------------------------------------------------------------- across viewers, one
# variant


def test_t1_uri_changes_for_a_media_sequence_number() -> None:
    checker = Checker()
    stream = Stream()
    checker.observe_media(URL, stream.text(12), at(12), viewer="a")
    playlist = stream.playlist(12)
    found = checker.observe_media(
        URL, edit(playlist, -1, uri="seg12-b.ts").render(), at(12, 0.5), viewer="b"
    )
    assert rules(found) == {"T1"} and found[0].msn == 12
    assert "seg12-b.ts" in found[0].message and "seg12.ts" in found[0].message


def test_t1_extinf_changes_value_or_text() -> None:
    checker = Checker()
    stream = Stream()
    checker.observe_media(URL, stream.text(12), at(12), viewer="a")
    playlist = stream.playlist(12)
    segments = list(playlist.segments)
    segments[-1] = replace(segments[-1], duration=1.9, duration_text="1.900")
    found = checker.observe_media(
        URL, replace(playlist, segments=tuple(segments)).render(), at(12, 0.5), viewer="b"
    )
    assert "T1" in rules(found) and any(
        "EXTINF 1.900 now, 2.000 earlier" in v.message for v in found
    )
    segments[-1] = replace(segments[-1], duration=2.0, duration_text="2.0")
    found = checker.observe_media(
        URL, replace(playlist, segments=tuple(segments)).render(), at(12, 0.6), viewer="c"
    )
    assert rules(found) == {"T1"} and "same value" in found[0].message


def test_t1_discontinuity_number_flapping_between_reloads() -> None:
    """Deployed-stitcher failure mode: the discontinuity sequence number recomputed per request."""
    checker = Checker()
    stream = Stream()
    good = stream.playlist(30)
    flapped = replace(good, discontinuity_sequence=good.discontinuity_sequence + 1)
    assert checker.observe_media(URL, good.render(), at(30), viewer="a") == []
    found = checker.observe_media(URL, flapped.render(), at(30, 0.5), viewer="b")
    assert rules(found) == {"T1"} and len(found) == len(good.segments)
    assert "discontinuity sequence number 3 now, 2 earlier" in found[0].message
    # flapping back and forth again reports nothing new
    assert checker.observe_media(URL, good.render(), at(30, 0.6), viewer="a") == []
    assert checker.observe_media(URL, flapped.render(), at(30, 0.7), viewer="b") == []


def test_t1_pdt_changes() -> None:
    checker = Checker()
    stream = Stream()
    checker.observe_media(URL, stream.text(12), at(12), viewer="a")
    playlist = stream.playlist(12)
    shifted = tuple(
        replace(
            s,
            program_date_time=datetime.fromtimestamp(
                s.program_date_time.timestamp() + 0.002, tz=UTC
            ),
        )
        for s in playlist.segments
    )
    found = checker.observe_media(
        URL, replace(playlist, segments=shifted).render(), at(12, 0.5), viewer="b"
    )
    assert rules(found) == {"T1"} and "PROGRAM-DATE-TIME" in found[0].message


def test_d3_attribute_text_changes_between_reloads() -> None:
    """Deployed-stitcher failure mode: DURATION=30 in one reload, DURATION=30.0 in the next."""
    checker = Checker()
    start = '"2026-01-01T00:03:22.000Z"'
    first = live(*three(tags={101: [f'#EXT-X-DATERANGE:ID="ad",START-DATE={start},DURATION=30']}))
    second = live(
        *three(tags={101: [f'#EXT-X-DATERANGE:ID="ad",START-DATE={start},DURATION=30.0']})
    )
    assert checker.observe_media(URL, first, at(102), viewer="a") == []
    found = checker.observe_media(URL, second, at(102, 0.5), viewer="b")
    assert "D3" in rules(found)
    assert any(
        "DURATION=30.0 now, DURATION=30 earlier" in v.message for v in found if v.rule == "D3"
    )


def test_d1_start_date_changes_for_an_id_and_d3_across_variants() -> None:
    checker = Checker()
    dr = '#EXT-X-DATERANGE:ID="ad",START-DATE="{}",DURATION=2.0'
    checker.observe_media(
        URL, live(*three(tags={101: [dr.format("2026-01-01T00:03:22.000Z")]})), at(102)
    )
    found = checker.observe_media(
        URL,
        live(*three(104, tags={105: [dr.format("2026-01-01T00:03:30.000Z")]}), sequence=104),
        at(106),
    )
    assert "D1" in rules(found)
    other = live(
        *three(
            tags={
                101: ['#EXT-X-DATERANGE:ID="ad",START-DATE="2026-01-01T00:03:22.000Z",DURATION=2']
            }
        )
    )
    found = checker.observe_media(URL_360, other, at(102))
    assert rules(found) == {"D3"} and f"in {URL}" in found[0].message


def test_daterange_may_gain_attributes() -> None:
    checker = Checker()
    out = '#EXT-X-DATERANGE:ID="ad",START-DATE="2026-01-01T00:03:22.000Z",PLANNED-DURATION=30.0'
    both = out + ",DURATION=30.0"
    assert checker.observe_media(URL, live(*three(tags={101: [out]})), at(102), viewer="a") == []
    assert (
        checker.observe_media(URL, live(*three(tags={101: [both]})), at(102, 0.5), viewer="b") == []
    )


# --------------------------------------------------------------------------- across variants


def test_r4_target_duration_differs_between_variants() -> None:
    checker = Checker()
    checker.observe_media(URL, Stream().text(12), at(12))
    found = checker.observe_media(
        URL_360, replace(Stream("360p").playlist(12), target_duration=3).render(), at(12)
    )
    assert rules(found) == {"R4"} and "differs from 2" in found[0].message


def test_t2_discontinuity_number_and_pdt_differ_between_variants() -> None:
    checker = Checker()
    checker.observe_media(URL, Stream().text(30), at(30))
    other = Stream("360p").playlist(30)
    found = checker.observe_media(
        URL_360, replace(other, discontinuity_sequence=5).render(), at(30)
    )
    assert rules(found) == {"T2"} and len(found) == 6 and f"in {URL}" in found[0].message
    checker = Checker()
    checker.observe_media(URL, Stream().text(12), at(12))
    other = Stream("360p").playlist(12)
    shifted = tuple(
        replace(
            s,
            program_date_time=datetime.fromtimestamp(s.program_date_time.timestamp() + 1, tz=UTC),
        )
        for s in other.segments
    )
    found = checker.observe_media(URL_360, replace(other, segments=shifted).render(), at(12))
    assert "T2" in rules(found) and all(
        "PROGRAM-DATE-TIME" in v.message for v in found if v.rule == "T2"
    )


def test_p3_pdt_in_one_variant_only() -> None:
    checker = Checker()
    checker.observe_media(URL, Stream().text(12), at(12))
    bare = Stream("360p").playlist(12)
    bare = replace(bare, segments=tuple(replace(s, program_date_time=None) for s in bare.segments))
    found = checker.observe_media(URL_360, bare.render(), at(12))
    assert rules(found) == {"P3"}
    assert checker.observe_media(URL_360, bare.render(), at(12, 0.5)) == []  # reported once


def test_d9_variants_in_one_round_carry_different_dateranges() -> None:
    checker = Checker()
    a, b = Stream("720p"), Stream("360p")
    assert checker.observe_media(a.url, a.text(24), at(24), viewer="v", round_id=1) == []
    playlist = b.playlist(24)
    segments = list(playlist.segments)
    index = 20 - playlist.media_sequence
    segments[index] = replace(segments[index], tags=())
    missing = replace(playlist, segments=tuple(segments)).render()
    found = checker.observe_media(b.url, missing, at(24), viewer="v", round_id=1)
    assert rules(found) == {"D9"} and "ID='break-1' is in" in found[0].message


def test_d9_compares_only_within_a_round_and_the_same_window() -> None:
    a, b = Stream("720p"), Stream("360p")
    playlist = b.playlist(24)
    segments = list(playlist.segments)
    index = 20 - playlist.media_sequence
    segments[index] = replace(segments[index], tags=())
    missing = replace(playlist, segments=tuple(segments)).render()
    checker = Checker()
    checker.observe_media(a.url, a.text(24), at(24), viewer="v", round_id=1)
    assert checker.observe_media(b.url, missing, at(24), viewer="v", round_id=2) == []
    checker = Checker()
    checker.observe_media(a.url, a.text(25), at(25), viewer="v", round_id=1)
    assert (
        checker.observe_media(b.url, missing, at(25), viewer="v", round_id=1) == []
    )  # windows differ
    checker = Checker()
    checker.observe_media(a.url, a.text(24), at(24), viewer="v", round_id=1)
    assert (
        checker.observe_media(b.url, missing, at(24), viewer="w", round_id=1) == []
    )  # other viewer


def test_d9_attributes_differ_between_variants() -> None:
    checker = Checker(tolerances=Tolerances())
    a, b = Stream("720p"), Stream("360p")
    checker.observe_media(a.url, a.text(24), at(24), viewer="v", round_id=7)
    playlist = b.playlist(24)
    segments = list(playlist.segments)
    index = 20 - playlist.media_sequence
    start = format_datetime(T0 + 20 * SEG)
    segments[index] = replace(
        segments[index],
        tags=(
            Tag(
                "EXT-X-DATERANGE",
                f'ID="break-1",START-DATE="{start}",DURATION=6.0,SCTE35-OUT=0xFC3021',
            ),
        ),
    )
    found = checker.observe_media(
        b.url, replace(playlist, segments=tuple(segments)).render(), at(24), viewer="v", round_id=7
    )
    assert "D9" in rules(found)
    assert any("SCTE35-OUT=0xFC3021 here vs 0xFC3020" in v.message for v in found if v.rule == "D9")


# --------------------------------------------------------------------------- long runs


def test_memory_stays_bounded_over_an_hour() -> None:
    checker = Checker()
    stream = Stream(ad=range(10**9, 10**9 + 1))
    for last in range(10, 1810):  # one hour of 2 s segments, one viewer
        checker.observe_media(URL, stream.text(last), at(last), viewer="v")
    state = checker._variants[URL]
    assert checker.ok, checker.violations[:3]
    assert checker.segments_seen == 1805
    tol = Tolerances()
    assert len(state.records) <= tol.window_multiple * 6 + 2 * tol.retention_margin
    assert min(state.records) >= 1809 - tol.window_multiple * 6 - 2 * tol.retention_margin


def test_repeated_problem_is_reported_once_per_variant() -> None:
    checker = Checker()
    tags = {101: ['#EXT-X-DATERANGE:ID="x",START-DATE="2026-01-01T00:03:22.000Z",DURATION="2.0"']}
    text = live(*three(tags=tags))
    for viewer in ("a", "b", "c"):
        checker.observe_media(URL, text, at(102), viewer=viewer)
    assert checker.counts == {"D5": 1}
    checker.observe_media(URL_360, text, at(102), viewer="a")
    assert checker.counts["D5"] == 2


def test_report_from_the_shell() -> None:
    checker = Checker()
    v = checker.report("HTTP", "GET returned 500", variant=URL, at=T0, viewer="a")
    assert v is not None and v.rule == "HTTP" and checker.counts == {"HTTP": 1}
    assert checker.report("CORS", "no header", variant=URL, at=T0, once_key="playlist") is not None
    assert checker.report("CORS", "no header", variant=URL, at=T0 + 1, once_key="playlist") is None
    assert checker.counts == {"HTTP": 1, "CORS": 1} and not checker.ok


# --------------------------------------------------------------------------- property: clean
# streams stay clean


@settings(max_examples=40, deadline=None)
@given(
    ad_start=st.integers(min_value=8, max_value=40),
    ad_length=st.integers(min_value=1, max_value=8),
    count=st.integers(min_value=3, max_value=10),
    polls=st.lists(
        st.tuples(st.sampled_from("abc"), st.floats(min_value=0.0, max_value=1.9)),
        min_size=1,
        max_size=4,
    ),
)
def test_any_clean_schedule_gives_no_violation(
    ad_start: int, ad_length: int, count: int, polls: list[tuple[str, float]]
) -> None:
    """Whatever the break placement, window length and viewers' reload timing: no violation."""
    checker = Checker()
    streams = [
        Stream("720p", count, range(ad_start, ad_start + ad_length)),
        Stream("360p", count, range(ad_start, ad_start + ad_length)),
    ]
    for last in range(10, 60):
        for viewer, late in polls:
            for stream in streams:
                checker.observe_media(
                    stream.url, stream.text(last), at(last, late), viewer=viewer, round_id=last
                )
    assert checker.ok, [v.line() for v in checker.violations[:5]]
