"""One simulated HLS player: joins, picks a variant, reloads, fetches segments, keeps a playhead.

`Viewer` is the async shell around a `Playhead` (rig.playhead): the network and the clock of its
`Fleet` drive it; `state()` is what the TUI shows of it, `report()` what it did. How it plays
(cadence, start, stalls, what it classifies): docs/architecture.md ("Simulated viewers"). A
failed fetch is counted and retried at the next reload; it never ends a viewer.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import aiohttp

from rig.playhead import Playhead, _Piece, choose_variant, live_start, variant_name
from rig.validator import effective_pdts
from rig.viewers.interstitials import Interstitials
from stitcher.playlist import MediaPlaylist, PlaylistError, parse_playlist, segment_kind

if TYPE_CHECKING:
    from rig.viewers.fleet import Fleet


RETRY_SECONDS = 2.0  # between attempts before the target duration is known


def describe(error: BaseException) -> str:
    """An exception as one line: its type, and its message when it has one."""
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


@dataclass(frozen=True)
class ViewerState:
    """One viewer at one moment (for the TUI): `state` is joining|content|ad|slate|stalled|ended."""

    id: str
    variant: str | None
    joined_at: float | None
    playhead: float | None  # PDT (epoch seconds) under the playhead
    msn: int | None  # media sequence number under the playhead
    buffered: float  # seconds of media ahead of the playhead
    state: str
    ad_id: str | None
    interstitial: str | None  # ID of the SGAI interstitial whose range holds the playhead
    stalls: int
    stall_seconds: float
    violations: int
    fetch_errors: int
    last_error: str | None


@dataclass
class _Pending:
    msn: int
    url: str
    duration: float
    pdt: float | None
    failures: int = 0


class Viewer:
    """One simulated player (the async shell around a `Playhead`)."""

    def __init__(self, fleet: Fleet, name: str, join_at: float):
        self.fleet, self.name, self.join_at = fleet, name, join_at
        self.stop = asyncio.Event()
        self.joined_at: float | None = None
        self.left_at: float | None = None
        self.until: float | None = (
            None  # the playhead is frozen from here on (left, or the run ended)
        )
        self.variant: str | None = None
        self.variant_url: str | None = None
        self.target: float | None = None
        self.player = Playhead()
        self.pending: deque[_Pending] = deque()
        self.next_msn: int | None = None  # the next media sequence number to queue
        self.window_start = 0  # MEDIA-SEQUENCE of the last playlist
        self.start_offset = 0.0
        self.last_text: str | None = None
        self.first_in_break: bool | None = None
        self.first_kind: str | None = None
        self.interstitials = Interstitials()
        self.violations: Counter[str] = Counter()
        self.fetch_errors = 0
        self.last_error: str | None = None
        self.playlists = self.segments = self.skipped = 0

    # ---------------------------------------------------------------- the loop

    async def run(self) -> None:
        clock = self.fleet.clock
        if not await clock.sleep(max(0.0, self.join_at - clock.now()), self.stop):
            return
        self.joined_at = clock.now()
        while not self.stop.is_set() and not self.player.ended:
            began = clock.now()
            delay = await self._step()
            self._tick()
            if not await clock.sleep(max(0.0, began + delay - clock.now()), self.stop):
                break

    async def _step(self) -> float:
        """One load: the master if no variant is chosen yet, then the media playlist; returns the
        wait."""
        if self.variant_url is None and not await self._load_master():
            return RETRY_SECONDS
        assert self.variant_url is not None
        text = await self._get_text(self.variant_url)
        half = (self.target or RETRY_SECONDS * 2) / 2
        if text is None or self.stop.is_set():
            return half
        now = self.fleet.clock.now()
        self.fleet.checker.observe_media(self.variant_url, text, now, viewer=self.name)
        if text == self.last_text:
            await self._download()  # retry what failed before
            return half
        self.last_text = text
        try:
            playlist = parse_playlist(text)
        except PlaylistError as exc:
            self._error(f"GET {self.variant_url}: not a playlist: {exc}")
            return half
        if not isinstance(playlist, MediaPlaylist):
            self._error(
                f"GET {self.variant_url}: a master playlist where a media playlist was expected"
            )
            return half
        self.target = float(playlist.target_duration)
        self._queue(playlist, now)
        await self._download()
        return self.target

    async def _load_master(self) -> bool:
        url = self.fleet.url
        text = await self._get_text(url)
        if text is None:
            return False
        try:
            playlist = parse_playlist(text)
        except PlaylistError as exc:
            self.fleet.checker.observe_master(url, text, self.fleet.clock.now(), viewer=self.name)
            self._error(f"GET {url}: not a playlist: {exc}")
            return False
        if isinstance(playlist, MediaPlaylist):
            self.variant, self.variant_url = variant_name(url), url
            return True
        self.fleet.checker.observe_master(url, text, self.fleet.clock.now(), viewer=self.name)
        try:
            chosen = choose_variant(playlist, self.fleet.variant, self.fleet.rng)
        except (LookupError, ValueError) as exc:
            self._error(f"{url}: {exc}")
            return False
        self.variant, self.variant_url = variant_name(chosen.uri), urljoin(url, chosen.uri)
        return True

    def _queue(self, playlist: MediaPlaylist, now: float) -> None:
        """Note interstitials; on the first playlist choose the start; queue every new segment."""
        url = self.variant_url or ""
        interstitials = self.interstitials.note(playlist, now)
        self.window_start = playlist.media_sequence
        if not playlist.segments:
            return
        if self.next_msn is None:
            kinds = [segment_kind(urljoin(url, s.uri))[0] for s in playlist.segments]
            self.first_in_break = any(k != "content" for k in kinds) or bool(interstitials)
            index, self.start_offset = live_start(playlist)
            self.next_msn = playlist.media_sequence + index
        if playlist.media_sequence > self.next_msn:  # the window moved past segments never seen
            self.skipped += playlist.media_sequence - self.next_msn
            self.next_msn = playlist.media_sequence
        for (msn, _, segment), (pdt, _) in zip(playlist.numbered(), effective_pdts(playlist)):
            if msn >= self.next_msn:
                self.pending.append(_Pending(msn, urljoin(url, segment.uri), segment.duration, pdt))
                self.next_msn = msn + 1
        self.player.endlist = playlist.endlist

    async def _download(self) -> None:
        """Fetch queued segments in order; stop at a failure (retried next reload, skipped once it
        left)."""
        while self.pending and not self.stop.is_set():
            item = self.pending[0]
            fetched = await self._get_segment(item.url)
            if self.stop.is_set():
                return  # left (or the run ended) meanwhile: the playhead is frozen
            if not fetched:
                item.failures += 1
                if item.msn < self.window_start and item.failures >= 2:
                    self.pending.popleft()
                    self.skipped += 1
                    continue
                return
            self.pending.popleft()
            kind, ad_id = segment_kind(item.url)
            started = self.player.at is not None
            self.player.append(
                _Piece(item.msn, item.duration, item.pdt, kind, ad_id),
                self.fleet.clock.now(),
                self.start_offset,
            )
            if not started:
                self.first_kind = kind

    def now(self) -> float:
        now = self.fleet.clock.now()
        return min(now, self.until) if self.until is not None else now

    def freeze(self) -> None:
        """The viewer stops watching now: its playhead, stalls and views stay as they are."""
        self._tick()
        self.until = self.fleet.clock.now()
        self.stop.set()

    def _tick(self) -> None:
        """Move the playhead to now and note interstitials the playhead reached."""
        now = self.now()
        self.player.advance(now)
        pdt = self.player.pdt()
        if pdt is not None:
            self.interstitials.reach(pdt, now)

    # ---------------------------------------------------------------- HTTP

    def _error(self, message: str) -> None:
        self.fetch_errors += 1
        self.last_error = message
        self.fleet.errors.append((self.fleet.clock.now(), self.name, message))

    async def _get_text(self, url: str) -> str | None:
        try:
            async with self.fleet.session.get(url, timeout=self.fleet.timeout) as response:
                text = await response.text()
                status = response.status
        except (TimeoutError, aiohttp.ClientError, UnicodeError, LookupError, ValueError) as exc:
            self._error(f"GET {url}: {describe(exc)}")
            return None
        self.playlists += 1
        if status != 200:
            self._error(f"GET {url}: HTTP {status}")
            return None
        return text

    async def _get_segment(self, url: str) -> bool:
        method = "HEAD" if self.fleet.head else "GET"
        try:
            async with self.fleet.session.request(
                method, url, timeout=self.fleet.timeout
            ) as response:
                if method == "GET":
                    async for _ in response.content.iter_chunked(1 << 16):
                        pass
                status = response.status
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            self._error(f"{method} {url}: {describe(exc)}")
            return False
        self.segments += 1
        if status != 200:
            self._error(f"{method} {url}: HTTP {status}")
            return False
        return True

    # ---------------------------------------------------------------- views

    def state(self) -> ViewerState:
        self._tick()
        now, player = self.now(), self.player
        piece = player.current
        if player.ended:
            state = "ended"
        elif player.stalled_since is not None:
            state = "stalled"
        else:
            state = piece.kind if piece is not None else "joining"
        pdt = player.pdt()
        inside = self.interstitials.holding(pdt)
        return ViewerState(
            self.name,
            self.variant,
            self.joined_at,
            pdt,
            piece.msn if piece else None,
            round(player.buffered(), 3),
            state,
            piece.ad_id if piece and state == "ad" else None,
            inside,
            player.stall_count(),
            round(player.stall_seconds(now), 3),
            sum(self.violations.values()),
            self.fetch_errors,
            self.last_error,
        )

    def report(self) -> dict[str, Any]:
        self._tick()
        now = self.now()
        stalls = [{"start": round(s, 3), "seconds": round(d, 3)} for s, d in self.player.stalls]
        if self.player.stalled_since is not None:
            stalls.append(
                {
                    "start": round(self.player.stalled_since, 3),
                    "seconds": round(now - self.player.stalled_since, 3),
                    "ongoing": True,
                }
            )
        return {
            "id": self.name,
            "variant": self.variant,
            "joined_at": self.joined_at,
            "left_at": self.left_at,
            "first_playlist_in_break": self.first_in_break,
            "first_segment": self.first_kind,
            "stalls": stalls,
            "stall_seconds": round(self.player.stall_seconds(now), 3),
            "violations": sum(self.violations.values()),
            "violations_by_rule": dict(sorted(self.violations.items())),
            "fetch_errors": self.fetch_errors,
            "last_error": self.last_error,
            "playlists_fetched": self.playlists,
            "segments_fetched": self.segments,
            "segments_skipped": self.skipped,
            "breaks": [b.to_dict() for b in self.player.breaks],
            "interstitials": self.interstitials.report(),
        }
