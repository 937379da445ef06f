"""Where the TUI's data comes from: the rig's public HTTP APIs, polled on the injected clock.

How and why: docs/rig.md, "`tui.sources`".
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import aiohttp

from stitcher.clock import Clock
from stitcher.playlist import MediaPlaylist, PlaylistError, parse_media_playlist
from tui.models import (
    Selection,
    Snapshot,
    SourceHealth,
    TopologyView,
    break_views,
    session_views,
    splice_views,
    viewer_views,
)
from tui.windows import segment_views

log = logging.getLogger(__name__)
USER_AGENT = "ssai-rig-tui"
T = TypeVar("T")


class Viewers(Protocol):
    """Simulated viewers the TUI can show and steer. `add`/`remove` may be plain or async."""

    def snapshot(self) -> Sequence[Any]:
        """Objects with `id, variant, state, ad_id, playhead, msn, stalls, violations`."""

    def add(self, n: int) -> Any:
        """Start `n` more viewers."""

    def remove(self, n: int) -> Any:
        """Stop `n` viewers."""


async def call(result: Any) -> Any:
    """Await `result` when a protocol method returned an awaitable; return it otherwise."""
    return await result if inspect.isawaitable(result) else result


class ApiError(Exception):
    """A request that failed: `str()` is what to tell the user (the server's `error` when it gave
    one)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class RigApi:
    """The rig's HTTP endpoints, as the TUI uses them. `timeout` bounds every request (seconds);
    `origin_token` and `stitcher_token` (the settings `origin.token` and `stitcher.token`) go with
    the writes to each, when set."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        origin_url: str,
        stitcher_url: str,
        timeout: float = 2.0,
        origin_token: str = "",
        stitcher_token: str = "",
    ):
        self.session = session
        self.origin_url = origin_url.rstrip("/")
        self.stitcher_url = stitcher_url.rstrip("/")
        self.timeout = timeout
        self.origin_token, self.stitcher_token = origin_token, stitcher_token

    async def _request(
        self,
        method: str,
        url: str,
        body: dict | None = None,
        missing_ok: bool = False,
        token: str = "",
    ) -> tuple[int, str]:
        what = f"{method} {urlsplit(url).path}"  # no host or port: the words are for the user
        try:
            async with self.session.request(
                method,
                url,
                json=body,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={
                    "User-Agent": USER_AGENT,
                    **({"Authorization": f"Bearer {token}"} if token else {}),
                },
            ) as response:
                text = await response.text()
                if response.status == 404 and missing_ok:
                    return 404, text
                if response.status >= 400:
                    raise ApiError(
                        _error_words(text, response.status, response.reason), response.status
                    )
                return response.status, text
        except TimeoutError:
            raise ApiError(f"{what}: no answer within {self.timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise ApiError(f"{what}: {exc}") from None

    async def _json(self, method: str, url: str, body: dict | None = None, **how: Any) -> Any:
        """`_request`'s answer read as JSON (`how`: its `missing_ok` and `token`)."""
        status, text = await self._request(method, url, body, **how)
        if status == 404 and how.get("missing_ok"):
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise ApiError(f"{method} {urlsplit(url).path}: the answer is not JSON") from None

    async def _playlist(self, url: str) -> MediaPlaylist:
        _, text = await self._request("GET", url)
        try:
            return parse_media_playlist(text)
        except PlaylistError as exc:
            raise ApiError(f"unreadable playlist: {exc}") from None

    # ---- reads

    async def origin_window(self, channel: str, variant: str) -> MediaPlaylist:
        return await self._playlist(f"{self.origin_url}/{channel}/{variant}/index.m3u8")

    async def stitched_window(self, mode: str, channel: str, variant: str) -> MediaPlaylist:
        return await self._playlist(f"{self.stitcher_url}/{mode}/{channel}/{variant}.m3u8")

    async def breaks(self, channel: str) -> Any:
        return await self._json("GET", f"{self.stitcher_url}/v1/channels/{channel}/breaks")

    async def splices(self, channel: str) -> Any:
        return await self._json("GET", f"{self.origin_url}/control/{channel}/splices")

    async def sessions(self) -> Any | None:
        """The stitcher's real players; None when the stitcher has no such endpoint (404)."""
        return await self._json("GET", f"{self.stitcher_url}/v1/sessions", missing_ok=True)

    # ---- actions

    async def splice(
        self, channel: str, duration: float, preroll: float, format: str, command: str
    ) -> Any:
        body = {"duration": duration, "preroll": preroll, "format": format, "command": command}
        return await self._json(
            "POST", f"{self.origin_url}/control/{channel}/splice", body, token=self.origin_token
        )

    async def cue(self, channel: str, duration: float) -> Any:
        return await self._json(
            "POST",
            f"{self.stitcher_url}/v1/channels/{channel}/cue",
            {"duration": duration},
            token=self.stitcher_token,
        )

    async def end_break(self, channel: str, event_id: str) -> Any:
        return await self._json(
            "DELETE",
            f"{self.stitcher_url}/v1/channels/{channel}/breaks/{event_id}",
            token=self.stitcher_token,
        )


def _error_words(text: str, status: int, reason: str | None) -> str:
    """The server's `{"error": ...}` if it sent one, else the status line and the start of the
    body."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    snippet = " ".join(text.split())[:120]
    return f"HTTP {status} {reason or ''}".strip() + (f": {snippet}" if snippet else "")


class Poller:
    """Polls the rig for the current `selection` and hands each `Snapshot` to `sink`."""

    def __init__(
        self,
        api: RigApi,
        clock: Clock,
        selection: Selection,
        sink: Callable[[Snapshot], None],
        viewers: Viewers | None = None,
        interval: float = 1.0,
        topology: Callable[[], TopologyView] | None = None,
    ):
        self.api = api
        self.topology = topology  # the rig's shape, from whoever runs it (rig up's supervisor)
        self.clock = clock
        self.selection = selection
        self.sink = sink
        self.viewers = viewers
        self.interval = interval
        self.polls = 0
        self._wake = asyncio.Event()
        self._stopped = False

    def select(self, selection: Selection) -> None:
        """Show another channel/variant/mode: polls at once."""
        self.selection = selection
        self.wake()

    def wake(self) -> None:
        """Poll now instead of at the next interval (after an action changed something)."""
        self._wake.set()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    async def run(self) -> None:
        """Poll until `stop()`: one poll, then wait out the rest of the interval on the clock."""
        while not self._stopped:
            self._wake.clear()
            started = self.clock.now()
            try:
                await self.poll_once()
            except (
                Exception
            ):  # a bug in a conversion or in the sink: logged, polled again next time
                log.exception("poll failed")
            if self._stopped or self._wake.is_set():
                continue
            await self.clock.sleep(
                max(0.0, self.interval - (self.clock.now() - started)), self._wake
            )

    async def poll_once(self) -> Snapshot:
        """Fetch everything for the current selection concurrently; hand the snapshot to the
        sink."""
        selection = self.selection
        api = self.api
        health: list[SourceHealth] = []

        async def guarded(name: str, fetch: Awaitable[T], convert: Callable[[T], Any]) -> Any:
            try:
                value = convert(await fetch)
            except ApiError as exc:
                health.append(SourceHealth(name, False, str(exc)))
                return None
            except Exception as exc:  # never fatal: a surprise is shown, logged, and polled again
                log.exception("polling %s", name)
                health.append(SourceHealth(name, False, f"{type(exc).__name__}: {exc}"))
                return None
            health.append(SourceHealth(name, True))
            return value

        origin, stitched, breaks, splices, sessions = await asyncio.gather(
            guarded(
                "origin", api.origin_window(selection.channel, selection.variant), segment_views
            ),
            guarded(
                "stitcher",
                api.stitched_window(selection.mode, selection.channel, selection.variant),
                segment_views,
            ),
            guarded("breaks", api.breaks(selection.channel), break_views),
            guarded("splices", api.splices(selection.channel), splice_views),
            guarded(
                "sessions",
                api.sessions(),
                lambda data: None if data is None else session_views(data, USER_AGENT),
            ),
        )
        viewers = None
        if self.viewers is not None:
            viewers = await guarded("viewers", _snapshot_of(self.viewers), viewer_views)
        order = {"origin": 0, "stitcher": 1, "breaks": 2, "splices": 3, "sessions": 4, "viewers": 5}
        snapshot = Snapshot(
            selection=selection,
            now=self.clock.now(),
            origin=origin,
            stitched=stitched,
            breaks=breaks,
            splices=splices,
            sessions=sessions,
            viewers=viewers,
            health=tuple(sorted(health, key=lambda h: order[h.name])),
            topology=self._topology(),
        )
        self.polls += 1
        self.sink(snapshot)
        return snapshot

    def _topology(self) -> TopologyView | None:
        if self.topology is None:
            return None
        try:
            return self.topology()
        except (OSError, ValueError) as exc:  # a log being rotated: show the rest next poll
            log.debug("topology: %s", exc)
            return None


async def _snapshot_of(viewers: Viewers) -> Sequence[Any]:
    return await call(viewers.snapshot())
