"""The stitcher's inputs, fetched once and shared: origin playlists, break views, ad playlists.

Side effects: HTTP GETs, KV reads, logging, metrics.
How and why: docs/stitcher.md, "`stitcher.feeds`".
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Generic, TypeVar
from urllib.parse import urljoin

import aiohttp

from stitcher.breaks import BreakLedger
from stitcher.clock import Clock
from stitcher.kv import KVError, KVUnavailable
from stitcher.metrics import Metrics
from stitcher.modes import BreakView, degrade
from stitcher.origin import OriginTimeout, OriginUnavailable, fetch_text, on_site, parse_origin
from stitcher.playlist import MasterPlaylist, MediaPlaylist, format_datetime
from stitcher.ssai import VodMedia

log = logging.getLogger("stitcher.feeds")
T = TypeVar("T")
_versions = itertools.count(1)


@dataclass(frozen=True)
class Versioned(Generic[T]):
    value: T
    version: int
    at: float  # when it was read (clock seconds)

    def renewed(self, value: T, at: float) -> Versioned[T]:
        """The next reading: the same version when the content did not change, else a new one."""
        return Versioned(value, self.version if value == self.value else next(_versions), at)


class AdPlaylistUnavailable(OriginUnavailable):
    """A conditioned ad or slate playlist could not be read this time."""

    status = 502
    summary = "an ad playlist cannot be read"


class OriginWentBack(OriginUnavailable):
    """The origin answered a playlist whose MEDIA-SEQUENCE is lower than one already served:
    `behind` when its window is also older (a stale replica of the same timeline, which will
    catch up), not when it is current (a packager that restarted its numbering)."""

    def __init__(self, message: str, behind: bool):
        super().__init__(message)
        self.behind = behind


class OriginLagging(OriginUnavailable):
    """The origin answered a window that moved on but lags behind real time by more than a copy
    may stand in (a stale replica catching up at the live rate)."""


class OriginStuck(OriginUnavailable):
    """The origin's media playlist has not moved for longer than its last copy may stand in."""


async def single_flight(flights: dict, key, make: Callable[[], Awaitable[T]]) -> T:
    """Run `make()` once for every caller that asks for `key` while it is running."""
    task = flights.get(key)
    if task is None:
        task = asyncio.ensure_future(make())
        flights[key] = task
        task.add_done_callback(lambda _: flights.pop(key, None))
    return await asyncio.shield(task)


# --------------------------------------------------------------------------- origin


@dataclass
class _OriginEntry:
    good: Versioned | None = None  # its `at`: when it was last known to be the origin's current
    text: str = ""
    checked: float = float("-inf")  # when the origin was last read
    moved: float = float("-inf")  # no later than the origin's last change (see _current)
    stuck: bool = False  # said so (logged) since the last change
    anchor: tuple[float, float] | None = None  # the accepted window's newest end, and `moved`


class OriginFeed:
    """Shared, single-flight origin playlist fetches with a last-good fallback (module
    docstring)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        clock: Clock,
        metrics: Metrics,
        timeout: float = 2.0,
        fresh: float = 0.5,
    ):
        self.session, self.clock, self.metrics = session, clock, metrics
        self.timeout, self.fresh = timeout, fresh
        self._entries: dict[str, _OriginEntry] = {}
        self._flights: dict[str, asyncio.Future] = {}

    async def get(self, url: str, stale_limit: float) -> Versioned:
        """The playlist at `url` (MediaPlaylist or MasterPlaylist), at most `fresh` seconds old
        when the
        origin is well; raises OriginUnavailable / OriginTimeout when it is not and no copy will
        do."""
        entry = self._entries.setdefault(url, _OriginEntry())
        if (
            entry.good is not None
            and not entry.stuck  # a copy found stuck is not served again, even from the cache
            and self.clock.now() - entry.checked < self.fresh
        ):
            self.metrics.cache_hits.inc("origin")
            return entry.good
        return await single_flight(
            self._flights, url, lambda: self._refresh(url, entry, stale_limit)
        )

    async def _refresh(self, url: str, entry: _OriginEntry, stale_limit: float) -> Versioned:
        try:
            text = await fetch_text(self.session, url, self.timeout)
            playlist = parse_origin(text, url)
            previous = entry.good.value if entry.good is not None else None
            if (
                isinstance(playlist, MediaPlaylist)
                and isinstance(previous, MediaPlaylist)
                and playlist.media_sequence < previous.media_sequence
            ):
                behind = (playlist.newest_end() or 0.0) < (previous.newest_end() or 0.0)
                raise OriginWentBack(
                    f"{url}: MEDIA-SEQUENCE went back from {previous.media_sequence} to "
                    f"{playlist.media_sequence}"
                    + (" (a window older than one already served)" if behind else ""),
                    behind,
                )
            lag = _lag(playlist, entry.anchor, self.clock.now()) if text != entry.text else 0.0
            if lag >= stale_limit:  # (an unchanged window is judged by `_current`)
                raise OriginLagging(
                    f"{url}: the window lags {lag:.1f} s behind where the origin's timeline"
                    " has run to since it was last read"
                )
        except OriginUnavailable as exc:
            now = self.clock.now()  # the answer's moment: a fetch that timed out took a while
            self.metrics.origin_fetches.inc(
                "timeout" if isinstance(exc, OriginTimeout) else "error"
            )
            if entry.good is not None and now - _still_since(entry) < stale_limit:
                self.metrics.errors.inc("origin_stale_served")
                log.warning(
                    "origin %s failed (%s); serving the copy from %.1f s ago",
                    url,
                    exc,
                    now - entry.good.at,
                )
                return entry.good
            if isinstance(exc, OriginWentBack) and not exc.behind:
                entry.good = None  # the origin restarted for good: start over with its new timeline
            raise  # (one that is behind is refused until it has caught up with what was served)
        now = self.clock.now()
        self.metrics.origin_fetches.inc("ok")
        checked, entry.checked = entry.checked, now
        if entry.good is not None and text == entry.text:
            return self._current(url, entry, now, stale_limit)
        entry.moved = _moved(playlist, checked if entry.good is not None else None, now)
        end = playlist.newest_end() if isinstance(playlist, MediaPlaylist) else None
        entry.anchor = (end, entry.moved) if end is not None else None
        entry.stuck = False
        entry.good = Versioned(playlist, next(_versions), now)
        entry.text = text
        return entry.good

    def _current(self, url: str, entry: _OriginEntry, now: float, stale_limit: float) -> Versioned:
        """The copy, read again unchanged. A live media playlist gains a segment at least every
        target duration: one that has not moved for longer was current only until its last move
        plus a target duration, and stands in from then on, as the copy of a failing origin does,
        until `stale_limit` after its last move (a frozen packager is a failing one that still
        answers)."""
        good = entry.good
        assert good is not None
        if not isinstance(good.value, MediaPlaylist) or good.value.endlist:
            entry.good = replace(good, at=now)
            return entry.good
        current_until = entry.moved + good.value.target_duration
        entry.good = replace(good, at=min(now, current_until))
        if now - entry.moved >= stale_limit:
            self.metrics.errors.inc("origin_stuck")
            if not entry.stuck:
                entry.stuck = True
                log.error("origin %s has not moved for %.1f s", url, now - entry.moved)
            raise OriginStuck(
                f"{url} has not moved for {now - entry.moved:.1f} s (a live playlist gains a"
                f" segment every {good.value.target_duration} s)"
            )
        return entry.good


def _moved(playlist, checked: float | None, now: float) -> float:
    """When a playlist read at `now`, changed since the read at `checked` (None: the first read),
    last moved: when its newest segment ended by its PROGRAM-DATE-TIME (a live origin publishes a
    segment as it ends), kept between the two reads (an origin clock that is off cannot push it
    out). Without dates: at the read before, or, when that read is older than a target duration
    (nobody asked meanwhile) or there was none, one target duration ago (a live playlist moves at
    least that often, and a copy read after a silence is not a frozen one) - and for a first read
    without dates, now."""
    if not isinstance(playlist, MediaPlaylist):
        return now
    period = playlist.target_duration
    earliest = max(checked, now - period) if checked is not None else now - period
    published = playlist.newest_end()
    if published is None:
        return earliest if checked is not None else now
    return min(now, max(earliest, published))


def _lag(playlist, anchor: tuple[float, float] | None, now: float) -> float:
    """How far a live media playlist read at `now` is behind the window accepted last (`anchor`:
    its newest segment's end and when it moved) run on in real time since: 0 when it kept up.
    Differences only, of the origin's dates and of this clock, so an origin clock that is off
    changes nothing."""
    if anchor is None or not isinstance(playlist, MediaPlaylist) or playlist.endlist:
        return 0.0
    end = playlist.newest_end()
    if end is None:
        return 0.0
    expected = anchor[0] + (now - anchor[1])
    return max(0.0, expected - end)


def _still_since(entry: _OriginEntry) -> float:
    """Since when the copy has shown the same window: a live media playlist's last move (a player
    must see a new segment at least every 1.5 target durations, RFC 8216bis 6.2.1, so that is
    what a stand-in's age counts from), else when it was last read."""
    good = entry.good
    assert good is not None
    if isinstance(good.value, MediaPlaylist) and not good.value.endlist:
        return entry.moved
    return good.at


# --------------------------------------------------------------------------- breaks


@dataclass
class _ViewEntry:
    served: Versioned | None = None  # what the last read (or the fallback) gave
    last_good: BreakView | None = None  # what the KV last answered (None: it never has)
    reading_since: float = 0.0  # when the read now running (or the last one) began (clock)
    reading_loop: float = 0.0  # the same, in the event loop's time (what `wait` counts in)
    failing_since: float | None = None  # when the KV stopped answering (in time)
    degraded: bool = False  # past the grace period of this outage


class NoBreakView(KVUnavailable):
    """The break store cannot be read and this replica has never read it: nothing it could render
    is sure to match what other replicas have served (a passthrough would put content in slots
    they filled with ads)."""

    summary = "the break store is unavailable and this stitcher has not read it yet"


class BreakViews:
    """Shared reads of a channel's break records + ledger, with a grace period when the KV is
    down or slow: a request waits at most `wait` seconds (of the event loop's time: it bounds an
    I/O wait, as socket timeouts do) for a read."""

    def __init__(
        self,
        ledger: BreakLedger | None,
        clock: Clock,
        metrics: Metrics,
        fresh: float = 0.5,
        grace: float = 30.0,
        wait: float = 0.5,
    ):
        self.ledger, self.clock, self.metrics = ledger, clock, metrics
        self.fresh, self.grace, self.wait = fresh, grace, wait
        self._entries: dict[str, _ViewEntry] = {}
        self._flights: dict[str, asyncio.Future] = {}

    def degraded(self, channel: str) -> bool:
        """Is the channel passing new breaks through because the KV has been down past the grace
        period?"""
        entry = self._entries.get(channel)
        return bool(entry and entry.degraded)

    async def get(self, channel: str, segment_duration: float) -> Versioned:
        """The channel's view, at most `fresh` seconds old while the KV answers in time; else the
        last one (`_fallback`). NoBreakView when there has never been one."""
        entry = self._entries.setdefault(channel, _ViewEntry())
        now = self.clock.now()
        if entry.served is not None and now - entry.served.at < self.fresh:
            self.metrics.cache_hits.inc("breaks")
            return entry.served
        running = channel in self._flights
        flight = single_flight(
            self._flights, channel, lambda: self._refresh(channel, entry, segment_duration)
        )
        if entry.last_good is None:
            return await flight
        if running and asyncio.get_running_loop().time() - entry.reading_loop >= self.wait:
            flight.close()  # the read under way is late already: nobody waits for it again
        else:
            try:
                return await asyncio.wait_for(flight, self.wait)
            except TimeoutError:
                pass
        self.metrics.errors.inc("kv_late")
        return self._fallback(
            channel, entry, segment_duration, f"a read took longer than {self.wait:g} s"
        )

    async def _refresh(self, channel: str, entry: _ViewEntry, segment_duration: float) -> Versioned:
        now = entry.reading_since = self.clock.now()
        entry.reading_loop = asyncio.get_running_loop().time()
        try:
            view = await self._read(channel)
        except KVError as exc:
            self.metrics.errors.inc("kv_unavailable")
            if entry.last_good is None:
                raise NoBreakView(str(exc)) from None
            return self._fallback(channel, entry, segment_duration, str(exc))
        if entry.failing_since is not None:
            log.warning(
                "break store reachable again for channel %s after %.1f s",
                channel,
                now - entry.failing_since,
            )
            entry.failing_since, entry.degraded = None, False
            self.metrics.kv_degraded.labels(channel).set(0)
        entry.last_good = view
        return self._serve(entry, view, now)

    def _fallback(
        self, channel: str, entry: _ViewEntry, segment_duration: float, why: str
    ) -> Versioned:
        """The last view while the KV fails (from the read that did not answer): as it was for
        `grace` seconds, then without the breaks that begin after the grace period (`degrade`)."""
        assert entry.last_good is not None
        now = self.clock.now()
        if entry.failing_since is None:
            entry.failing_since = min(entry.reading_since, now)
            log.warning(
                "break store unreachable for channel %s (%s): using the last view for %g s",
                channel,
                why,
                self.grace,
            )
        view = entry.last_good
        if now - entry.failing_since >= self.grace:
            cutoff = entry.failing_since + self.grace + segment_duration
            if not entry.degraded:
                entry.degraded = True
                self.metrics.kv_degraded.labels(channel).set(1)
                log.error(
                    "break store unreachable for channel %s for %g s: breaks starting from %s "
                    "on are passed through",
                    channel,
                    self.grace,
                    format_datetime(cutoff),
                )
            view = degrade(view, cutoff)
        return self._serve(entry, view, now)

    def _serve(self, entry: _ViewEntry, view: BreakView, now: float) -> Versioned:
        entry.served = (
            entry.served.renewed(view, now)
            if entry.served is not None
            else Versioned(view, next(_versions), now)
        )
        return entry.served

    async def _read(self, channel: str) -> BreakView:
        if self.ledger is None:
            return BreakView()
        records = tuple(await self.ledger.records(channel))
        return BreakView(records, await self.ledger.ledger(channel))


# --------------------------------------------------------------------------- ad playlists


class VodLibrary:
    """Conditioned ad/slate playlists by URL, fetched once each (URLs are immutable,
    content-addressed), and only from the server at `ads_base_url`: a break record naming any
    other (a decision source's answer) gets slate there, as an ad that does not exist does."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        metrics: Metrics,
        timeout: float = 2.0,
        size: int = 1024,
        ads_base_url: str = "",
    ):
        self.session, self.metrics, self.timeout, self.size = session, metrics, timeout, size
        self.ads_base_url = ads_base_url
        self._cache: OrderedDict[str, VodMedia | None] = OrderedDict()
        self._flights: dict[str, asyncio.Future] = {}
        self._pinned: set[str] = set()  # never evicted (the slate: every stand-in relies on it)

    def pin(self, url: str) -> None:
        self._pinned.add(url)

    def known(self, url: str) -> bool:
        """Has `url` been read (or found missing) already?"""
        return url in self._cache

    def prefetch(self, urls: set[str] | list[str]) -> None:
        """Fetch every URL not yet known in the background; a failure is retried on the next
        call."""
        for url in urls:
            if url and url not in self._cache and url not in self._flights:
                task = asyncio.ensure_future(
                    single_flight(self._flights, url, functools.partial(self._fetch, url))
                )
                task.add_done_callback(_ignore_failure)

    async def get(self, url: str) -> VodMedia | None:
        """The playlist at `url`, or None when the server says it does not exist (404/410). Other
        failures
        raise OriginUnavailable (they may pass: retried on the next request)."""
        if url in self._cache:
            self._cache.move_to_end(url)
            self.metrics.cache_hits.inc("vod")
            return self._cache[url]
        return await single_flight(self._flights, url, lambda: self._fetch(url))

    async def _fetch(self, url: str) -> VodMedia | None:
        if self.ads_base_url and not on_site(url, self.ads_base_url):
            log.error(
                "ad playlist %s is not on the ads server %s: not read, its slots get slate",
                url,
                self.ads_base_url,
            )
            self.metrics.errors.inc("ad_playlist_foreign")
            self._remember(url, None)
            return None
        try:
            text = await fetch_text(self.session, url, self.timeout)
        except OriginUnavailable as exc:
            if exc.upstream_status in (404, 410):
                log.error("ad playlist %s does not exist: its slots get slate", url)
                self.metrics.errors.inc("ad_playlist_missing")
                self._remember(url, None)
                return None
            self.metrics.errors.inc("ad_playlist_unavailable")
            raise AdPlaylistUnavailable(str(exc), exc.upstream_status) from None
        try:
            playlist = parse_origin(text, url)
        except OriginUnavailable as exc:
            raise AdPlaylistUnavailable(str(exc)) from None
        if not isinstance(playlist, MediaPlaylist) or not playlist.segments:
            raise AdPlaylistUnavailable(f"{url} is not a media playlist with segments")
        media = VodMedia(url, tuple(replace(s, uri=urljoin(url, s.uri)) for s in playlist.segments))
        self._remember(url, media)
        return media

    def _remember(self, url: str, media: VodMedia | None) -> None:
        self._cache[url] = media
        for old in list(self._cache):
            if len(self._cache) <= self.size + len(self._pinned):
                break
            if old not in self._pinned:
                del self._cache[old]


def _ignore_failure(task: asyncio.Future) -> None:
    """A prefetch that failed: logged and counted by `_fetch`; the next render tries again."""
    if not task.cancelled():
        task.exception()


def master_of(value: Versioned) -> MasterPlaylist:
    if not isinstance(value.value, MasterPlaylist):
        raise OriginUnavailable("the channel's origin URL is not a multivariant playlist")
    return value.value
