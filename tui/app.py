"""The rig's Textual app: live windows, breaks and viewers, and the QA actions, over HTTP only.

Side effects: HTTP requests to the origin emulator and the stitcher (polls every `interval`
seconds of `clock`; POST/DELETE on the user's actions) and the fleet's `add`/`remove`.
How and why: docs/rig.md, "`tui.app`".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

import aiohttp
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from stitcher.catalog import MODES
from stitcher.clock import Clock, SystemClock
from tui.messages import Polled
from tui.models import Selection, Snapshot, TopologyView, clock_text, date_text, epoch
from tui.screens import CueForm, HelpScreen, MainScreen, SpliceForm
from tui.sources import ApiError, Poller, RigApi, Viewers, call

SessionSource = aiohttp.ClientSession | Callable[[], aiohttp.ClientSession] | None

CSS = """
#windows { height: auto; max-height: 60%; border: round $primary; }
#lower { height: 1fr; }
#breaks-box { width: 1fr; }
#breaks { height: 1fr; border: round $primary; }
#splices { height: 1fr; border: round $primary; }
#viewers { width: 1fr; height: 1fr; border: round $primary; }
#breaks, #splices, #viewers { scrollbar-size-horizontal: 0; }
#status { height: 1; padding: 0 1; background: $panel; }
HelpScreen, CueForm, SpliceForm { align: center middle; }
#help { width: 100; height: auto; max-height: 95%; border: thick $primary;\
 background: $surface; padding: 0 1; }
.form { width: 72; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
.form .title { text-style: bold; margin-bottom: 1; }
.form .problem { color: $error; }
.form .buttons { height: auto; margin-top: 1; }
.form Button { margin-right: 2; }
.hint { color: $text-muted; }
"""


class RigApp(App[None]):
    """The TUI over a running rig (origin emulator at `origin_url`, stitcher at `stitcher_url`)."""

    TITLE = "ssai-rig"
    CSS = CSS
    BINDINGS = [Binding("ctrl+c", "quit", "Quit", show=False, priority=True)]

    def __init__(
        self,
        origin_url: str,
        stitcher_url: str,
        channels: Sequence[str],
        variants: Mapping[str, Sequence[str]],
        session: SessionSource = None,
        clock: Clock | None = None,
        viewers: Viewers | None = None,
        *,
        topology: Callable[[], TopologyView] | None = None,
        mode: str = "ssai",
        interval: float = 1.0,
        timeout: float = 2.0,
        cue_seconds: float = 30.0,
        preroll_seconds: float = 8.0,
        origin_token: str = "",
        stitcher_token: str = "",
    ):
        """`session`: an open aiohttp session (left open), a factory called on mount (its session is
        closed on exit), or None (the app makes and closes its own). `clock` defaults to the wall
        clock; `interval` is the poll period and `timeout` bounds every request (seconds)."""
        super().__init__()
        if not channels:
            raise ValueError("the TUI needs at least one channel")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self._topology = topology
        self._tokens = (origin_token, stitcher_token)  # what the writes send (RigApi)
        self.origin_url = origin_url
        self.stitcher_url = stitcher_url
        self.channels = list(channels)
        self.variants = {name: list(rungs) for name, rungs in variants.items()}
        self.clock = clock or SystemClock()
        self.viewers = viewers
        self.interval = interval
        self.timeout = timeout
        self.cue_seconds = cue_seconds
        self.preroll_seconds = preroll_seconds
        self._session_source = session
        self._own_session: aiohttp.ClientSession | None = None
        self.selection = Selection(
            self.channels[0], self._first_variant(self.channels[0], None), mode
        )
        self.snapshot: Snapshot | None = None
        self.api: RigApi | None = None
        self.poller: Poller | None = None
        self._poll_task: asyncio.Task | None = None

    # ---- lifecycle

    def get_default_screen(self) -> Screen:
        return MainScreen()

    def on_mount(self) -> None:
        source = self._session_source
        if isinstance(source, aiohttp.ClientSession):
            session = source
        else:
            session = self._own_session = (
                source() if source is not None else aiohttp.ClientSession()
            )
        self.api = RigApi(
            session,
            self.origin_url,
            self.stitcher_url,
            self.timeout,
            self._tokens[0],
            self._tokens[1],
        )
        self.poller = Poller(
            self.api,
            self.clock,
            self.selection,
            self._deliver,
            self.viewers,
            self.interval,
            self._topology,
        )
        self.sub_title = self._subtitle(self.clock.now())
        self._poll_task = asyncio.create_task(self.poller.run(), name="tui-poller")

    async def on_unmount(self) -> None:
        if self.poller is not None:
            self.poller.stop()
        if self._poll_task is not None:
            self._poll_task.cancel()
            await asyncio.gather(self._poll_task, return_exceptions=True)
        if self._own_session is not None:
            await self._own_session.close()

    def _deliver(self, snapshot: Snapshot) -> None:
        self.post_message(Polled(snapshot))

    def on_polled(self, message: Polled) -> None:
        snapshot = message.snapshot
        if snapshot.selection != self.selection:
            return  # answered for what was shown before a switch
        self.snapshot = snapshot
        self.sub_title = self._subtitle(snapshot.now)
        self._main.show(snapshot)

    @property
    def _main(self) -> MainScreen:
        return next(s for s in self.screen_stack if isinstance(s, MainScreen))

    def _subtitle(self, now: float) -> str:
        s = self.selection
        return f"{s.channel}/{s.variant} · {s.mode} · {date_text(now)}"

    def _show_selection(self) -> None:
        self.sub_title = self._subtitle(self.clock.now())
        self._main.loading_for(self.selection)

    # ---- switching what is shown

    def _first_variant(self, channel: str, current: str | None) -> str:
        rungs = self.variants.get(channel) or []
        if current in rungs:
            return current
        return rungs[0] if rungs else "index"

    def _select(self, selection: Selection) -> None:
        self.selection = selection
        self.snapshot = None
        self._show_selection()
        if self.poller is not None:
            self.poller.select(selection)

    def action_next_channel(self) -> None:
        channel = self.channels[
            (self.channels.index(self.selection.channel) + 1) % len(self.channels)
        ]
        self._select(
            Selection(
                channel, self._first_variant(channel, self.selection.variant), self.selection.mode
            )
        )

    def action_next_mode(self) -> None:
        mode = MODES[(MODES.index(self.selection.mode) + 1) % len(MODES)]
        self._select(Selection(self.selection.channel, self.selection.variant, mode))

    def action_next_variant(self) -> None:
        rungs = self.variants.get(self.selection.channel) or [self.selection.variant]
        index = rungs.index(self.selection.variant) + 1 if self.selection.variant in rungs else 0
        self._select(
            Selection(self.selection.channel, rungs[index % len(rungs)], self.selection.mode)
        )

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    # ---- actions on the rig

    def _run(self, title: str, work: Coroutine[Any, Any, str]) -> None:
        """Run one request in a worker: notify its outcome (the server's words on failure), then
        poll."""

        async def task() -> None:
            try:
                text = await work
            except ApiError as exc:
                self.notify(str(exc), title=f"{title} refused", severity="error", timeout=8)
            else:
                self.notify(text, title=title)
            if self.poller is not None:
                self.poller.wake()

        self.run_worker(task(), group="actions", exit_on_error=False)

    def action_cue(self) -> None:
        channel = self.selection.channel

        def done(duration: float | None) -> None:
            if duration is not None:
                self._run("Cue", self._cue(channel, duration))

        self.push_screen(CueForm(channel, self.cue_seconds), done)

    async def _cue(self, channel: str, duration: float) -> str:
        body = await self.api.cue(channel, duration)
        return (
            f"break {body.get('eventId')} on {channel}: ads"
            f" {_at(body.get('adStart'))}–{_at(body.get('endTime'))}"
        )

    def action_splice(self) -> None:
        channel = self.selection.channel

        def done(request: dict | None) -> None:
            if request is not None:
                self._run("Splice", self._splice(channel, request))

        self.push_screen(SpliceForm(channel, self.cue_seconds, self.preroll_seconds), done)

    async def _splice(self, channel: str, request: dict) -> str:
        body = await self.api.splice(
            channel, request["duration"], request["preroll"], request["format"], request["command"]
        )
        return (
            f"splice {body.get('id')} on {channel} ({body.get('format')}/{body.get('command')}) at"
            f" {_at(body.get('start'))}, {body.get('duration')} s"
        )

    def action_return_early(self) -> None:
        channel = self.selection.channel
        active = self.snapshot.active_break if self.snapshot is not None else None
        if active is None:
            self.notify(
                f"no active break on {channel}", title="Return to network", severity="warning"
            )
            return
        self._run("Return to network", self._return(channel, active.event_id))

    async def _return(self, channel: str, event_id: str) -> str:
        body = await self.api.end_break(channel, event_id)
        return f"{event_id} on {channel} returns at {_at(body.get('endTime'))}"

    def action_add_viewer(self) -> None:
        self._viewers("add", 1)

    def action_remove_viewer(self) -> None:
        self._viewers("remove", 1)

    def _viewers(self, verb: str, n: int) -> None:
        if self.viewers is None:
            self.notify("this rig runs no simulated viewers", title="Viewers", severity="warning")
            return
        fleet = self.viewers

        async def change() -> str:
            try:
                await call(getattr(fleet, verb)(n))
            except Exception as exc:  # the fleet's own words
                raise ApiError(f"{type(exc).__name__}: {exc}") from exc
            return (
                f"{'started' if verb == 'add' else 'stopped'} {n} simulated"
                f" viewer{'s' if n != 1 else ''}"
            )

        self._run("Viewers", change())


def _at(value: Any) -> str:
    """`HH:MM:SS` of an ISO date-time or epoch seconds from an API answer."""
    return clock_text(epoch(value))
