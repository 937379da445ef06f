"""The pure SSAI core over the real pipeline: origin (fake clock) -> monitor -> ledger (KV) ->
stitch.

Every stitched playlist, for every viewer and variant, goes through the validator (T1-T4, R1-R14):
slots keep the origin's numbers and times, splices and returns carry DISCONTINUITY, and the
DISCONTINUITY-SEQUENCE keeps every segment's number across reloads while breaks come and go.
Also over origins with their own discontinuities (a splice or return there renders both tags),
back-to-back breaks, and origins whose EXTINFs are not exactly the nominal segment duration.
(Random schedules: tests/test_ssai_property.py; exact bytes: tests/test_golden.py.)
"""

from __future__ import annotations

import random

import pytest

from origin_emulator.config import CUE_COMMANDS, CUE_FORMATS
from rig.validator import Checker
from stitcher.playlist import Segment
from stitcher.ssai import SsaiError, VodMedia, stitch
from tests.conftest import MEDIA
from tests.driving import random_qa_cues
from tests.ssai_stack import VARIANTS, ssai_stack, with_durations


def vod_media(catalog, channel) -> tuple[dict[str, VodMedia], dict[int, str]]:
    """Stand-ins for the conditioned playlists the shell would fetch: 2 s segments under each
    path."""
    media, slate = {}, {}
    for rendition in catalog.ad_renditions(channel.conditioning.key):
        url = MEDIA + rendition.path
        folder = url.rsplit("/", 1)[0]
        segments = tuple(
            Segment(f"{folder}/seg_{k:05d}.ts", 2.0, "2.000") for k in range(rendition.segments)
        )
        media[url] = VodMedia(url, segments)
        if rendition.ad_id == "slate":
            slate[rendition.bandwidth] = url
    return media, slate


async def render(rig, variant, now, media, slate):
    rung = next(r for r in rig.channel.ladder if r.name == variant)
    origin = rig.origin.media(variant, now)
    records = await rig.ledger.records("news")
    ledger = await rig.ledger.ledger("news")
    url = f"http://origin.test/news/{variant}/index.m3u8"
    return stitch(origin, url, records, ledger, 2.0, rung.bandwidth, media, slate[rung.bandwidth])


async def test_stitched_playlists_keep_the_timeline_for_every_viewer(rig, clock):
    media, slate = vod_media(rig.catalog, rig.channel)
    rng = random.Random(7)
    checker = Checker()
    posted, ads_seen, discontinuities = [], set(), 0
    start = clock.now()
    round_id = 0
    while clock.now() - start < 20 * 60:  # twenty minutes of stream
        clock.advance(0.5)
        now = clock.now()
        random_qa_cues(rng, rig.origin, now, posted)
        if round(now * 2) % 2 == 0:
            await rig.monitor.poll(rig.channel)
        viewer = int(now * 2) % 3
        round_id += 1
        for variant in ("hi", "lo"):
            playlist = await render(rig, variant, now, media, slate)
            ads_seen |= {
                s.uri.split("/ads/")[1].split("/")[0] for s in playlist.segments if "/ads/" in s.uri
            }
            discontinuities = max(discontinuities, playlist.discontinuity_sequence)
            checker.observe_media(
                f"http://stitcher.test/ssai/news/{variant}.m3u8",
                playlist.render(),
                now,
                viewer=f"v{viewer}",
                round_id=round_id,
            )
    assert checker.summary()["violations"] == 0, [v.line() for v in checker.violations[:10]]
    assert (await rig.ledger.ledger("news")).total >= 20 and len(
        posted
    ) >= 8  # breaks really happened (old records have expired)
    assert ads_seen >= {"house-1", "house-2"} and discontinuities >= 10


async def test_slots_splices_and_returns(rig, clock):
    media, slate = vod_media(rig.catalog, rig.channel)
    tl = rig.origin.timeline
    splice = rig.origin.post_splice(clock.now(), 8, 8, "daterange", "splice_insert")
    while (
        tl.last_published(clock.now()) < splice.end
    ):  # the 6-segment window holds the whole break and the return
        clock.advance(1.0)
        await rig.monitor.poll(rig.channel)
    (record,) = await rig.ledger.records("news")
    playlist = await render(rig, "hi", clock.now(), media, slate)
    by_msn = {n: s for n, _, s in playlist.numbered()}
    first, back = splice.start, splice.end
    assert by_msn[first].discontinuity and "/ads/" in by_msn[first].uri
    assert (
        by_msn[back].discontinuity
        and by_msn[back].uri == f"http://origin.test/news/hi/seg_{back}.ts"
    )
    origin = {n: s for n, _, s in rig.origin.media("hi", clock.now()).numbered()}
    for n in range(first, back):
        assert (
            by_msn[n].extinf == origin[n].extinf
            and by_msn[n].program_date_time == origin[n].program_date_time
        )
        assert "/ads/" in by_msn[n].uri or "/slate/" in by_msn[n].uri
    assert (
        sum(s.discontinuity for s in playlist.segments) + playlist.discontinuity_sequence
        == record.ledger_after
    )


def test_no_pdt_is_a_clear_error():
    from stitcher.breaks import Ledger
    from stitcher.playlist import parse_media_playlist

    origin = parse_media_playlist(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,\na.ts\n#EXTINF:2.000,\nb.ts\n"
        "#EXTINF:2.000,\nc.ts\n"
    )
    with pytest.raises(SsaiError, match="PROGRAM-DATE-TIME"):
        stitch(origin, "http://o/x.m3u8", [], Ledger(), 2.0, 1000, {}, "http://s/slate.m3u8")


# ------------------------------------------------------------ origin discontinuities, odd durations


async def play_break(
    stack, until: int, checker: Checker | None = None, seen: dict | None = None
) -> dict[int, dict[str, Segment]]:
    """Run the fake clock (monitor every second, both variants stitched every half second and fed to
    the validator) until the origin has published segment `until`; every stitched segment by MSN and
    variant."""
    checker = checker or Checker()
    seen = {} if seen is None else seen
    clock, timeline = stack.clock, stack.origin.timeline
    while timeline.last_published(clock.now()) < until:
        clock.advance(0.5)
        if clock.now() % 1 == 0.5:
            await stack.monitor.poll(stack.channel)
        for variant in VARIANTS:
            playlist = await stack.stitched(variant)
            checker.observe_media(
                f"http://stitcher.test/ssai/news/{variant}.m3u8",
                playlist.render(),
                clock.now(),
                viewer="v",
                round_id=clock.now(),
            )
            for msn, _, segment in playlist.numbered():
                seen.setdefault(msn, {})[variant] = segment
    assert checker.summary()["violations"] == 0, [v.line() for v in checker.violations[:10]]
    return seen


async def test_splices_and_returns_on_origin_discontinuities_render_both_tags(
    small_settings, small_content, tmp_path, clock
):
    """A splice or return on a segment with an origin DISCONTINUITY renders the origin's tag and the
    stitcher's (R7 counts tags: both the origin's DISCONTINUITY-SEQUENCE and the ledger count them);
    a slot that is not a splice keeps the origin's tag; numbers hold while the pairs leave the
    window (T1)."""
    async with ssai_stack(
        small_settings, small_content, tmp_path, clock, discontinuity_every=3
    ) as stack:
        timeline = stack.origin.timeline
        now = clock.now()
        preroll = next(p for p in range(8, 40) if timeline.first_at_or_after(now + p) % 3 == 0)
        splice = stack.origin.post_splice(now, 12, preroll, "daterange", "splice_insert")
        assert (splice.start % 3, splice.end % 3) == (0, 0)
        seen = await play_break(stack, splice.end + 8)  # until the return has left the window
        (record,) = await stack.ledger.records("news")
        assert record.ad_start == timeline.start(splice.start) and record.end == timeline.start(
            splice.end
        )
        for msn in range(splice.start, splice.end + 1):
            points = sum(abs(p - timeline.start(msn)) < 1.0 for p in record.points)
            for segment in seen[msn].values():
                assert segment.discontinuity == int(timeline.discontinuity(msn)) + points, msn
                assert segment.program_date_time is not None or not segment.discontinuity  # P1
        assert all(
            s.discontinuity == 2 for s in seen[splice.start].values()
        )  # splice on an origin discontinuity
        assert all(
            s.discontinuity == 2 and "/ads/" not in s.uri for s in seen[splice.end].values()
        )  # return on one
        middle = splice.start + 3  # an origin discontinuity inside the break
        expected = 2 if any(abs(p - timeline.start(middle)) < 1 for p in record.points) else 1
        assert all(s.discontinuity == expected and "/ads/" in s.uri for s in seen[middle].values())


async def test_a_break_starting_at_the_return_of_the_previous_one_renders_both_tags(
    small_settings, small_content, tmp_path, clock
):
    """Back-to-back breaks: the ledger counts the first one's return and the second one's splice on
    the same segment, so two tags are rendered there."""
    async with ssai_stack(small_settings, small_content, tmp_path, clock) as stack:
        now = clock.now()
        first = stack.origin.post_splice(now, 8, 8, "daterange", "splice_insert")
        second = stack.origin.post_splice(
            now, 8, stack.origin.timeline.start(first.stop) - now, "daterange", "time_signal"
        )
        assert second.start == first.stop
        seen = await play_break(stack, second.end + 8)
        records = await stack.ledger.records("news")
        assert len(records) == 2 and records[0].end == records[1].ad_start
        assert all(s.discontinuity == 2 and "/ads/" in s.uri for s in seen[second.start].values())
        assert all(s.discontinuity == 1 for s in seen[first.start].values()) and all(
            s.discontinuity == 1 for s in seen[second.end].values()
        )


@pytest.mark.parametrize(
    "durations", [(2.002, 1.998, 2.002, 1.998), (2.02, 2.02, 2.02, 2.02)], ids=["jitter", "drift"]
)
async def test_slots_keep_the_origins_extinf_and_pdt_when_segments_are_not_nominal(
    small_settings, small_content, tmp_path, clock, durations
):
    """An origin whose EXTINFs are not exactly the nominal 2 s (jitter, or a steady 20 ms drift that
    puts PDTs up to a few hundred ms off the nominal grid — less than half a segment): the
    half-segment tolerance of `slot_at`/`returns_at` places slots and returns, every slot keeps the
    origin's EXTINF and PDT, and each pod item plays its conditioned segments in order."""
    content = with_durations(small_content, durations)
    async with ssai_stack(small_settings, content, tmp_path, clock) as stack:
        checker, splices, seen = Checker(), [], {}
        for k, fmt in enumerate(CUE_FORMATS):
            splices.append(stack.origin.post_splice(clock.now(), 16, 10, fmt, CUE_COMMANDS[k % 2]))
            await play_break(stack, splices[-1].end + 2, checker, seen)
        records = await stack.ledger.records("news")
        assert len(records) == len(CUE_FORMATS)
        for n, by_variant in seen.items():
            for variant, segment in by_variant.items():
                assert segment.extinf == f"{stack.origin.timeline.duration(n):.3f}"
                assert (
                    segment.program_date_time is None
                    or segment.program_date_time.timestamp()
                    == pytest.approx(stack.origin.timeline.start(n), abs=5e-4)
                )
        for splice, record in zip(splices, records):
            timeline = stack.origin.timeline
            assert record.end == pytest.approx(
                timeline.start(splice.end), abs=1.0
            )  # on the origin's grid, give or take the drift
            first = next(
                n
                for n in range(splice.start, splice.end)
                if timeline.start(n) > record.ad_start - 1.0
            )
            slots = [seen[n]["hi"].uri for n in range(first, splice.end)]
            assert len(slots) >= 4 and all("/ads/" in uri for uri in slots), slots
            assert (
                "/ads/" not in seen[first - 1]["hi"].uri
                and "/ads/" not in seen[splice.end]["hi"].uri
            )
            order = [
                (uri.rsplit("/", 2)[0], int(uri.rsplit("_", 1)[1].split(".")[0])) for uri in slots
            ]
            for (folder, index), (next_folder, next_index) in zip(order, order[1:]):
                assert (
                    next_index == (index + 1 if next_folder == folder else 0) or "slate" in folder
                ), order
            assert (
                seen[first]["hi"].discontinuity == 1 and seen[splice.end]["hi"].discontinuity == 1
            )
