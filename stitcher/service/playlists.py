"""The playlist service: one render per change of its inputs, shared by every viewer; the
breaks of a window, and when the slate can stand in for an ad that cannot be read.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urljoin

from stitcher.breaks import BreakRecord, Grid
from stitcher.catalog import Catalog, CatalogError, Channel, Rung
from stitcher.clock import Clock
from stitcher.decision import DecisionError, library, map_variants
from stitcher.errors import NotFound
from stitcher.feeds import (
    AdPlaylistUnavailable,
    BreakViews,
    OriginFeed,
    Versioned,
    VodLibrary,
    master_of,
    single_flight,
)
from stitcher.metrics import Metrics
from stitcher.modes import BreakView, passthrough, rewrite_master
from stitcher.origin import OriginUnavailable, on_site
from stitcher.playlist import MediaPlaylist, format_datetime
from stitcher.served import Rendering, Served
from stitcher.service.rendered import Rendered, Slate
from stitcher.service.resume import RESUME_NAME
from stitcher.sgai import interleave, late_announcements
from stitcher.ssai import VodMedia, pdts, stitch

CATALOG_TTL = 5.0  # seconds a channel row or its slate is reused before the catalog is read again


ORIGIN_HITS = (("origin",), ("render",))  # the caches a cached passthrough answer comes from
WINDOW_HITS = (("origin",), ("breaks",), ("render",))  # ... and an SSAI or SGAI one


log = logging.getLogger("stitcher.service")


@dataclass(frozen=True)
class _Row:
    """A channel row as read from the catalog, and when, with its variants' origin URLs."""

    at: float
    channel: Channel
    urls: dict[str, str]  # variant name -> the origin's media playlist URL
    foreign: frozenset[str]  # variants whose URL is not on the origin's server (never read)

    @classmethod
    def of(cls, at: float, channel: Channel) -> _Row:
        ladder = reversed(channel.ladder)  # the first rung of a name wins, as in `rung`
        urls = {r.name: urljoin(channel.origin_url, r.uri) for r in ladder if r.uri}
        foreign = frozenset(n for n, u in urls.items() if not on_site(u, channel.origin_url))
        return cls(at, channel, urls, foreign)


SEEN_FOR = 3600.0  # seconds after its interstitial's end that a break instance is remembered


class PlaylistService:
    """Master and media playlists of every channel in every mode (see the module docstring)."""

    def __init__(
        self,
        catalog: Catalog,
        clock: Clock,
        origin: OriginFeed,
        views: BreakViews,
        vods: VodLibrary,
        metrics: Metrics,
        ads_base_url: str,
    ):
        self.catalog, self.clock, self.origin, self.views, self.vods = (
            catalog,
            clock,
            origin,
            views,
            vods,
        )
        self.metrics, self.ads_base_url = metrics, ads_base_url
        self._rendered: dict[tuple[str, str, str], tuple[tuple, Rendered]] = {}
        self._rendered_at: dict[
            tuple[str, str, str], float
        ] = {}  # when each cached media render was made
        # (channel, break instance, conditioned playlist URL) -> the playlist standing in ("" =
        # origin)
        self._stand_ins: dict[tuple[str, str, str], str] = {}
        self._channels: dict[str, _Row] = {}
        self._slates: dict[str, tuple[float, Slate]] = {}
        self._flights: dict[tuple[str, str, str], asyncio.Future] = {}
        # (channel, variant, mode) -> until when `cached_media` may answer it, and what
        self._fresh: dict[tuple[str, str, str], tuple[float, Rendered]] = {}
        # SGAI, per channel: the break instances seen, the newest segment end served, and the
        # breaks learnt of too late for their usual announcement (stitcher.sgai.late_announcements)
        self._sgai_seen: dict[str, dict[str, float]] = {}  # entry -> its interstitial's end
        self._sgai_served: dict[str, float] = {}
        self._sgai_late: dict[str, dict[str, float]] = {}
        self._ssai_served: dict[str, Served] = {}  # SSAI, per channel (stitcher.served)

    # ------------------------------------------------------------------ catalog (cached)

    async def channel(self, slug: str) -> Channel:
        return (await self._row(slug)).channel

    async def _row(self, slug: str) -> _Row:
        now = self.clock.now()
        cached = self._channels.get(slug)
        if cached is not None and now - cached.at < CATALOG_TTL:
            return cached
        try:
            channel = await asyncio.to_thread(self.catalog.channel, slug)
        except CatalogError as exc:
            raise NotFound(str(exc)) from None
        self._channels[slug] = row = _Row.of(now, channel)
        return row

    def rung(self, channel: Channel, name: str) -> Rung:
        for rung in channel.ladder:
            if rung.name == name and rung.uri:
                return rung
        raise NotFound(
            f"channel {channel.slug} has no variant {name!r} (variants:"
            f" {', '.join(r.name for r in channel.ladder)})"
        )

    async def slate(self, channel: Channel) -> Slate:
        """The channel's conditioned slate: playlist URL per rung bandwidth, and its media
        length."""
        now = self.clock.now()
        cached = self._slates.get(channel.slug)
        if cached is not None and now - cached[0] < CATALOG_TTL:
            return cached[1]
        _, renditions = await asyncio.to_thread(library, self.catalog, channel)
        try:
            slate = Slate(
                dict(map_variants(channel.ladder, renditions, self.ads_base_url)),
                min(r.duration for r in renditions),
            )
        except DecisionError:
            slate = Slate({}, None)
        self._slates[channel.slug] = (now, slate)
        return slate

    # ------------------------------------------------------------------ playlists

    def stale_limit(self, channel: Channel) -> float:
        """How long a last good origin copy may stand in: 1.5 target durations (RFC 8216 §6.3.4)."""
        return 1.5 * max(1, math.ceil(channel.segment_duration - 1e-9))

    async def master(self, slug: str, mode: str, query: str = "") -> Rendered:
        """The channel's master in `mode`; `query` (a player's session) is carried on to the
        variants."""
        channel = await self.channel(slug)
        got = await self.origin.get(channel.origin_url, self.stale_limit(channel) * 10)
        if query:  # one player's copy: not worth caching
            return Rendered.of(
                rewrite_master(master_of(got), channel.origin_url, channel.ladder, query).render()
            )
        return self._cached(
            (slug, "master", mode),
            (got.version, channel.ladder),
            lambda: Rendered.of(
                rewrite_master(master_of(got), channel.origin_url, channel.ladder).render()
            ),
        )

    async def media(self, slug: str, variant: str, mode: str) -> Rendered:
        """The media playlist, by one pass that concurrent requests for the same playlist share
        (single flight). Ask `cached_media` first: most requests need no pass."""
        if (slug, variant, mode) in self._flights:
            self.metrics.cache_hits.inc("flight")
        return await single_flight(
            self._flights, (slug, variant, mode), lambda: self._media(slug, variant, mode)
        )

    def cached_media(self, slug: str, variant: str, mode: str) -> Rendered | None:
        """The media playlist `_media` last answered, while every input it was made from (the
        channel row, the origin copy, the break view) is still fresh: `_media` would answer the
        same then, from its caches. Answered without a task, a future or a wait, and counted as
        `_media` counts. None: ask `media`."""
        fresh = self._fresh.get((slug, variant, mode))
        if fresh is None or self.clock.now() >= fresh[0]:
            return None
        self.metrics.cache_hits.inc_each(ORIGIN_HITS if mode == "passthrough" else WINDOW_HITS)
        return fresh[1]

    def _answer(self, key: tuple[str, str, str], until: float, rendered: Rendered) -> Rendered:
        """`rendered`, made from inputs that are all fresh until `until`: `cached_media` answers it
        until then (an input is only replaced once it is stale: then `_media` looks again)."""
        self._fresh[key] = (until, rendered)
        return rendered

    async def _media(self, slug: str, variant: str, mode: str) -> Rendered:
        row = await self._row(slug)
        channel = row.channel
        rung = self.rung(channel, variant)
        url = row.urls[variant]
        if variant in row.foreign:
            raise OriginUnavailable(
                f"variant {variant} of {slug} is at {url}, not on the channel's origin server"
                f" ({channel.origin_url}): the stitcher reads only its channels' origins"
            )
        got = await self.origin.get(url, self.stale_limit(channel))
        origin = got.value
        if not isinstance(origin, MediaPlaylist):
            raise OriginUnavailable(f"{url} is not a media playlist")
        until = min(row.at + CATALOG_TTL, got.at + self.origin.fresh)
        if mode == "passthrough":
            return self._answer(
                (slug, variant, mode),
                until,
                self._cached(
                    (slug, variant, mode),
                    (got.version,),
                    lambda: self._rendered_media(passthrough(origin, url), 0),
                ),
            )
        view = await self.views.get(slug, channel.segment_duration)
        until = min(until, view.at + self.views.fresh)
        key = (got.version, view.version)
        hit = self._rendered.get((slug, variant, mode))
        if hit is not None and hit[0] == key:
            self.metrics.cache_hits.inc("render")
            return self._answer((slug, variant, mode), until, hit[1])
        in_window = window_records(origin, view.value, channel.segment_duration)
        if mode == "sgai":
            late = self._late_announcements(slug, view.value.records)
            playlist = interleave(origin, url, view.value.records, channel.segment_duration, late)
            end = origin.newest_end()
            if end is not None:
                self._sgai_served[slug] = max(self._sgai_served.get(slug, end), end)
        else:
            served = self._ssai_served.setdefault(slug, Served())
            rendering = self._as_served(slug, served, origin, view.value, channel.segment_duration)
            mine = rendering.view
            in_window = window_records(origin, mine, channel.segment_duration)
            slate = await self.slate(channel)
            self._prefetch(slug, mine.records, slate)
            media, unreadable = await self.vod_media(in_window, rung.bandwidth, slate.urls)
            fresh = [(r, u) for r, u in unreadable if (slug, r.entry, u) not in self._stand_ins]
            if fresh:
                made = self._rendered_at.get((slug, variant, mode))
                if (
                    hit is not None
                    and made is not None
                    and self.clock.now() - made < self.stale_limit(channel)
                ):
                    self.metrics.errors.inc("ad_playlist_last_output_served")
                    return hit[1]  # the last good output, while a player sees nothing wrong in it
                slate_url = slate.urls.get(rung.bandwidth, "")
                for record, ad_url in fresh:
                    stand_in = (
                        slate_url
                        if ad_url != slate_url
                        and _slate_covers(
                            record, ad_url, media.get(slate_url), channel.segment_duration
                        )
                        else ""
                    )
                    self._stand_ins[(slug, record.entry, ad_url)] = stand_in
                    self.metrics.errors.inc("ad_playlist_stand_in")
                    log.error(
                        "break %s on %s: %s cannot be read; its slots of this variant get %s until"
                        " the break has left the window",
                        record.event_id,
                        slug,
                        ad_url,
                        "the slate" if stand_in else "the origin's segments",
                    )
            stand_ins = {
                (r.event_id, u): self._stand_ins[(slug, r.entry, u)]
                for r in in_window
                for u in self._urls(r, rung.bandwidth, slate.urls)
                if (slug, r.entry, u) in self._stand_ins
            }
            playlist = stitch(
                origin,
                url,
                mine.records,
                mine.ledger,
                channel.segment_duration,
                rung.bandwidth,
                media,
                slate.urls.get(rung.bandwidth, ""),
                stand_ins,
                resume_url=f"{variant}/{RESUME_NAME}",
                extra=rendering.extra,
            )
            served.served(origin.newest_end())
        self._rendered_at[(slug, variant, mode)] = self.clock.now()
        rendered = self._rendered_media(playlist, len(in_window))
        stored = self._store((slug, variant, mode), key, rendered, mode)
        return self._answer((slug, variant, mode), until, stored)

    def _as_served(
        self,
        slug: str,
        served: Served,
        origin: MediaPlaylist,
        view: BreakView,
        segment_duration: float,
    ) -> Rendering:
        """What this replica renders in SSAI (`stitcher.served`): a break it learnt of after
        passing slots of it through plays from the first slot it has not served."""
        if not origin.segments:
            return Rendering(view, {})
        grid = Grid.of(origin, segment_duration)
        mine = served.view(view, grid, pdts(origin), self.clock.now(), segment_duration / 2)
        for record in mine.late:
            played = next(r for r in mine.view.records if r.entry == record.entry)
            log.warning(
                "break %s on %s: learnt of after some of its slots were served as content (the"
                " break store could not be read in time); %s",
                record.event_id,
                slug,
                f"its ads start at {format_datetime(played.ad_start)}"
                if played.points
                else "it was over by then: not played",
            )
            self.metrics.errors.inc("break_learnt_late")
        return mine

    def _late_announcements(self, slug: str, records: Sequence[BreakRecord]) -> dict[str, float]:
        """This replica's late announcements of the channel's breaks (`sgai.late_announcements`),
        kept while each break is in the view: what was decided for a break never changes."""
        seen = self._sgai_seen.setdefault(slug, {})
        late = self._sgai_late.setdefault(slug, {})
        found = late_announcements(records, seen.keys(), self._sgai_served.get(slug))
        for entry in found:
            log.warning(
                "break %s on %s: learnt of after its interstitial's usual announcement was served"
                " (the break store could not be read in time); announced with the next segment",
                entry,
                slug,
            )
            self.metrics.errors.inc("interstitial_announced_late")
        late.update(found)
        seen.update((r.entry, r.sgai_end) for r in records)
        gone = self.clock.now() - SEEN_FOR  # a break that left the view may come back (the KV
        for entry in [e for e, end in seen.items() if end < gone]:  # degraded, then recovered)
            del seen[entry]
            late.pop(entry, None)
        return late

    @staticmethod
    def _urls(record: BreakRecord, bandwidth: int, slate: dict[int, str]) -> set[str]:
        """The conditioned playlists `record` needs for one variant (its items', and the filler
        slate)."""
        return {
            url for item in record.pod.items for bw, url in item.variants if bw == bandwidth
        } | {slate.get(bandwidth, "")} - {""}

    def _prefetch(self, slug: str, records: Sequence[BreakRecord], slate: Slate) -> None:
        """Every variant's playlists of the breaks not over yet, fetched in the background;
        stand-ins of breaks no longer in the view are forgotten."""
        now = self.clock.now()
        for url in slate.urls.values():
            self.vods.pin(url)
        live = [r for r in records if not r.cancelled and r.points and r.end > now]
        self.vods.prefetch(
            sorted(
                {u for r in live for item in r.pod.items for _, u in item.variants}
                | set(slate.urls.values())
            )
        )
        entries = {r.entry for r in records}
        for key in [k for k in self._stand_ins if k[0] == slug and k[1] not in entries]:
            del self._stand_ins[key]

    async def vod_media(
        self, records: Sequence[BreakRecord], bandwidth: int, slate: dict[int, str]
    ) -> tuple[dict[str, VodMedia], list[tuple[BreakRecord, str]]]:
        """The conditioned playlists the breaks in the window need for one variant, and the (break,
        URL) pairs whose playlist cannot be read now or does not exist (the caller gives those a
        stand-in)."""
        urls = sorted(
            set().union(*(self._urls(r, bandwidth, slate) for r in records))
            | ({slate[bandwidth]} if slate.get(bandwidth) else set())
        )
        results = await asyncio.gather(*(self.vods.get(u) for u in urls), return_exceptions=True)
        media: dict[str, VodMedia] = {}
        for url, result in zip(urls, results):
            if isinstance(result, BaseException) and not isinstance(result, AdPlaylistUnavailable):
                raise result
            if isinstance(result, VodMedia):
                media[url] = result
        unreadable = [
            (r, u)
            for r in records
            for u in sorted(self._urls(r, bandwidth, slate))
            if u not in media
        ]
        return media, unreadable

    @staticmethod
    def _rendered_media(playlist: MediaPlaylist, breaks: int) -> Rendered:
        return Rendered.of(playlist.render(), breaks, playlist.target_duration, playlist)

    def _cached(self, key: tuple[str, str, str], version: tuple, render) -> Rendered:
        hit = self._rendered.get(key)
        if hit is not None and hit[0] == version:
            self.metrics.cache_hits.inc("render")
            return hit[1]
        return self._store(key, version, render(), key[2])

    def _store(
        self, key: tuple[str, str, str], version: tuple, rendered: Rendered, mode: str
    ) -> Rendered:
        self.metrics.renders.inc(mode)
        self._rendered[key] = (version, rendered)
        return rendered

    async def view(self, slug: str) -> tuple[Channel, Versioned]:
        channel = await self.channel(slug)
        return channel, await self.views.get(slug, channel.segment_duration)


def window_records(
    origin: MediaPlaylist, view: BreakView, segment_duration: float
) -> list[BreakRecord]:
    """The live breaks whose slots overlap the window of `origin`."""
    if not origin.segments:
        return []
    times = pdts(origin)
    first, last = times[0] - segment_duration / 2, times[-1] + origin.segments[-1].duration
    return [
        r
        for r in view.records
        if not r.cancelled and r.points and r.ad_start < last and r.end > first
    ]


def _slate_covers(
    record: BreakRecord, ad_url: str, slate: VodMedia | None, segment_duration: float
) -> bool:
    """The slate can stand in for the pod item played from `ad_url`: it has as many segments as
    the item has slots (a shorter one would have to repeat, and its timestamps would run back
    inside one timeline; the origin's own segments stand in then)."""
    if slate is None or not slate.segments:
        return False
    slots = max(
        (
            math.ceil(item.duration / segment_duration - 1e-6)
            for item in record.pod.items
            if ad_url in dict(item.variants).values()
        ),
        default=0,
    )
    return len(slate.segments) >= slots
