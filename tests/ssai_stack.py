"""A whole SSAI pipeline on a fake clock, built fresh for each use (a property-test example, a
golden case).

The `rig` fixture of conftest.py builds the same stack once per test; hypothesis does not re-run
fixtures per example, and the golden-file generator wants one clean stack per case, so here it is
an async context manager: origin emulator served over HTTP (aiohttp test server), a catalog with
stocked house ads and slate, a SQLite KV holding the break ledger, the real monitor polling
the origin, and the real stitcher app (`stitcher.app.create_app`, on a loopback test server) for
the break API: `cue` and `return_now` are its POST /v1/channels/news/cue and
DELETE /v1/channels/news/breaks/{eventId}. `stitched` renders what a stitcher replica serves with
the pure core, with fixed stand-ins for the conditioned ad and slate playlists (2 s segments under
each ad path, as tests/test_ssai.py uses).

Side effects: two local HTTP servers, SQLite files under the given directory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from origin_emulator.app import create_app as create_origin
from origin_emulator.book import SpliceBook
from origin_emulator.channel import LiveChannel
from origin_emulator.content import ContentMedia
from rig.channels import emulator_channel
from rig.settings import Settings
from stitcher.app import StreamOptions, create_app
from stitcher.breaks import BreakError, BreakLedger, BreakRecord, Ledger, Retention
from stitcher.catalog import Catalog, Channel
from stitcher.clock import FakeClock
from stitcher.decision import HouseDecisions
from stitcher.kv import KV, open_kv
from stitcher.monitor import Monitor
from stitcher.playlist import MediaPlaylist, Segment, format_datetime
from stitcher.service import RESUME_NAME
from stitcher.ssai import VodMedia, stitch
from tests.conftest import MEDIA, stock

CHANNEL = "news"
# how stitched playlists name origin segments (a stand-in, stable across runs)
ORIGIN_BASE = "http://origin.test"
VARIANTS = ("hi", "lo")


def origin_url(variant: str) -> str:
    """The origin media playlist URL the stitcher resolves segment URIs against (fixed, for stable
    bytes)."""
    return f"{ORIGIN_BASE}/{CHANNEL}/{variant}/index.m3u8"


def resume_url(variant: str) -> str:
    """Where the service serves the content segment a break returns to
    (`stitcher.service.RESUME_NAME`)."""
    return f"{variant}/{RESUME_NAME}"


def vod_media(catalog: Catalog, channel: Channel) -> tuple[dict[str, VodMedia], dict[int, str]]:
    """Stand-ins for the conditioned playlists the shell would fetch: 2 s segments under each path;
    and the slate playlist URL per bandwidth."""
    media, slate = {}, {}
    for rendition in catalog.ad_renditions(channel.conditioning.key):
        url = MEDIA + rendition.path
        media[url] = VodMedia(url, stand_in_segments(url, rendition.segments))
        if rendition.ad_id == "slate":
            slate[rendition.bandwidth] = url
    return media, slate


def stand_in_segments(url: str, count: int, duration: float = 2.0) -> tuple[Segment, ...]:
    """`count` segments `seg_00000.ts`... next to the playlist at `url`."""
    folder = url.rsplit("/", 1)[0]
    return tuple(
        Segment(f"{folder}/seg_{k:05d}.ts", duration, f"{duration:.3f}") for k in range(count)
    )


def with_durations(content: ContentMedia, durations: tuple[float, ...]) -> ContentMedia:
    """The same rendered loop announcing other segment durations (an origin whose EXTINFs are not
    nominal)."""
    if len(durations) != len(content.durations):
        raise ValueError(
            f"the loop has {len(content.durations)} segments, got {len(durations)} durations"
        )
    renditions = tuple(
        dataclasses.replace(
            r,
            segments=tuple(
                dataclasses.replace(s, duration=d) for s, d in zip(r.segments, durations)
            ),
        )
        for r in content.renditions
    )
    return dataclasses.replace(content, renditions=renditions)


@dataclasses.dataclass
class Stack:
    origin: LiveChannel
    channel: Channel
    catalog: Catalog
    kv: KV
    ledger: BreakLedger
    monitor: Monitor
    decisions: HouseDecisions
    clock: FakeClock
    media: dict[str, VodMedia]
    slate: dict[int, str]
    api: TestClient  # the stitcher app (its break API reads the origin over HTTP for its grid)

    def bandwidth(self, variant: str) -> int:
        return next(r.bandwidth for r in self.channel.ladder if r.name == variant)

    async def state(self) -> tuple[list[BreakRecord], Ledger]:
        """What a stitcher reads from the KV for one request: the break records and one ledger
        read."""
        return await self.ledger.records(CHANNEL), await self.ledger.ledger(CHANNEL)

    def stitch(
        self, variant: str, origin: MediaPlaylist, records: list[BreakRecord], ledger: Ledger
    ) -> MediaPlaylist:
        bandwidth = self.bandwidth(variant)
        return stitch(
            origin,
            origin_url(variant),
            records,
            ledger,
            self.channel.segment_duration,
            bandwidth,
            self.media,
            self.slate[bandwidth],
            resume_url=resume_url(variant),
        )

    async def stitched(self, variant: str) -> MediaPlaylist:
        """The SSAI playlist of `variant` now, as any stitcher replica would serve it."""
        records, ledger = await self.state()
        return self.stitch(variant, self.origin.media(variant, self.clock.now()), records, ledger)

    async def cue(self, duration: float, start: float | None = None) -> BreakRecord:
        """POST /v1/channels/news/cue: a manual break (raises BreakError when refused)."""
        body = {"duration": duration}
        if start is not None:
            body["start"] = format_datetime(start)
        return await self._break_call("POST", f"/v1/channels/{CHANNEL}/cue", body, 201)

    async def return_now(self, event_id: str) -> BreakRecord:
        """DELETE /v1/channels/news/breaks/{eventId}: return to network early, or cancel (raises
        BreakError when refused, LookupError for an unknown break)."""
        return await self._break_call("DELETE", f"/v1/channels/{CHANNEL}/breaks/{event_id}")

    async def _break_call(
        self, method: str, path: str, body: dict | None = None, expected: int = 200
    ) -> BreakRecord:
        """One call of the stitcher's break API: the record it answered, as the ledger now holds it.
        409 (the app's status for a BreakError) raises BreakError, 404 LookupError, anything else
        unexpected fails the test."""
        async with self.api.request(method, path, json=body) as response:
            answer = await response.json()
        if response.status == 409:
            raise BreakError(answer["error"])
        if response.status == 404:
            raise LookupError(answer["error"])
        assert response.status == expected, f"{method} {path} {body}: {response.status} {answer}"
        record = await self.ledger.get(CHANNEL, answer["eventId"])
        view = {key: value for key, value in answer.items() if key != "state"}
        assert record is not None and record.to_json() == view, (answer, record)
        return record


@asynccontextmanager
async def ssai_stack(
    settings: Settings,
    content: ContentMedia,
    directory: Path,
    clock: FakeClock,
    **overrides,
) -> AsyncIterator[Stack]:
    """A fresh stack for the `news` channel with config `overrides` (e.g. discontinuity_every=5)."""
    config = dataclasses.replace(settings.channels[0], **{"break_every": 0, **overrides})
    config.check()
    origin = LiveChannel(
        config, content, settings.origin.epoch, settings.origin.window_segments, SpliceBook(None)
    )
    server = TestServer(create_origin({CHANNEL: origin}, clock))
    await server.start_server()
    catalog = Catalog(directory / "channels.db")
    kv = open_kv(f"sqlite://{directory}/kv.db", clock)
    await kv.start()
    session = aiohttp.ClientSession()
    api = None
    try:
        channel = dataclasses.replace(
            emulator_channel(config, content, settings),
            origin_url=str(server.make_url(f"/{CHANNEL}/master.m3u8")),
        )
        catalog.put_channel(channel)
        stock(catalog, channel)
        channel = catalog.channel(CHANNEL)
        ledger = BreakLedger(kv, lambda slug: Retention(window=channel.window_seconds))
        decisions = HouseDecisions(catalog, MEDIA)
        monitor = Monitor(catalog, ledger, decisions, session, clock)
        media, slate = vod_media(catalog, channel)
        app = create_app(
            catalog, decisions, clock, ledger, session, "", StreamOptions(ads_base_url=MEDIA)
        )
        api = TestClient(TestServer(app))
        await api.start_server()
        yield Stack(
            origin, channel, catalog, kv, ledger, monitor, decisions, clock, media, slate, api
        )
    finally:
        if api is not None:
            await api.close()
        await session.close()
        await kv.close()
        catalog.close()
        await server.close()
