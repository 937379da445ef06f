"""A whole SSAI pipeline on a fake clock, built fresh for each use (a property-test example, a golden case).

The `rig` fixture of conftest.py builds the same stack once per test; hypothesis does not re-run
fixtures per example, and the golden-file generator wants one clean stack per case, so here it is
an async context manager: origin emulator served over HTTP (aiohttp test server), a catalog with
stocked house ads and slate, a SQLite KV holding the break ledger, and the real monitor polling
the origin. `Stack` also does what the /cue API does (`cue`, `return_now`) and renders what a
stitcher replica serves (`stitched`), with fixed stand-ins for the conditioned ad and slate
playlists (2 s segments under each ad path, as tests/test_ssai.py uses).

Side effects: a local HTTP server, SQLite files under the given directory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from origin_emulator.app import create_app as create_origin
from origin_emulator.book import SpliceBook
from origin_emulator.channel import LiveChannel
from origin_emulator.content import ContentMedia
from rig.channels import emulator_channel
from rig.settings import Settings
from stitcher.breaks import BreakLedger, BreakRecord, Grid, Ledger, Retention, plan_break, shorten
from stitcher.catalog import Catalog, Channel
from stitcher.clock import FakeClock
from stitcher.decision import HouseDecisions
from stitcher.kv import KV, open_kv
from stitcher.monitor import Monitor
from stitcher.playlist import MediaPlaylist, Segment
from stitcher.service import RESUME_NAME
from stitcher.ssai import VodMedia, stitch
from tests.conftest import MEDIA, stock

CHANNEL = "news"
ORIGIN_BASE = "http://origin.test"  # how stitched playlists name origin segments (a stand-in, stable across runs)
VARIANTS = ("hi", "lo")


def origin_url(variant: str) -> str:
    """The origin media playlist URL the stitcher resolves segment URIs against (fixed, for stable bytes)."""
    return f"{ORIGIN_BASE}/{CHANNEL}/{variant}/index.m3u8"


def resume_url(variant: str) -> str:
    """Where the service serves the content segment a break returns to (`stitcher.service.RESUME_NAME`)."""
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
    """The same rendered loop announcing other segment durations (an origin whose EXTINFs are not nominal)."""
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

    def bandwidth(self, variant: str) -> int:
        return next(r.bandwidth for r in self.channel.ladder if r.name == variant)

    async def state(self) -> tuple[list[BreakRecord], Ledger]:
        """What a stitcher reads from the KV for one request: the break records and one ledger read."""
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

    def grid(self) -> Grid:
        """The writer's fresh look at the origin (the same playlist the origin serves over HTTP now)."""
        return Grid.of(
            self.origin.media(VARIANTS[-1], self.clock.now()), self.channel.segment_duration
        )

    async def cue(self, duration: float, start: float | None = None) -> BreakRecord:
        """POST /v1/channels/news/cue: a manual break (raises BreakError when refused)."""
        now = self.clock.now()
        number = await self.kv.incr(f"cue:{CHANNEL}:next")
        event_id = f"manual-{number}"
        pod = await self.decisions.decide(self.channel, float(duration), event_id)
        record = plan_break(
            CHANNEL,
            event_id,
            "manual",
            now if start is None else start,
            float(duration),
            pod,
            self.grid(),
            now,
        )
        stored, _ = await self.ledger.create(record, now)
        return stored

    async def return_now(self, event_id: str) -> BreakRecord:
        """DELETE /v1/channels/news/breaks/{eventId}: return to network early, or cancel (raises BreakError)."""
        now = self.clock.now()
        record = await self.ledger.get(CHANNEL, event_id)
        if record is None:
            raise LookupError(event_id)
        return await self.ledger.update(record, shorten(record, self.grid(), now), now)


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
        yield Stack(origin, channel, catalog, kv, ledger, monitor, decisions, clock, media, slate)
    finally:
        await session.close()
        await kv.close()
        catalog.close()
        await server.close()
