"""The origin emulator over HTTP (real aiohttp server on loopback, real media, fake clock)."""

from __future__ import annotations

import asyncio
import json

import pytest

from origin_emulator.app import create_app
from origin_emulator.book import SpliceBook
from stitcher.playlist import parse_master_playlist, parse_media_playlist
from stitcher.ts import scan


@pytest.fixture
async def origin(aiohttp_client, make_channel, clock):
    """A client for an origin serving the small `news` channel and a `sports` twin with cue-out
    cues."""
    book = SpliceBook(None)
    channels = {
        "news": make_channel(book=book),
        "sports": make_channel(
            book=book, name="sports", cue_format="cue-out", cue_command="time_signal", break_every=0
        ),
    }
    client = await aiohttp_client(create_app(channels, clock))
    client.channels = channels
    return client


async def media(client, channel="news", variant="hi"):
    response = await client.get(f"/{channel}/{variant}/index.m3u8")
    assert response.status == 200, await response.text()
    return parse_media_playlist(await response.text())


async def test_master_playlist(origin):
    response = await origin.get("/news/master.m3u8")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/vnd.apple.mpegurl")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    master = parse_master_playlist(await response.text())
    assert [v.uri for v in master.variants] == ["hi/index.m3u8", "lo/index.m3u8"]
    assert master.variants[0].resolution == (320, 180)
    assert master.variants[0].codecs.startswith("avc1.") and master.variants[0].codecs.endswith(
        ",mp4a.40.2"
    )
    assert master.variants[0].bandwidth > master.variants[1].bandwidth > 100_000
    assert not master.notes


async def test_live_media_playlist(origin, clock):
    response = await origin.get("/news/hi/index.m3u8")
    assert response.headers["Cache-Control"] == "public, max-age=1"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    playlist = parse_media_playlist(await response.text())
    timeline = origin.channels["news"].timeline
    assert playlist.target_duration == 2
    assert playlist.playlist_type is None and not playlist.endlist
    assert len(playlist.segments) == 6
    assert playlist.media_sequence == timeline.last_published(clock.now()) - 5
    for n, _, segment in playlist.numbered():
        assert segment.uri == f"seg_{n}.ts"
        assert segment.program_date_time.timestamp() == pytest.approx(timeline.start(n))
        assert segment.extinf == "2.000"
    clock.advance(2.0)
    later = await media(origin)
    assert later.media_sequence == playlist.media_sequence + 1
    assert later.segments[:-1] == playlist.segments[1:]


async def test_variants_agree(origin, clock):
    for _ in range(20):
        clock.advance(1.0)
        hi, lo = await media(origin, variant="hi"), await media(origin, variant="lo")
        assert hi.media_sequence == lo.media_sequence
        assert [s.program_date_time for s in hi.segments] == [
            s.program_date_time for s in lo.segments
        ]
        assert [s.tags for s in hi.segments] == [s.tags for s in lo.segments]


async def test_unknown_channel_variant_and_segment(origin, clock):
    for path in (
        "/nope/master.m3u8",
        "/news/nope/index.m3u8",
        "/news/hi/seg_x.ts",
        "/news/hi/seg_999999999999.ts",
    ):
        response = await origin.get(path)
        assert response.status == 404, path
        assert "error" in await response.json()
        assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_segments_are_the_loop_shifted_onto_the_live_timeline(origin, clock):
    playlist = await media(origin)
    timeline = origin.channels["news"].timeline
    for n, _, segment in playlist.numbered():
        response = await origin.get(f"/news/hi/{segment.uri}")
        assert response.status == 200
        assert response.headers["Content-Type"] == "video/mp2t"
        assert "immutable" in response.headers["Cache-Control"]
        info = scan(await response.read())
        assert info.stream("video").first_pts == timeline.pts(n)
    head = await origin.head(f"/news/hi/{playlist.segments[-1].uri}")
    assert head.status == 200


async def test_segment_availability_r12(origin, clock):
    timeline = origin.channels["news"].timeline
    last = timeline.last_published(clock.now())
    assert (await origin.get(f"/news/hi/seg_{last + 1}.ts")).status == 404  # not yet published
    clock.advance(timeline.window_seconds + 2.0)  # `last` has left the window...
    assert last not in timeline.window_range(clock.now())
    assert (await origin.get(f"/news/hi/seg_{last}.ts")).status == 200  # ...but is still served
    clock.set(timeline.end(last + timeline.window) + 2.0 + timeline.window_seconds + 0.5)
    assert (await origin.get(f"/news/hi/seg_{last}.ts")).status == 404


async def test_restart_continues_the_same_timeline(aiohttp_client, make_channel, clock, tmp_path):
    path = tmp_path / "splices.json"
    first = await aiohttp_client(create_app({"news": make_channel(book=SpliceBook(path))}, clock))
    response = await first.post("/control/news/splice", json={"duration": 6, "preroll": 4})
    assert response.status == 201
    clock.advance(7.0)
    before = await (await first.get("/news/hi/index.m3u8")).text()
    assert "EXT-X-DATERANGE" in before
    await first.close()
    # a new process: new objects, the same epoch and the same splice book on disk
    second = await aiohttp_client(create_app({"news": make_channel(book=SpliceBook(path))}, clock))
    assert await (await second.get("/news/hi/index.m3u8")).text() == before
    assert json.loads(path.read_text())["channels"]["news"]["splices"]


async def test_injected_origin_discontinuities(aiohttp_client, make_channel, clock):
    client = await aiohttp_client(create_app({"news": make_channel(discontinuity_every=5)}, clock))
    seen = 0
    for _ in range(30):
        clock.advance(2.0)
        playlist = await media(client)
        assert playlist.discontinuity_sequence > 0
        seen += sum(s.discontinuity for s in playlist.segments)
        for segment in playlist.segments:
            if segment.discontinuity:
                assert segment.program_date_time is not None
    assert seen > 0


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        ("{not json", 400, "not valid JSON"),
        ("[1, 2]", 400, "JSON object"),
        ("{}", 400, "duration"),
        ('{"duration": 0}', 400, "positive"),
        ('{"duration": -5}', 400, "positive"),
        ('{"duration": 1e9}', 400, "longer than"),
        ('{"duration": "30"}', 400, "number"),
        ('{"duration": 30, "preroll": -1}', 400, "preroll"),
        ('{"duration": 30, "format": "xml"}', 400, "format"),
        ('{"duration": 30, "command": "splice_null"}', 400, "command"),
        ('{"duration": 30, "colour": "red"}', 400, "unknown field"),
    ],
)
async def test_splice_request_errors(origin, body, status, fragment):
    response = await origin.post(
        "/control/news/splice", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == status
    assert fragment in (await response.json())["error"]


async def test_splice_on_unknown_channel(origin):
    response = await origin.post("/control/nope/splice", json={"duration": 30})
    assert response.status == 404


async def test_overlapping_splice_is_refused(origin, clock):
    first = await origin.post("/control/news/splice", json={"duration": 10, "preroll": 4})
    assert first.status == 201
    second = await origin.post("/control/news/splice", json={"duration": 10, "preroll": 6})
    assert second.status == 409
    assert "overlap" in (await second.json())["error"]


async def test_a_splice_may_not_overlap_a_later_scheduled_break(origin, clock):
    timeline = origin.channels["news"].timeline
    upcoming = [
        s
        for s in origin.channels["news"].splices(clock.now(), until=clock.now() + 120)
        if s.source == "schedule"
    ]
    target = next(
        s for s in upcoming if timeline.start(s.start) - clock.now() > 20
    )  # beyond the 8 s announcement
    preroll = timeline.start(target.start) - clock.now() - 2
    response = await origin.post("/control/news/splice", json={"duration": 10, "preroll": preroll})
    assert response.status == 409, await response.text()
    assert f"splice {target.event_id}" in (await response.json())["error"]


async def test_splice_lands_on_a_segment_boundary_after_the_preroll(origin, clock):
    now = clock.now()
    response = await origin.post("/control/news/splice", json={"duration": 9, "preroll": 5})
    splice = await response.json()
    timeline = origin.channels["news"].timeline
    assert timeline.start(splice["start_msn"]) >= now + 5
    assert timeline.start(splice["start_msn"]) < now + 5 + 2
    assert splice["duration"] == 10.0  # snapped to whole segments (9 s -> 5 x 2 s)
    assert splice["state"] == "pending" and splice["source"] == "control"


async def test_return_to_network_early(origin, clock):
    timeline = origin.channels["sports"].timeline
    splice = await (
        await origin.post("/control/sports/splice", json={"duration": 20, "preroll": 0})
    ).json()
    clock.set(timeline.end(splice["start_msn"] + 2) + 0.5)  # three break segments are out
    response = await origin.delete(f"/control/sports/splice/{splice['id']}")
    assert response.status == 200
    ended = await response.json()
    returned = ended["end_msn"]
    assert ended["returned_early"] and returned == timeline.in_production(clock.now())
    clock.set(timeline.end(returned) + 0.1)
    playlist = await media(origin, "sports")
    by_msn = {n: s for n, _, s in playlist.numbered()}
    assert [t.name for t in by_msn[returned].tags] == ["EXT-X-CUE-IN"]
    assert by_msn[returned - 1].has_tag("EXT-X-CUE-OUT-CONT")
    again = await origin.delete(f"/control/sports/splice/{splice['id']}")
    assert again.status == 409


async def test_cancel_before_anything_is_published_removes_the_splice(origin, clock):
    splice = await (
        await origin.post("/control/sports/splice", json={"duration": 10, "preroll": 20})
    ).json()
    response = await origin.delete(f"/control/sports/splice/{splice['id']}")
    assert (await response.json())["state"] == "cancelled"
    assert (await origin.delete(f"/control/sports/splice/{splice['id']}")).status == 404
    clock.advance(40)
    playlist = await media(origin, "sports")
    assert not any(s.tags for s in playlist.segments if s.has_tag("EXT-X-CUE-OUT"))


async def test_cancel_after_a_daterange_announcement_adds_a_cancel_range(origin, clock):
    splice = await (
        await origin.post("/control/news/splice", json={"duration": 10, "preroll": 8})
    ).json()
    clock.advance(2.0)  # the OUT range is published with a future START-DATE
    playlist = await media(origin)
    assert [d.id for d in playlist.dateranges] == [f"splice-{splice['id']}"]
    await origin.delete(f"/control/news/splice/{splice['id']}")
    clock.advance(2.0)
    playlist = await media(origin)
    ids = [d.id for d in playlist.dateranges]
    assert ids == [f"splice-{splice['id']}", f"splice-{splice['id']}-cancel"]
    assert playlist.dateranges[1].attributes.raw("SCTE35-CMD").startswith("0xFC")


async def test_list_splices_and_channels(origin, clock):
    await origin.post("/control/news/splice", json={"duration": 10, "preroll": 4})
    listed = await (await origin.get("/control/news/splices")).json()
    assert any(s["source"] == "control" for s in listed["splices"])
    assert any(s["source"] == "schedule" for s in listed["splices"])
    channels = await (await origin.get("/control/channels")).json()
    assert {c["name"] for c in channels["channels"]} == {"news", "sports"}
    health = await (await origin.get("/healthz")).json()
    assert health["ok"]


async def test_cors_preflight(origin):
    response = await origin.options("/control/news/splice")
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


@pytest.mark.parametrize(
    "overrides",
    [
        {},  # daterange cues, splice_insert
        {"cue_format": "cue-out", "cue_command": "time_signal", "discontinuity_every": 9},
    ],
)
async def test_validate_over_http_for_ten_minutes(aiohttp_server, make_channel, clock, overrides):
    """`rig validate`'s poller against the real origin app: playlists, HEADed segments, CORS,
    R12."""
    from rig.validate import validate
    from tests.driving import drive

    channel = make_channel(**overrides)
    server = await aiohttp_server(create_app({"news": channel}, clock))
    url = str(server.make_url("/news/master.m3u8"))
    checker = await drive(
        clock, validate(url, seconds=600, viewers=3, clock=clock, check_segments=True), sleepers=3
    )
    summary = checker.summary()
    assert summary["violations"] == 0, [v.line() for v in checker.violations[:10]]
    assert summary["segments_seen"] >= 2 * 300
    assert sum(summary["reloads_per_viewer"].values()) >= 3 * 2 * 500
    assert (
        len(channel.splices(clock.now(), since=clock.now() - 600)) >= 10
    )  # breaks happened meanwhile


async def test_origin_faults_switched_on_over_the_control_api(origin, clock):
    """Each fault QA can switch on (origin_emulator.faults), for its seconds, on one channel's
    media playlists only; then the origin is well again."""
    before = await media(origin)

    async def fault(body: dict) -> dict:
        response = await origin.post("/control/news/fault", json=body)
        assert response.status == 201, await response.text()
        return await response.json()

    on = await fault({"fault": "error", "seconds": 4, "status": 500})
    assert on["fault"] == "error" and on["status"] == 500 and on["left"] == 4
    response = await origin.get("/news/hi/index.m3u8")
    assert response.status == 500
    assert (await origin.get("/news/lo/index.m3u8")).status == 500  # every variant
    assert (await origin.get("/sports/hi/index.m3u8")).status == 200  # that channel only
    assert (await origin.get(f"/news/hi/{before.segments[-1].uri}")).status == 200  # segments
    assert (await (await origin.get("/control/news/fault")).json())["fault"]["fault"] == "error"
    clock.advance(4.0)
    assert (await media(origin)).media_sequence == before.media_sequence + 2  # over
    assert (await (await origin.get("/control/news/fault")).json())["fault"] is None

    await fault({"fault": "garbage", "seconds": 2})
    response = await origin.get("/news/hi/index.m3u8")
    assert response.status == 200 and "#EXTM3U" not in await response.text()
    assert (await origin.delete("/control/news/fault")).status == 200  # switched off early
    assert (await origin.delete("/control/news/fault")).status == 404
    now = await media(origin)

    await fault({"fault": "rewind", "seconds": 6, "back": 4})
    assert (await media(origin)).media_sequence == now.media_sequence - 2
    await origin.delete("/control/news/fault")

    await fault({"fault": "freeze", "seconds": 6})
    clock.advance(4.0)
    frozen = await media(origin)
    assert frozen.media_sequence == now.media_sequence and frozen.segments == now.segments
    clock.advance(2.0)
    assert (await media(origin)).media_sequence == now.media_sequence + 3

    moved = await media(origin)
    await fault({"fault": "timeout", "seconds": 3})
    request = asyncio.ensure_future(origin.get("/news/hi/index.m3u8"))
    await asyncio.sleep(0.05)
    assert not request.done()  # no answer while the fault is on
    clock.advance(3.0)
    response = await asyncio.wait_for(request, 5)
    late = parse_media_playlist(await response.text())
    assert response.status == 200 and late.media_sequence >= moved.media_sequence + 1


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"fault": "flood", "seconds": 2}, "fault must be one of"),
        ({"fault": "error"}, "seconds must be in"),
        ({"fault": "error", "seconds": 0}, "seconds must be in"),
        ({"fault": "error", "seconds": 601}, "seconds must be in"),
        ({"fault": "error", "seconds": "5"}, "seconds must be a number"),
        ({"fault": "error", "seconds": 5, "status": 200}, "HTTP error status"),
        ({"fault": "rewind", "seconds": 5, "back": -1}, "back must be in"),
        ({"fault": "error", "seconds": 5, "colour": "red"}, "unknown field"),
    ],
)
async def test_origin_fault_request_errors(origin, body, fragment):
    response = await origin.post("/control/news/fault", json=body)
    assert response.status == 400
    assert fragment in (await response.json())["error"]
    assert (await (await origin.get("/control/news/fault")).json())["fault"] is None
