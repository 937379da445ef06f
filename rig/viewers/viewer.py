"""Simulated viewers: a fleet of asyncio HLS players against any master (or media) playlist URL.

Each viewer behaves like hls.js or AVPlayer on a live stream: it joins at its own time, fetches the
master, picks a variant (by name, at random, the lowest or the highest), reloads the media playlist
at the player cadence (RFC 8216 §6.3.4: a target duration after a change, half of it when unchanged,
measured from the start of the previous load), fetches (or HEADs) every segment it will play, and
keeps a buffer and a playhead. The playhead starts 3 target durations behind the live edge (hls.js
`liveSyncDurationCount`), moves with the clock while the buffer has media, stalls when it reaches
the end of the buffered media (start and length are recorded) and resumes when a segment arrives.

It tracks what is under the playhead — content, ad or slate (docs/architecture.md: ad URIs contain
`/ads/`, the ad id is the path component after it; slate URIs contain `/slate/`) — the ads of each
break in order (a break is a run of ad/slate segments between content), the SGAI interstitial
DATERANGEs it saw, and whether a viewer that joined with a break in its window played on cleanly.
Every playlist fetched goes into one `rig.validator.Checker` for the fleet, each viewer under its
own name; violations are counted for the viewer whose playlist first showed them (the checker
reports a finding once).

Time comes only from the `Clock` passed in; HTTP only through the one `aiohttp.ClientSession`
passed in, each request with a timeout. A failed fetch is counted (with the last error) and retried
at the next reload; it never ends a viewer. Side effects: HTTP requests to the stream's servers.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import aiohttp

from rig.playhead import Playhead, _Piece, choose_variant, live_start, variant_name
from rig.validator import Checker, Violation, effective_pdts
from stitcher.clock import Clock
from stitcher.playlist import (
    MasterPlaylist,
    MediaPlaylist,
    PlaylistError,
    parse_playlist,
    segment_kind,
)

__all__ = [
    "Fleet",
    "ViewerState",
    "StreamUnavailable",
    "variant_name",
    "choose_variant",
    "Playhead",
]

INTERSTITIAL = "com.apple.hls.interstitial"
REQUEST_TIMEOUT = 10.0  # seconds, per request
RETRY_SECONDS = 2.0  # between attempts before the target duration is known


class StreamUnavailable(Exception):
    """The URL cannot be read as an HLS stream (connection, HTTP status, not a playlist, no such variant)."""


def _describe(error: BaseException) -> str:
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


@dataclass
class _Interstitial:
    id: str
    start_date: str | None
    start: float | None
    duration: float | None
    first_seen: float
    reached_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "start_date": self.start_date,
            "duration": self.duration,
            "first_seen": self.first_seen,
            "reached_at": self.reached_at,
        }


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
        self.interstitials: dict[str, _Interstitial] = {}
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
        """One load: the master if no variant is chosen yet, then the media playlist; returns the wait."""
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
        try:
            interstitials = [d for d in playlist.dateranges if d.klass == INTERSTITIAL]
        except ValueError:  # a DATERANGE that cannot be read (the validator reports it)
            interstitials = []
        for daterange in interstitials:
            ident = daterange.attributes.text("ID")
            if ident is None or ident in self.interstitials:
                continue
            try:
                start: float | None = (
                    daterange.start_date.timestamp() if daterange.start_date else None
                )
                duration = daterange.duration
            except ValueError:  # a bad START-DATE or DURATION (the validator reports it)
                start, duration = None, None
            self.interstitials[ident] = _Interstitial(
                ident, daterange.attributes.text("START-DATE"), start, duration, now
            )
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
        """Fetch queued segments in order; stop at a failure (retried next reload, skipped once it left)."""
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
            for item in self.interstitials.values():
                if item.reached_at is None and item.start is not None and pdt >= item.start:
                    item.reached_at = now

    # ---------------------------------------------------------------- HTTP

    def _error(self, message: str) -> None:
        self.fetch_errors += 1
        self.last_error = message

    async def _get_text(self, url: str) -> str | None:
        try:
            async with self.fleet.session.get(url, timeout=self.fleet.timeout) as response:
                text = await response.text()
                status = response.status
        except (TimeoutError, aiohttp.ClientError, UnicodeError, LookupError, ValueError) as exc:
            self._error(f"GET {url}: {_describe(exc)}")
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
            self._error(f"{method} {url}: {_describe(exc)}")
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
        inside = next(
            (
                i.id
                for i in self.interstitials.values()
                if pdt is not None
                and i.start is not None
                and i.start <= pdt < i.start + (i.duration or 0.0)
            ),
            None,
        )
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
            "interstitials": [i.to_dict() for i in self.interstitials.values()],
        }


class Fleet:
    """N simulated viewers of `url` sharing one session, one clock and one validator.

    Viewers created here join `join_spread`-random seconds after `run` starts (or at the given
    `join_after` offsets); `add` / `remove` change the fleet while it runs. `variant`: a name,
    'random', 'lowest' or 'highest'. `on_violation` sees each violation as the checker finds it.
    Under a FakeClock every viewer (and `run`, when given `seconds`) waits on the clock between loads.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        clock: Clock,
        url: str,
        count: int,
        *,
        join_spread: float = 0.0,
        join_after: list[float | None] | None = None,
        variant: str = "random",
        head: bool = False,
        seed: int | None = None,
        timeout: float = REQUEST_TIMEOUT,
        checker: Checker | None = None,
        on_violation: Callable[[Violation], None] | None = None,
    ):
        self.session, self.clock, self.url = session, clock, url
        self.join_spread, self.variant, self.head = join_spread, variant, head
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.rng = random.Random(seed)
        self.checker = checker if checker is not None else Checker()
        self._forward = on_violation or self.checker.on_violation
        self.checker.on_violation = self._on_violation
        self.viewers: list[Viewer] = []
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.probed = False
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._offsets: dict[str, float] = {}
        self._by_name: dict[str, Viewer] = {}
        for k in range(count):
            self._create(join_after[k] if join_after and k < len(join_after) else None)

    # ---------------------------------------------------------------- control

    def _create(self, after: float | None) -> Viewer:
        delay = after if after is not None else self.rng.uniform(0.0, self.join_spread)
        viewer = Viewer(
            self, f"viewer-{len(self.viewers)}", self.clock.now() + delay
        )  # `run` re-bases
        self._offsets[viewer.name] = delay
        self._by_name[viewer.name] = viewer
        self.viewers.append(viewer)
        if self.started_at is not None and self.ended_at is None:
            self._tasks[viewer.name] = asyncio.create_task(viewer.run(), name=viewer.name)
        return viewer

    def add(self, n: int, after: float | None = None) -> list[str]:
        """Add `n` viewers joining `after` seconds from now (default: random in [0, join_spread])."""
        return [self._create(after).name for _ in range(n)]

    def remove(self, n: int) -> list[str]:
        """Stop the `n` most recently added viewers still watching (they stay in the report)."""
        gone = [v for v in self.viewers if v.left_at is None][-n:] if n > 0 else []
        for viewer in gone:
            viewer.left_at = self.clock.now()
            viewer.freeze()
        return [v.name for v in gone]

    @property
    def running(self) -> int:
        """Viewer tasks still running (joined or waiting to join)."""
        return sum(not t.done() for t in self._tasks.values())

    async def probe(self) -> None:
        """Read the URL once (and the chosen variant); raise StreamUnavailable when it is not a stream."""
        media_url = self.url
        try:
            async with self.session.get(self.url, timeout=self.timeout) as response:
                text = await response.text()
                if response.status != 200:
                    raise StreamUnavailable(f"GET {self.url} returned HTTP {response.status}")
            playlist = parse_playlist(text)
            if isinstance(playlist, MasterPlaylist):
                policy = self.variant if self.variant not in ("random",) else "lowest"
                media_url = urljoin(
                    self.url, choose_variant(playlist, policy, random.Random(0)).uri
                )
                async with self.session.get(media_url, timeout=self.timeout) as response:
                    text = await response.text()
                    if response.status != 200:
                        raise StreamUnavailable(f"GET {media_url} returned HTTP {response.status}")
                if not isinstance(parse_playlist(text), MediaPlaylist):
                    raise StreamUnavailable(f"{media_url} is not a media playlist")
        except (TimeoutError, aiohttp.ClientError, UnicodeError, ValueError) as exc:
            where = self.url if media_url == self.url else media_url
            raise StreamUnavailable(f"{where}: {_describe(exc)}") from exc
        except LookupError as exc:
            raise StreamUnavailable(str(exc)) from exc
        self.probed = True

    async def run(self, stop: asyncio.Event, seconds: float | None = None) -> dict[str, Any]:
        """Run every viewer until `stop` is set or `seconds` of clock time passed; returns `report()`."""
        if not self.probed:
            await self.probe()
        self.started_at = self.clock.now()
        for viewer in self.viewers:
            viewer.join_at = self.started_at + self._offsets[viewer.name]
            if viewer.left_at is None:
                self._tasks[viewer.name] = asyncio.create_task(viewer.run(), name=viewer.name)
        try:
            if seconds is None:
                await stop.wait()
            else:
                await self.clock.sleep(seconds, stop)
        finally:
            self.ended_at = self.clock.now()
            for viewer in self.viewers:
                if viewer.until is None:
                    viewer.freeze()
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        return self.report()

    def _on_violation(self, violation: Violation) -> None:
        viewer = self._by_name.get(violation.viewer or "")
        if viewer is not None:
            viewer.violations[violation.rule] += 1
        if self._forward is not None:
            self._forward(violation)

    # ---------------------------------------------------------------- views

    def snapshot(self) -> list[ViewerState]:
        """The viewers still watching (or waiting to join), now."""
        return [v.state() for v in self.viewers if v.left_at is None]

    def report(self) -> dict[str, Any]:
        """Per viewer and totals, ready for `json.dumps`; `ok` is no stall and no violation."""
        viewers = [v.report() for v in self.viewers]
        late = [
            {
                "viewer": r["id"],
                "joined_at": r["joined_at"],
                "first_segment": r["first_segment"],
                "stalls": len(r["stalls"]),
                "violations": r["violations"],
                "ok": not r["stalls"] and not r["violations"],
            }
            for r in viewers
            if r["first_playlist_in_break"]
        ]
        interstitials: dict[str, dict[str, Any]] = {}
        for r in viewers:
            for item in r["interstitials"]:
                interstitials.setdefault(
                    item["id"], {k: item[k] for k in ("id", "start_date", "duration")}
                )
        stalls = sum(len(r["stalls"]) for r in viewers)
        violations = sum(self.checker.counts.values())
        totals = {
            "viewers": len(viewers),
            "watching": sum(v.left_at is None for v in self.viewers),
            "stalls": stalls,
            "stall_seconds": round(sum(r["stall_seconds"] for r in viewers), 3),
            "violations": violations,
            "violations_by_rule": dict(sorted(self.checker.counts.items())),
            "fetch_errors": sum(r["fetch_errors"] for r in viewers),
            "playlists_fetched": sum(r["playlists_fetched"] for r in viewers),
            "segments_fetched": sum(r["segments_fetched"] for r in viewers),
            "segments_skipped": sum(r["segments_skipped"] for r in viewers),
            "breaks": sum(len(r["breaks"]) for r in viewers),
            "ads_seen": dict(
                sorted(Counter(a for r in viewers for b in r["breaks"] for a in b["ads"]).items())
            ),
            "interstitials": len(interstitials),
            "late_joiners": len(late),
            "late_joiners_ok": sum(item["ok"] for item in late),
        }
        return {
            "url": self.url,
            "ok": stalls == 0 and violations == 0,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "seconds": round((self.ended_at or self.clock.now()) - self.started_at, 3)
            if self.started_at is not None
            else 0.0,
            "totals": totals,
            "late_joiners": late,
            "interstitials": list(interstitials.values()),
            "viewers": viewers,
            "examples": [v.to_dict() for v in self.checker.violations[:20]],
        }
