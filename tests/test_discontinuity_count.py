"""`Segment.discontinuity` is a count of EXT-X-DISCONTINUITY tags (R7 counts tags, not segments).

Two tags in a row before one segment advance its discontinuity sequence number by two (RFC 8216
§6.2.2; hls.js's m3u8 parser increments `cc` per tag). The parser counts them, `render` writes them
all back, `numbered` adds the count, and the validator numbers segments the same way, so a window
that drops a doubled tag must raise DISCONTINUITY-SEQUENCE by two.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from rig.validator import Checker
from stitcher.playlist import MediaPlaylist, Segment, parse_media_playlist

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def window(first: int, count: int, tags: dict[int, int], sequence: int) -> MediaPlaylist:
    """A live window of 2 s segments `first..first+count-1`; `tags`: MSN -> DISCONTINUITY tags
    before it."""
    return MediaPlaylist(
        target_duration=2,
        media_sequence=first,
        discontinuity_sequence=sequence,
        segments=tuple(
            Segment(
                f"s{n}.ts",
                2.0,
                "2.000",
                discontinuity=tags.get(n, 0),
                program_date_time=datetime.fromtimestamp(T0 + 2 * n, tz=UTC),
            )
            for n in range(first, first + count)
        ),
    )


def test_repeated_tags_are_counted_rendered_and_numbered() -> None:
    text = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:10\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:4\n"
        "#EXTINF:2.000,\na.ts\n"
        "#EXT-X-DISCONTINUITY\n#EXT-X-DISCONTINUITY\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:02.000Z\n#EXTINF:2.000,\nb.ts\n"
        "#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:04.000Z\n"
        "#EXTINF:2.000,\nc.ts\n"
    )
    playlist = parse_media_playlist(text)
    assert [s.discontinuity for s in playlist.segments] == [0, 2, 1]
    assert [(msn, disc) for msn, disc, _ in playlist.numbered()] == [(10, 4), (11, 6), (12, 7)]
    assert playlist.render() == text
    assert not playlist.notes


def test_a_bool_still_means_one_tag() -> None:
    playlist = MediaPlaylist(
        2, (Segment("a.ts", 2.0, "2.000"), Segment("b.ts", 2.0, "2.000", discontinuity=True))
    )
    assert playlist.render().count("#EXT-X-DISCONTINUITY\n") == 1
    assert [disc for _, disc, _ in playlist.numbered()] == [0, 1]
    assert parse_media_playlist(playlist.render()) == playlist  # True == 1


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=8), st.integers(0, 50))
def test_render_parse_round_trip_keeps_counts_and_numbers(counts: list[int], sequence: int) -> None:
    playlist = window(100, len(counts), dict(enumerate(counts, start=100)), sequence)
    again = parse_media_playlist(playlist.render())
    assert again == playlist
    assert list(again.numbered()) == list(playlist.numbered())
    assert again.render().count("#EXT-X-DISCONTINUITY\n") == sum(counts)


def test_validator_numbers_a_doubled_tag_as_two() -> None:
    """The doubled tag before MSN 3 leaves the window: DISCONTINUITY-SEQUENCE must go up by two
    (R8)."""
    good, bad = Checker(), Checker()
    before = window(0, 6, {3: 2}, 0)
    good.observe_media("http://t/v.m3u8", before.render(), T0 + 12.5, viewer="a")
    bad.observe_media("http://t/v.m3u8", before.render(), T0 + 12.5, viewer="a")
    good.observe_media("http://t/v.m3u8", window(4, 6, {}, 2).render(), T0 + 20.5, viewer="a")
    bad.observe_media("http://t/v.m3u8", window(4, 6, {}, 1).render(), T0 + 20.5, viewer="a")
    assert good.ok, [v.line() for v in good.violations]
    assert [v.rule for v in bad.violations] and {v.rule for v in bad.violations} == {"T1"}
