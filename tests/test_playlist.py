"""stitcher.playlist: real playlists parse into the model, render back, and errors say where.

Every fixture in tests/resources/playlists/ is one edge case written the way an origin or
packager writes it (F1-F5: DATERANGE pairs, CUE-OUT/CUE-OUT-CONT, Elemental OATCLS,
EXT-X-SCTE35, MediaTailor SPLICEPOINT; HLS Interstitials; discontinuities; media-sequence jumps;
a master playlist; CRLF + BOM). Fixtures in canonical form (the tag order `render()` writes) must
come back byte for byte; every fixture must reach a render -> parse -> render fixed point.
SCTE-35 payloads are the published vectors of docs/references.md (hex form for DATERANGE).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stitcher.playlist import (
    AttributeList,
    DateRange,
    MasterPlaylist,
    MediaPlaylist,
    PlaylistError,
    Segment,
    Tag,
    Variant,
    format_datetime,
    format_decimal,
    parse_attribute_list,
    parse_datetime,
    parse_master_playlist,
    parse_media_playlist,
    parse_playlist,
    quote,
)

RESOURCES = Path(__file__).parent / "resources" / "playlists"
UTC = UTC

# SCTE-35 vectors (docs/references.md)
TS_0x34_307S = "/DA0AAAAAAAA///wBQb+cr0AUAAeAhxDVUVJSAAAjn/PAAGlmbAICAAAAAAsoKGKNAIAmsnRfg=="
ELEMENTAL_0x34 = "/DA0AAAAAAAAAAAABQb+ADAQ6QAeAhxDVUVJQAAAO3/PAAEUrEoICAAAAAAg+2UBNAAANvrtoQ=="
INSERT_662_OUT = "/DAvAAAAAAAAAP/wFAUAAAKWf+//4WoauH4BTFYgAAEAAAAKAAhDVUVJAAAAAOv1oqc="
INSERT_662_IN = "/DAqAAAAAAAAAP/wDwUAAAKWf0//4rZw2AABAAAACgAIQ1VFSQAAAAAtegE5"
INSERT_173781_OUT = "/DAlAAAAAAAAAP/wFAUAAqbVf+/+AAAAAH4AUmXAAAAAAAAAdIQsGg=="


def hex_of(b64: str) -> str:
    """The DATERANGE form of a cue: 0x + upper-case hex of the whole splice_info_section."""
    return "0x" + base64.b64decode(b64).hex().upper()


def read(name: str) -> str:
    # bytes -> str by hand: read_text() would translate CRLF and hide what the parser sees
    return (RESOURCES / name).read_bytes().decode("utf-8")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


CANONICAL_MEDIA = [
    "daterange_scte35_pair.m3u8",
    "elemental_oatcls.m3u8",
    "cue_out_cont_elapsed.m3u8",
    "cue_out_fraction.m3u8",
    "scte35_tag_lenient.m3u8",
    "discontinuity_sequence.m3u8",
    "media_sequence_jump_1.m3u8",
    "media_sequence_jump_2.m3u8",
    "interstitial.m3u8",
]
OTHER_MEDIA = [
    "mediatailor_splicepoint.m3u8",  # writes DISCONTINUITY-SEQUENCE:0
    "crlf_bom.m3u8",
    "disc_between_extinf_and_uri.m3u8",
]
CANONICAL_MASTER = ["master.m3u8"]
OTHER_MASTER = ["master_with_media_tags.m3u8"]


def test_every_fixture_is_listed() -> None:
    listed = set(CANONICAL_MEDIA + OTHER_MEDIA + CANONICAL_MASTER + OTHER_MASTER)
    assert {p.name for p in RESOURCES.glob("*.m3u8")} == listed


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", CANONICAL_MEDIA)
def test_canonical_media_fixture_renders_byte_for_byte(name: str) -> None:
    text = read(name)
    assert parse_media_playlist(text).render() == text


@pytest.mark.parametrize("name", CANONICAL_MASTER)
def test_canonical_master_fixture_renders_byte_for_byte(name: str) -> None:
    text = read(name)
    assert parse_master_playlist(text).render() == text


@pytest.mark.parametrize("name", CANONICAL_MEDIA + OTHER_MEDIA)
def test_media_render_parse_render_is_a_fixed_point(name: str) -> None:
    first = parse_media_playlist(read(name))
    rendered = first.render()
    second = parse_media_playlist(rendered)
    assert second == first
    assert second.render() == rendered
    assert second.notes == ()  # the model renders only clean layouts


@pytest.mark.parametrize("name", CANONICAL_MASTER + OTHER_MASTER)
def test_master_render_parse_render_is_a_fixed_point(name: str) -> None:
    first = parse_master_playlist(read(name))
    rendered = first.render()
    second = parse_master_playlist(rendered)
    assert second == first
    assert second.render() == rendered


@pytest.mark.parametrize("name", CANONICAL_MEDIA + OTHER_MEDIA)
def test_parse_playlist_picks_media(name: str) -> None:
    assert isinstance(parse_playlist(read(name)), MediaPlaylist)


@pytest.mark.parametrize("name", CANONICAL_MASTER + OTHER_MASTER)
def test_parse_playlist_picks_master(name: str) -> None:
    assert isinstance(parse_playlist(read(name)), MasterPlaylist)


# --------------------------------------------------------------------------- F1 DATERANGE pair


def test_daterange_scte35_out_in_pair() -> None:
    p = parse_media_playlist(read("daterange_scte35_pair.m3u8"))
    assert (p.version, p.target_duration, p.media_sequence, p.discontinuity_sequence) == (
        6,
        2,
        238,
        0,
    )
    assert not p.endlist and p.playlist_type is None
    numbered = list(p.numbered())
    assert [(msn, disc) for msn, disc, _ in numbered] == [(n, 0) for n in range(238, 244)]
    assert [s.uri for _, _, s in numbered] == [f"live/720p/seg{n}.ts" for n in range(238, 244)]
    # PDT = 2 s per MSN since 00:00:00
    assert [s.program_date_time for s in p.segments] == [
        utc(2026, 1, 1) + timedelta(seconds=2 * n) for n in range(238, 244)
    ]
    assert [s.extinf for s in p.segments] == ["2.000"] * 6
    assert p.duration == 12.0

    out, back = p.dateranges
    assert out.id == back.id == "splice-662"  # same ID for the out/in pair (F1)
    assert p.segments[0].dateranges == (out,)
    assert p.segments[3].dateranges == (back,)
    assert [s.tags for s in p.segments[1:3] + p.segments[4:]] == [()] * 4

    assert out.attributes.names() == ["ID", "START-DATE", "PLANNED-DURATION", "SCTE35-OUT"]
    assert out.attributes.raw("ID") == '"splice-662"'
    assert out.attributes.raw("PLANNED-DURATION") == "242.0"
    assert out.attributes.raw("SCTE35-OUT") == hex_of(INSERT_662_OUT)
    assert out.start_date == utc(2026, 1, 1, 0, 4)
    assert out.planned_duration == 242.0 and out.duration is None and out.end_date is None

    assert back.attributes.names() == ["ID", "START-DATE", "END-DATE", "DURATION", "SCTE35-IN"]
    assert back.attributes.raw("SCTE35-IN") == hex_of(INSERT_662_IN)
    assert back.attributes.raw("DURATION") == "242.0"
    assert back.start_date == out.start_date  # D2/D3: START-DATE unchanged under the same ID
    assert back.end_date - back.start_date == timedelta(seconds=back.duration)  # D4
    assert back.end_date == p.segments[3].program_date_time  # the IN lands on its segment


# --------------------------------------------------------------------------- F2/F3 CUE-OUT family


def test_elemental_oatcls_asset_cue_out() -> None:
    p = parse_media_playlist(read("elemental_oatcls.m3u8"))
    assert (p.version, p.target_duration, p.media_sequence) == (3, 6, 51204)
    assert [msn for msn, _, _ in p.numbered()] == list(range(51204, 51209))
    assert [s.extinf for s in p.segments] == ["6.006", "6.006", "5.939", "6.006", "6.006"]
    # only the first segment carries a PDT; the splice is two segments later
    assert p.segments[0].program_date_time == utc(2026, 1, 1, 9, 29, 47, 988_000)
    assert [s.program_date_time for s in p.segments[1:]] == [None] * 4
    splice = p.segments[0].program_date_time + timedelta(
        seconds=sum(s.duration for s in p.segments[:2])
    )
    assert splice == utc(2026, 1, 1, 9, 30)

    out = p.segments[2]
    assert out.tags == (
        Tag("EXT-OATCLS-SCTE35", ELEMENTAL_0x34),
        Tag("EXT-X-ASSET", "CAID=0x0000000020FB6501"),
        Tag("EXT-X-CUE-OUT", "201.467"),
    )
    assert (
        Tag("EXT-X-ASSET", "CAID=0x0000000020FB6501").attributes().raw("CAID")
        == "0x0000000020FB6501"
    )
    elapsed = []
    for segment in p.segments[3:]:
        (value,) = segment.tag_values("EXT-X-CUE-OUT-CONT")
        attrs = parse_attribute_list(value)
        assert attrs.names() == ["ElapsedTime", "Duration", "SCTE35"]
        assert attrs.raw("Duration") == "201.467"
        assert attrs.raw("SCTE35") == ELEMENTAL_0x34  # base64 '=' padding stays in the value
        elapsed.append(attrs.raw("ElapsedTime"))
    assert elapsed == ["5.939", "11.945"]
    assert [s.has_tag("EXT-X-CUE-OUT-CONT") for s in p.segments] == [
        False,
        False,
        False,
        True,
        True,
    ]


def test_cue_out_cont_elapsed_time_for_a_viewer_joining_mid_break() -> None:
    p = parse_media_playlist(read("cue_out_cont_elapsed.m3u8"))
    assert [msn for msn, _, _ in p.numbered()] == list(range(51237, 51242))
    assert p.segments[0].program_date_time == utc(2026, 1, 1, 9, 33, 6, 119_000)
    conts = [
        parse_attribute_list(v) for s in p.segments for v in s.tag_values("EXT-X-CUE-OUT-CONT")
    ]
    assert [a.number("ElapsedTime") for a in conts] == [186.119, 192.125, 198.131]
    assert {a.raw("Duration") for a in conts} == {"201.467"}
    assert {a.raw("SCTE35") for a in conts} == {ELEMENTAL_0x34}
    # elapsed time places the break: it started 186.119 s before the first PDT ...
    assert p.segments[0].program_date_time - timedelta(seconds=186.119) == utc(2026, 1, 1, 9, 30)
    # ... and the in-break segments end exactly at Duration, where CUE-IN sits
    assert round(186.119 + sum(s.duration for s in p.segments[:3]), 3) == 201.467
    assert p.segments[3].tags == (Tag("EXT-X-CUE-IN"),)
    assert p.segments[4].tags == ()


def test_cue_out_with_fraction_cont_and_cue_in() -> None:
    p = parse_media_playlist(read("cue_out_fraction.m3u8"))
    assert p.version is None and p.discontinuity_sequence == 0
    assert all(s.program_date_time is None for s in p.segments)
    assert [msn for msn, _, _ in p.numbered()] == list(range(7730, 7740))
    assert p.segments[1].tags == (Tag("EXT-X-CUE-OUT", "30"),)  # raw "30", not "30.000"
    conts = [
        (i, s.tag_values("EXT-X-CUE-OUT-CONT")[0])
        for i, s in enumerate(p.segments)
        if s.has_tag("EXT-X-CUE-OUT-CONT")
    ]
    assert [i for i, _ in conts] == list(range(2, 9))
    assert conts[1][1] == "8.308/30"
    for i, value in conts:
        elapsed, _, total = value.partition("/")
        assert total == "30"
        assert float(elapsed) == pytest.approx(sum(s.duration for s in p.segments[1:i]))
    assert p.segments[8].extinf == "0.922"
    assert sum(s.duration for s in p.segments[1:9]) == pytest.approx(30.0)
    assert p.segments[9].tags == (Tag("EXT-X-CUE-IN"),)
    assert p.segments[0].tags == ()


# --------------------------------------------------------------------------- F4 / F5


def test_ext_x_scte35_with_lenient_whitespace() -> None:
    text = read("scte35_tag_lenient.m3u8")
    p = parse_media_playlist(text)
    assert [msn for msn, _, _ in p.numbered()] == list(range(1800, 1805))
    assert [s.program_date_time for s in p.segments] == [
        utc(2026, 1, 1, 1, 0, 2 * i) for i in range(5)
    ]
    values = [s.tag_values("EXT-X-SCTE35") for s in p.segments]
    assert values[:2] == [[], []]
    # the tag text is kept verbatim (spaces included) ...
    assert values[2] == [
        'CUE="' + INSERT_173781_OUT + '", CUE-OUT=YES, DURATION=60.000 ,ID="173781"'
    ]
    assert values[4] == [
        ' CUE="' + INSERT_173781_OUT + '",CUE-OUT=CONT,ELAPSED=4.000,DURATION=60.000,ID="173781"'
    ]
    assert f'#EXT-X-SCTE35:CUE = "{INSERT_173781_OUT}",CUE-OUT=CONT, ELAPSED = 2.000,' in p.render()
    # ... and reads the same whatever the spacing
    attrs = [Tag("EXT-X-SCTE35", v[0]).attributes() for v in values[2:]]
    assert attrs[0].names() == ["CUE", "CUE-OUT", "DURATION", "ID"]
    assert attrs[1].names() == attrs[2].names() == ["CUE", "CUE-OUT", "ELAPSED", "DURATION", "ID"]
    assert {a.text("CUE") for a in attrs} == {INSERT_173781_OUT}
    assert [a.raw("CUE-OUT") for a in attrs] == ["YES", "CONT", "CONT"]
    assert [a.raw("ELAPSED") for a in attrs] == [None, "2.000", "4.000"]
    assert {a.raw("DURATION") for a in attrs} == {"60.000"}
    assert {a.text("ID") for a in attrs} == {"173781"}


def test_mediatailor_splicepoint() -> None:
    text = read("mediatailor_splicepoint.m3u8")
    p = parse_media_playlist(text)
    assert p.discontinuity_sequence == 0
    assert [msn for msn, _, _ in p.numbered()] == list(range(4520, 4524))
    assert [s.extinf for s in p.segments] == ["6.0"] * 4  # raw EXTINF text survives
    assert p.segments[0].uri == "https://origin.example.com/out/v1/live/index_720p_4520.ts"
    assert [s.tags for s in p.segments] == [
        (),
        (),
        (Tag("EXT-X-SPLICEPOINT-SCTE35", TS_0x34_307S),),
        (),
    ]
    assert p.segments[2].program_date_time == utc(2026, 1, 1, 7, 32, 12)
    # the only non-canonical line: a zero DISCONTINUITY-SEQUENCE is not written
    assert p.render() == text.replace("#EXT-X-DISCONTINUITY-SEQUENCE:0\n", "")


# --------------------------------------------------------------------------- numbering


def test_discontinuity_numbers_follow_discontinuity_sequence() -> None:
    p = parse_media_playlist(read("discontinuity_sequence.m3u8"))
    assert p.discontinuity_sequence == 17 and p.independent_segments
    # R7: DISCONTINUITY-SEQUENCE + DISCONTINUITY tags up to and including the segment's own
    assert [(msn, disc) for msn, disc, _ in p.numbered()] == [
        (312, 18), (313, 18), (314, 19), (315, 19), (316, 20), (317, 20), (318, 21),
    ]  # fmt: skip
    assert [s.discontinuity for s in p.segments] == [True, False, True, False, True, False, True]
    assert p.segments[5].extinf == "1.500"
    assert p.segments[6].program_date_time == utc(2026, 1, 1, 0, 10, 35, 500_000)
    # each PDT continues the previous segment's (P2: no ambiguity)
    for a, b in zip(p.segments, p.segments[1:]):
        assert b.program_date_time - a.program_date_time == timedelta(seconds=a.duration)


def test_media_sequence_jump_between_reloads() -> None:
    first = parse_media_playlist(read("media_sequence_jump_1.m3u8"))
    second = parse_media_playlist(read("media_sequence_jump_2.m3u8"))
    assert second.media_sequence - first.media_sequence == 4  # four segments left at once
    a = {msn: (s.uri, s.duration, disc, s.program_date_time) for msn, disc, s in first.numbered()}
    b = {msn: (s.uri, s.duration, disc, s.program_date_time) for msn, disc, s in second.numbered()}
    assert sorted(a) == list(range(4180, 4185)) and sorted(b) == list(range(4184, 4189))
    assert a.keys() & b.keys() == {4184}
    assert a[4184] == b[4184] == ("seg4184.ts", 2.0, 0, utc(2026, 1, 1, 2, 19, 28))  # R3


# --------------------------------------------------------------------------- interstitials


def test_interstitial_daterange_announced_after_the_last_segment() -> None:
    p = parse_media_playlist(read("interstitial.m3u8"))
    assert all(s.tags == () for s in p.segments)
    assert [t.name for t in p.trailing_tags] == ["EXT-X-DATERANGE"]
    (dr,) = p.dateranges
    assert dr.id == "break-42"
    assert dr.klass == "com.apple.hls.interstitial"
    assert dr.attributes.names() == [
        "ID",
        "CLASS",
        "START-DATE",
        "DURATION",
        "X-ASSET-LIST",
        "X-RESUME-OFFSET",
        "X-RESTRICT",
    ]
    assert dr.attributes.raw("DURATION") == "30.0" and dr.duration == 30.0
    assert dr.attributes.raw("X-RESUME-OFFSET") == "0"
    assert dr.attributes.raw("X-RESTRICT") == '"SKIP,JUMP"'
    assert dr.attributes.text("X-RESTRICT") == "SKIP,JUMP"
    assert (
        dr.attributes.text("X-ASSET-LIST")
        == "https://ads.example.com/sgai/break-42.json?_HLS_interstitial_id=break-42"
    )
    assert "X-ASSET-URI" not in dr.attributes  # I2: exactly one of the two
    last = p.segments[-1]
    assert dr.start_date == last.program_date_time + timedelta(seconds=last.duration)


# --------------------------------------------------------------------------- master


def test_master_with_media_groups_and_codecs() -> None:
    m = parse_master_playlist(read("master.m3u8"))
    assert (m.version, m.independent_segments, m.notes) == (6, True, ())
    assert [v.uri for v in m.variants] == [
        "720p/index.m3u8",
        "360p/index.m3u8",
        "234p/index.m3u8?token=abc%2Cdef",
    ]
    assert [v.bandwidth for v in m.variants] == [2493000, 1128000, 420000]
    assert [v.resolution for v in m.variants] == [(1280, 720), (640, 360), (416, 234)]
    assert [v.codecs for v in m.variants] == [
        "avc1.64001f,mp4a.40.2",
        "avc1.4d401e,mp4a.40.2",
        "avc1.42c015,mp4a.40.2",
    ]
    assert m.variants[0].attributes.raw("CODECS") == '"avc1.64001f,mp4a.40.2"'
    assert m.variants[0].attributes.names() == [
        "BANDWIDTH",
        "AVERAGE-BANDWIDTH",
        "RESOLUTION",
        "FRAME-RATE",
        "CODECS",
        "AUDIO",
    ]
    assert {v.attributes.text("AUDIO") for v in m.variants} == {"aac"}
    assert [t.name for t in m.tags] == ["EXT-X-MEDIA", "EXT-X-MEDIA"]
    media = [t.attributes() for t in m.tags]
    assert [a.text("NAME") for a in media] == ["English", "Español"]
    assert [a.raw("DEFAULT") for a in media] == ["YES", "NO"]
    assert [a.text("URI") for a in media] == ["audio/en/index.m3u8", "audio/es/index.m3u8"]
    moved = m.variants[1].with_uri("https://cdn.example.com/360p/index.m3u8")
    assert moved.attributes == m.variants[1].attributes and moved.uri.startswith("https://")


# --------------------------------------------------------------------------- CRLF + BOM


def test_crlf_and_bom_read_like_plain_text() -> None:
    raw = (RESOURCES / "crlf_bom.m3u8").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf#EXTM3U\r\n") and raw.count(b"\r\n") == raw.count(b"\n")
    text = raw.decode("utf-8")
    plain = text.removeprefix("\ufeff").replace("\r\n", "\n")
    p = parse_media_playlist(text)
    assert p == parse_media_playlist(plain)
    assert p.render() == plain  # canonical apart from the line ends and the BOM
    assert [msn for msn, _, _ in p.numbered()] == [50, 51, 52]
    assert [s.uri for s in p.segments] == ["seg50.ts", "seg51.ts", "seg52.ts"]  # no stray \r
    (dr,) = p.dateranges
    assert dr.attributes.raw("SCTE35-OUT") == hex_of(INSERT_173781_OUT)
    assert dr.attributes.raw("PLANNED-DURATION") == "60.0"


def test_crlf_errors_keep_line_numbers() -> None:
    text = "\ufeff#EXTM3U\r\n#EXT-X-TARGETDURATION:2\r\n#EXTINF:-1,\r\nseg.ts\r\n"
    with pytest.raises(PlaylistError) as err:
        parse_media_playlist(text)
    assert err.value.line == 3


# --------------------------------------------------------------------------- notes


def test_discontinuity_between_extinf_and_uri_is_noted() -> None:
    p = parse_media_playlist(read("disc_between_extinf_and_uri.m3u8"))
    assert len(p.notes) == 1
    assert (
        "EXT-X-DISCONTINUITY" in p.notes[0] and "line 10" in p.notes[0] and "line 9" in p.notes[0]
    )
    assert [s.discontinuity for s in p.segments] == [False, True, False]
    assert [disc for _, disc, _ in p.numbered()] == [0, 1, 1]
    # rendering puts the tag where it belongs
    assert (
        "#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:03:22.000Z\n#EXTINF:2.000,"
        in p.render()
    )
    assert parse_media_playlist(p.render()).notes == ()


def test_tags_after_the_last_segment_are_noted_when_dropped() -> None:
    text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,\na.ts\n#EXT-X-DISCONTINUITY\n"
    p = parse_media_playlist(text)
    assert len(p.notes) == 1 and "after the last segment" in p.notes[0]
    assert p.trailing_tags == ()


def test_media_tags_in_a_master_are_noted() -> None:
    m = parse_master_playlist(read("master_with_media_tags.m3u8"))
    assert len(m.notes) == 2
    assert "EXT-X-DATERANGE" in m.notes[0] and "line 3" in m.notes[0]
    assert "EXT-X-CUE-OUT" in m.notes[1] and "line 6" in m.notes[1]
    assert [t.name for t in m.tags] == ["EXT-X-DATERANGE", "EXT-X-CUE-OUT"]
    assert [v.uri for v in m.variants] == ["720p/index.m3u8", "360p/index.m3u8"]
    assert parse_master_playlist(read("master.m3u8")).notes == ()


# --------------------------------------------------------------------------- attribute lists


def test_attribute_list_quoted_values_keep_commas() -> None:
    a = parse_attribute_list(
        'BANDWIDTH=1128000,CODECS="avc1.4d401e,mp4a.40.2",X-RESTRICT="SKIP,JUMP"'
    )
    assert a.items == (
        ("BANDWIDTH", "1128000"),
        ("CODECS", '"avc1.4d401e,mp4a.40.2"'),
        ("X-RESTRICT", '"SKIP,JUMP"'),
    )
    assert a.text("CODECS") == "avc1.4d401e,mp4a.40.2"
    assert a.text("BANDWIDTH") == "1128000" and a.number("BANDWIDTH") == 1128000.0
    assert a.raw("MISSING") is None and a.text("MISSING") is None and a.number("MISSING") is None
    assert "CODECS" in a and "AUDIO" not in a
    assert a.render() == 'BANDWIDTH=1128000,CODECS="avc1.4d401e,mp4a.40.2",X-RESTRICT="SKIP,JUMP"'


def test_attribute_list_keeps_raw_number_text() -> None:
    short = parse_attribute_list('ID="ad-1",DURATION=30')
    long = parse_attribute_list('ID="ad-1",DURATION=30.0')
    assert short.raw("DURATION") == "30" and long.raw("DURATION") == "30.0"
    assert short.number("DURATION") == long.number("DURATION") == 30.0
    assert short != long  # D3: hls.js compares the raw strings
    assert short.render() == 'ID="ad-1",DURATION=30' and long.render() == 'ID="ad-1",DURATION=30.0'
    quoted = parse_attribute_list('ID="ad-1",DURATION="30.0"')
    assert quoted.raw("DURATION") == '"30.0"'  # kept as written so the validator can flag D5


def test_attribute_list_is_lenient_with_whitespace() -> None:
    a = parse_attribute_list('  CUE = "/DA=" ,CUE-OUT=YES ,\tDURATION= 30.000, ID ="x" ')
    assert a.items == (("CUE", '"/DA="'), ("CUE-OUT", "YES"), ("DURATION", "30.000"), ("ID", '"x"'))
    assert a.render() == 'CUE="/DA=",CUE-OUT=YES,DURATION=30.000,ID="x"'
    assert parse_attribute_list("") == AttributeList(())
    assert parse_attribute_list("   ") == AttributeList(())
    assert AttributeList.of(("A", "1"), ("B", '"x"')).render() == 'A=1,B="x"'


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('ID="ad-1,DURATION=30', "unterminated quoted string"),
        ("CUE-OUT", "without a value"),
        ('ID="x",CUE-OUT', "without a value"),
        ("CUE-OUT,DURATION=30", "without a value"),  # a bare flag before a real attribute
        ("=30", "empty attribute name"),
        ('ID="x"y,DURATION=3', "junk after quoted value"),
    ],
)
def test_attribute_list_errors(text: str, fragment: str) -> None:
    with pytest.raises(PlaylistError, match=fragment):
        parse_attribute_list(text)


def test_attribute_number_error_and_quote() -> None:
    with pytest.raises(PlaylistError, match="not a number"):
        parse_attribute_list("DURATION=thirty").number("DURATION")
    assert quote("SKIP,JUMP") == '"SKIP,JUMP"'
    for bad in ('say "hi"', "a\nb", "a\rb"):
        with pytest.raises(ValueError):
            quote(bad)


def test_daterange_properties_and_errors() -> None:
    dr = DateRange(
        parse_attribute_list(
            'ID="x",START-DATE="2026-01-01T00:00:00.000Z",END-DATE="2026-01-01T00:00:30.000Z"'
        )
    )
    assert dr.start_date == utc(2026, 1, 1) and dr.end_date == utc(2026, 1, 1, 0, 0, 30)
    assert dr.klass is None and dr.duration is None and dr.planned_duration is None
    assert DateRange.from_tag(dr.to_tag()) == dr
    assert (
        dr.to_tag().render() == '#EXT-X-DATERANGE:ID="x",START-DATE="2026-01-01T00:00:00.000Z",'
        'END-DATE="2026-01-01T00:00:30.000Z"'
    )
    with pytest.raises(PlaylistError, match="without ID"):
        DateRange(parse_attribute_list('START-DATE="2026-01-01T00:00:00.000Z"')).id


def test_tag_parse_and_render() -> None:
    assert Tag.parse("#EXT-X-CUE-IN") == Tag("EXT-X-CUE-IN", None)
    assert Tag.parse("#EXT-X-CUE-OUT:") == Tag("EXT-X-CUE-OUT", "")
    assert Tag.parse("#EXT-X-CUE-OUT-CONT:8.308/30") == Tag("EXT-X-CUE-OUT-CONT", "8.308/30")
    assert Tag.parse("#EXT-X-ASSET:CAID=0x00:11") == Tag(
        "EXT-X-ASSET", "CAID=0x00:11"
    )  # first ':' only
    for line in (
        "#EXT-X-CUE-IN",
        "#EXT-X-CUE-OUT:",
        "#EXT-X-CUE-OUT:30",
        '#EXT-X-SCTE35: CUE="a" ,CUE-IN=YES',
    ):
        assert Tag.parse(line).render() == line


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "tag",
    ['#EXT-X-DATERANGE:START-DATE="2026-01-01T00:00:00.000Z"', '#EXT-X-DATERANGE:ID="x,DURATION=3'],
    ids=["no-id", "unterminated"],
)
def test_an_unreadable_daterange_is_noted_and_ignored_not_fatal(tag) -> None:
    """As hls.js does ("Ignoring invalid DATERANGE tag"): the rest of the playlist, its valid
    date ranges included, reads as it would without it; the tag stays where it was."""
    good = '#EXT-X-DATERANGE:ID="ok",START-DATE="2026-01-01T00:00:00.000Z"'
    head = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
    text = f"{head}{tag}\n{good}\n#EXTINF:2,\na.ts\n{tag}\n"
    playlist = parse_media_playlist(text)
    assert [d.id for d in playlist.dateranges] == ["ok"]
    assert playlist.notes == (
        "line 4: EXT-X-DATERANGE without a readable ID: ignored",
        "line 8: EXT-X-DATERANGE without a readable ID: ignored",
    )
    assert playlist.render() == text


ERRORS = [
    ("#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,\na.ts\n", 1, "must start with #EXTM3U"),
    ("\n\n#EXT-X-VERSION:3\n#EXTM3U\n", 1, "must start with #EXTM3U"),
    ("#EXTM3U\n#EXT-X-TARGETDURATION:2\na.ts\n", 3, "without a preceding EXTINF"),
    ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,\na.ts\n"
     "#EXTINF:2.000,\n#EXTINF:2.000,\nb.ts\n", 6, "two EXTINF"),
    ("#EXTM3U\n#EXT-X-TARGETDURATION:2.5\n#EXTINF:2.000,\na.ts\n",
     2, "TARGETDURATION must be an integer"),
    ("#EXTM3U\n#EXT-X-TARGETDURATION:two\n", 2, "TARGETDURATION must be an integer"),
    ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-TARGETDURATION:2\n", 3, "appears twice"),
    ("#EXTM3U\n#EXT-X-VERSION:6\n#EXTINF:2.000,\na.ts\n", None, "TARGETDURATION is missing"),
    ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:yesterday\n#EXTINF:2.000,\na.ts\n",
     3, "bad date-time"),
    ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000\n"
     "#EXTINF:2,\na.ts\n", 3, "without a time zone"),
    ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:-2.000,\na.ts\n", 3, "negative EXTINF"),
    ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:two,\na.ts\n", 3, "is not a number"),
    ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n"
     "#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:2,\nb.ts\n", 5, "MEDIA-SEQUENCE after the first segment"),
    ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-DISCONTINUITY\n#EXT-X-DISCONTINUITY-SEQUENCE:3\n"
     "#EXTINF:2,\na.ts\n", 4, "DISCONTINUITY-SEQUENCE after the first segment"),
    ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:x\n",
     3, "MEDIA-SEQUENCE must be an integer"),
    ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n",
     3, "EXT-X-STREAM-INF in a media playlist"),
]  # fmt: skip


@pytest.mark.parametrize("text, line, fragment", ERRORS)
def test_media_playlist_errors(text: str, line: int | None, fragment: str) -> None:
    with pytest.raises(PlaylistError, match=fragment) as err:
        parse_media_playlist(text)
    assert err.value.line == line
    if line is not None:
        assert str(err.value).startswith(f"line {line}: ")


def test_extinf_without_uri_names_its_line() -> None:
    with pytest.raises(PlaylistError, match="EXTINF on line 4 has no URI"):
        parse_media_playlist("#EXTM3U\n#EXT-X-TARGETDURATION:2\n\n#EXTINF:2.000,\n")


def test_empty_and_unknown_playlists() -> None:
    for text in ("", "\ufeff\n\n", "  \r\n"):
        with pytest.raises(PlaylistError, match="empty playlist"):
            parse_playlist(text)
    with pytest.raises(PlaylistError, match="neither a master nor a media playlist"):
        parse_playlist("#EXTM3U\n#EXT-X-VERSION:3\n")


MASTER_ERRORS = [
    ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n#EXT-X-STREAM-INF:BANDWIDTH=2\nb.m3u8\n",
     3, "on line 2 has no URI"),
    ("#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=640x360\nv.m3u8\n", 2, "without BANDWIDTH"),
    ('#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="avc1\nv.m3u8\n',
     3, "unterminated"),
    ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\nw.m3u8\n", 4, "without EXT-X-STREAM-INF"),
    ("#EXTM3U\n#EXT-X-VERSION:six\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n",
     2, "must be an integer"),
    ("#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n", 1, "must start with #EXTM3U"),
]  # fmt: skip


@pytest.mark.parametrize("text, line, fragment", MASTER_ERRORS)
def test_master_playlist_errors(text: str, line: int, fragment: str) -> None:
    with pytest.raises(PlaylistError, match=fragment) as err:
        parse_master_playlist(text)
    assert err.value.line == line


def test_master_errors_without_a_line() -> None:
    with pytest.raises(PlaylistError, match="EXT-X-STREAM-INF on line 3 has no URI"):
        parse_master_playlist("#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-STREAM-INF:BANDWIDTH=1\n")
    with pytest.raises(PlaylistError, match="without variants"):
        parse_master_playlist('#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="x"\n')
    with pytest.raises(PlaylistError, match="no BANDWIDTH"):
        Variant("v.m3u8", AttributeList(())).bandwidth


# --------------------------------------------------------------------------- date-times


@pytest.mark.parametrize(
    "value, expected",
    [
        (1767225600.9996, "2026-01-01T00:00:01.000Z"),  # .9996 carries into the next second
        (utc(2026, 1, 1, 0, 0, 0, 999_500), "2026-01-01T00:00:01.000Z"),  # .9995 too
        (
            utc(2025, 12, 31, 23, 59, 59, 999_700),
            "2026-01-01T00:00:00.000Z",
        ),  # ... and into the next year
        (1767225600.9994, "2026-01-01T00:00:00.999Z"),
        (1767225600.1236, "2026-01-01T00:00:00.124Z"),
        (1767225600.0004, "2026-01-01T00:00:00.000Z"),
        (1767225600, "2026-01-01T00:00:00.000Z"),
        (utc(2026, 1, 1, 0, 3, 24), "2026-01-01T00:03:24.000Z"),
        (
            datetime(2026, 1, 1, 1, 0, 2, 500_000, tzinfo=timezone(timedelta(hours=1))),
            "2026-01-01T00:00:02.500Z",
        ),
    ],
)
def test_format_datetime(value: datetime | float, expected: str) -> None:
    assert format_datetime(value) == expected


def test_parse_datetime() -> None:
    assert parse_datetime("2026-01-01T00:00:01.000Z") == utc(2026, 1, 1, 0, 0, 1)
    assert parse_datetime(" 2026-01-01T00:00:01Z ") == utc(2026, 1, 1, 0, 0, 1)
    shifted = parse_datetime("2026-01-01T02:00:00.250+02:00")
    assert shifted == utc(2026, 1, 1, 0, 0, 0, 250_000) and shifted.tzinfo == UTC
    for naive in ("2026-01-01T00:00:01.000", "2026-01-01"):
        with pytest.raises(PlaylistError, match="without a time zone"):
            parse_datetime(naive)
    with pytest.raises(PlaylistError, match="bad date-time"):
        parse_datetime("2026-13-01T00:00:00Z")
    assert (
        format_decimal(2) == "2.000"
        and format_decimal(6.0055, 2) == "6.01"
        and format_decimal(4.1536) == "4.154"
    )


MILLIS_2000_2100 = st.integers(946_684_800_000, 4_102_444_800_000)


@given(MILLIS_2000_2100)
def test_datetime_round_trip_at_millisecond_precision(millis: int) -> None:
    value = datetime.fromtimestamp(millis // 1000, tz=UTC) + timedelta(milliseconds=millis % 1000)
    text = format_datetime(value)
    assert parse_datetime(text) == value
    assert format_datetime(parse_datetime(text)) == text
    assert format_datetime(millis / 1000) == text


@given(MILLIS_2000_2100, st.integers(0, 999))
def test_format_datetime_rounds_to_the_nearest_millisecond(millis: int, micros: int) -> None:
    value = datetime.fromtimestamp(millis // 1000, tz=UTC) + timedelta(
        milliseconds=millis % 1000, microseconds=micros
    )
    error = parse_datetime(format_datetime(value)) - value
    assert abs(error) <= timedelta(microseconds=500)


# --------------------------------------------------------------------------- hypothesis models

SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:?&=%+"
quoted_text = st.text(SAFE + " ,;", max_size=24).map(
    quote
)  # quoted-strings may hold commas and spaces
token = st.text(SAFE.replace("=", ""), min_size=1, max_size=12).filter(lambda s: s[0] != '"')
decimal_text = st.builds(
    lambda ms, places: format_decimal(ms / 1000, places),
    st.integers(0, 600_000),
    st.sampled_from([0, 1, 3, 6]),
)
pdt = MILLIS_2000_2100.map(
    lambda ms: datetime.fromtimestamp(ms // 1000, tz=UTC) + timedelta(milliseconds=ms % 1000)
)
attr_name = st.from_regex(r"X-[A-Z0-9]{1,8}(-[A-Z0-9]{1,4})?", fullmatch=True)


@st.composite
def daterange_tags(draw: st.DrawFn) -> Tag:
    items = [("ID", draw(quoted_text.filter(lambda q: q != '""')))]
    if draw(st.booleans()):
        items.append(
            (
                "CLASS",
                quote(draw(st.sampled_from(["com.apple.hls.interstitial", "com.example.ad"]))),
            )
        )
    items.append(("START-DATE", quote(format_datetime(draw(pdt)))))
    for name in draw(
        st.lists(st.sampled_from(["DURATION", "PLANNED-DURATION", "X-RESUME-OFFSET"]), unique=True)
    ):
        items.append((name, draw(decimal_text)))
    if draw(st.booleans()):
        items.append(
            (
                draw(st.sampled_from(["SCTE35-OUT", "SCTE35-IN"])),
                hex_of(draw(st.sampled_from([INSERT_662_OUT, INSERT_662_IN]))),
            )
        )
    for name in draw(st.lists(attr_name, max_size=3, unique=True)):
        if name not in dict(items):
            items.append((name, draw(st.one_of(quoted_text, token))))
    return DateRange(AttributeList(tuple(items))).to_tag()


segment_tag = st.one_of(
    daterange_tags(),
    st.sampled_from(
        [
            Tag("EXT-X-CUE-OUT", "30"),
            Tag("EXT-X-CUE-OUT", "30.000"),
            Tag("EXT-X-CUE-OUT", "DURATION=30"),
            Tag("EXT-X-CUE-OUT"),
            Tag("EXT-X-CUE-OUT-CONT", "8.308/30"),
            Tag(
                "EXT-X-CUE-OUT-CONT", f"ElapsedTime=5.939,Duration=201.467,SCTE35={ELEMENTAL_0x34}"
            ),
            Tag("EXT-X-CUE-IN"),
            Tag("EXT-OATCLS-SCTE35", ELEMENTAL_0x34),
            Tag("EXT-X-ASSET", "CAID=0x0000000020FB6501"),
            Tag("EXT-X-SCTE35", f'CUE="{INSERT_173781_OUT}", CUE-OUT=YES ,DURATION=60'),
            Tag("EXT-X-SPLICEPOINT-SCTE35", TS_0x34_307S),
            Tag("EXT-X-KEY", "METHOD=NONE"),
            Tag("EXT-X-BYTERANGE", "1024@0"),
            Tag("EXT-X-GAP"),
        ]
    ),
)


@st.composite
def segments(draw: st.DrawFn) -> Segment:
    text = draw(decimal_text)
    title = draw(st.text("abc XYZ,-", max_size=10).filter(lambda t: t == t.rstrip()))
    return Segment(
        uri=draw(
            st.sampled_from(
                [
                    "seg{}.ts",
                    "/ads/b{}/720p/a0.ts",
                    "https://cdn.example.com/live/{}.ts?token=a%2Cb",
                ]
            )
        ).format(draw(st.integers(0, 10**6))),
        duration=float(text),
        duration_text=text,
        title=title,
        discontinuity=draw(st.booleans()),
        program_date_time=draw(st.none() | pdt),
        tags=tuple(draw(st.lists(segment_tag, max_size=3))),
    )


media_playlists = st.builds(
    MediaPlaylist,
    target_duration=st.integers(1, 12),
    segments=st.lists(segments(), max_size=8).map(tuple),
    media_sequence=st.integers(0, 2**63),
    discontinuity_sequence=st.integers(0, 2**32),
    version=st.none() | st.integers(3, 10),
    playlist_type=st.sampled_from([None, "EVENT", "VOD"]),
    endlist=st.booleans(),
    independent_segments=st.booleans(),
    header_tags=st.lists(
        st.sampled_from(
            [
                Tag("EXT-X-START", "TIME-OFFSET=-6.0,PRECISE=YES"),
                Tag("EXT-X-SERVER-CONTROL", "CAN-SKIP-UNTIL=12.0"),
                Tag("EXT-X-ALLOW-CACHE", "NO"),
            ]
        ),
        unique=True,
    ).map(tuple),
    trailing_tags=st.lists(
        st.one_of(daterange_tags(), st.just(Tag("EXT-X-CUE-IN"))), max_size=2
    ).map(tuple),
)


@settings(max_examples=150, deadline=None)
@given(media_playlists)
def test_media_playlist_model_round_trips(p: MediaPlaylist) -> None:
    text = p.render()
    back = parse_media_playlist(text)
    assert back == p
    assert back.notes == ()
    assert back.render() == text
    assert [disc for _, disc, _ in back.numbered()] == [
        p.discontinuity_sequence + sum(s.discontinuity for s in p.segments[: i + 1])
        for i in range(len(p.segments))
    ]


variant_attributes = st.builds(
    lambda bw, res, codecs, extra: AttributeList(
        (("BANDWIDTH", str(bw)),)
        + ((("RESOLUTION", f"{res[0]}x{res[1]}"),) if res else ())
        + ((("CODECS", quote(codecs)),) if codecs else ())
        + extra
    ),
    st.integers(1, 50_000_000),
    st.none() | st.tuples(st.integers(16, 3840), st.integers(16, 2160)),
    st.sampled_from([None, "avc1.64001f,mp4a.40.2", "avc1.42c015", "hvc1.1.6.L93.B0,ec-3"]),
    st.sampled_from([(), (("AUDIO", '"aac"'),), (("FRAME-RATE", "25.000"), ("AUDIO", '"a,b"'))]),
)
master_tags = st.sampled_from(
    [
        Tag(
            "EXT-X-MEDIA",
            'TYPE=AUDIO,GROUP-ID="aac",NAME="English",DEFAULT=YES,URI="audio/en.m3u8"',
        ),
        Tag("EXT-X-MEDIA", 'TYPE=SUBTITLES,GROUP-ID="subs",NAME="Français, CC",URI="subs/fr.m3u8"'),
        Tag("EXT-X-SESSION-DATA", 'DATA-ID="com.example.title",VALUE="Live, news"'),
        Tag("EXT-X-I-FRAME-STREAM-INF", 'BANDWIDTH=90000,URI="iframes.m3u8"'),
    ]
)
master_playlists = st.builds(
    MasterPlaylist,
    variants=st.lists(
        st.builds(
            Variant,
            st.sampled_from(["720p/index.m3u8", "https://cdn.example.com/v/360p.m3u8?x=1,2"]),
            variant_attributes,
        ),
        min_size=1,
        max_size=4,
    ).map(tuple),
    version=st.none() | st.integers(1, 10),
    independent_segments=st.booleans(),
    tags=st.lists(master_tags, max_size=4).map(tuple),
)


@settings(max_examples=100, deadline=None)
@given(master_playlists)
def test_master_playlist_model_round_trips(m: MasterPlaylist) -> None:
    text = m.render()
    back = parse_master_playlist(text)
    assert back == m
    assert back.render() == text
    assert isinstance(parse_playlist(text), MasterPlaylist)


def test_segment_times_and_newest_end_carry_dates_both_ways() -> None:
    text = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n"
        "#EXTINF:2.000,\na.ts\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:10.000Z\n#EXTINF:1.500,\nb.ts\n"
        "#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\nc.ts\n"
    )
    p = parse_media_playlist(text)
    start = datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC).timestamp()
    assert p.segment_times() == [start - 2.0, start, start + 1.5]
    assert p.newest_end() == start + 3.5
    undated = parse_media_playlist(
        text.replace("#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:10.000Z\n", "")
    )
    assert undated.segment_times() is None and undated.newest_end() is None
    empty = parse_media_playlist("#EXTM3U\n#EXT-X-TARGETDURATION:2\n")
    assert empty.newest_end() is None
