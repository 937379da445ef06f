"""The TUI against a real rig: origin emulator, monitor, KV ledger and stitcher on loopback.

The app reads and writes only over HTTP (real URLs of the stack's servers); the tests drive the
fake clock and the monitor themselves between pilot steps, and poll on demand
(`app.poller.poll_once()`), so nothing waits on the wall clock. The simulated-viewer fleet is the
one test double: it is the seam to another component (`tui.sources.Viewers`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from textual import events
from textual.widgets import Input, Select

from stitcher.clock import FakeClock
from stitcher.playlist import parse_datetime
from tui.app import RigApp
from tui.screens import CueForm, HelpScreen, SpliceForm
from tui.widgets import BreaksTable, SplicesTable, StatusBar, ViewersTable, WindowsTable

SIZE = (140, 44)


@pytest.fixture
def kv_url(tmp_path) -> str:
    """SQLite only: these tests are about the TUI (the KV backends have their own contract
    suite)."""
    return f"sqlite://{tmp_path}/kv.db"


def urls(stack) -> tuple[str, str]:
    return str(stack.origin_server.make_url("")).rstrip("/"), str(stack.client.make_url("")).rstrip(
        "/"
    )


def rig_app(stack, clock, channels=("news",), **options) -> RigApp:
    origin, stitcher = urls(stack)
    return RigApp(
        origin,
        stitcher,
        list(channels),
        {"news": ["hi", "lo"], "sports": ["hi"]},
        clock=clock,
        **options,
    )


@dataclass(frozen=True)
class FakeViewer:
    id: str
    variant: str
    state: str
    ad_id: str | None
    playhead: float | None
    msn: int | None
    stalls: int = 0
    violations: int = 0


class FakeFleet:
    """A `Viewers` double: records add/remove, shows one viewer per added one."""

    def __init__(self, clock, viewers=()):
        self.clock = clock
        self.calls: list[tuple[str, int]] = []
        self.viewers = list(viewers)
        self.snapshots = asyncio.Event()

    def snapshot(self):
        self.snapshots.set()
        return tuple(self.viewers)

    def add(self, n: int) -> None:
        self.calls.append(("add", n))
        for _ in range(n):
            self.viewers.append(
                FakeViewer(
                    f"v{len(self.viewers) + 1}", "lo", "content", None, self.clock.now() - 6.0, None
                )
            )

    async def remove(self, n: int) -> None:  # the protocol allows either kind
        self.calls.append(("remove", n))
        del self.viewers[len(self.viewers) - n :]


async def refresh(pilot) -> None:
    """Poll the rig now and let the app render what came back."""
    await pilot.app.poller.poll_once()
    await pilot.pause()


def cells(table) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def notes(app) -> list[tuple[str, str, str]]:
    return [(n.title, n.message, n.severity) for n in app._notifications]


async def settle(pilot) -> None:
    """Wait for the app's request workers (cue, splice, return, viewers), then render."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_windows_show_origin_and_stitched_rows_and_the_ads_of_a_cue(stack, clock):
    app = rig_app(stack, clock)
    async with app.run_test(size=SIZE) as pilot:
        await refresh(pilot)
        rows = cells(app.screen.query_one(WindowsTable))
        assert len(rows) == 6
        assert [int(r[0]) for r in rows] == list(range(int(rows[0][0]), int(rows[0][0]) + 6))
        assert all(r[2] == "2.000 content" and r[4] == "2.000 content" for r in rows)
        assert rows[-1][1] == "23:59:58.000"  # the newest segment's PDT (the clock is 00:00:00.5)
        response = await stack.client.post("/v1/channels/news/cue", json={"duration": 8})
        assert response.status == 201
        clock.advance(6)
        await stack.monitor.poll(stack.channel)
        await refresh(pilot)
        rows = cells(app.screen.query_one(WindowsTable))
        ads = [r for r in rows if "ad house-" in r[4]]
        assert ads and ads[0][5] == "DISC" and all(r[2] == "2.000 content" for r in ads)
        assert app.sub_title == "news/hi · ssai · 2026-01-02 00:00:06 UTC"
        breaks = cells(app.screen.query_one(BreaksTable))
        assert breaks[0][:3] == ["manual-1", "manual", "active"] and breaks[0][4] == "2 s left"
        assert "house-2 6s" in breaks[0][5]
        assert "● poll 00:00:06 · origin ok · stitcher ok" in str(
            app.screen.query_one(StatusBar).render()
        )


async def test_c_posts_a_manual_cue_that_the_real_api_writes_to_the_ledger(stack, clock):
    app = rig_app(stack, clock)
    async with app.run_test(size=SIZE) as pilot:
        await refresh(pilot)
        await pilot.press("c")
        assert isinstance(app.screen, CueForm)
        assert app.screen.query_one("#duration", Input).value == "30"
        await pilot.press("1", "2", "enter")  # the default is selected on focus: typing replaces it
        await settle(pilot)
        records = await stack.ledger.records("news")
        assert [(r.event_id, r.source, r.duration) for r in records] == [
            ("manual-1", "manual", 12.0)
        ]
        assert ("Cue", "break manual-1 on news: ads 00:00:02–00:00:12", "information") in notes(app)
        await refresh(pilot)
        assert cells(app.screen.query_one(BreaksTable))[0][2:5] == [
            "upcoming",
            "00:00:02",
            "in 2 s",
        ]


async def test_s_injects_an_scte35_cue_at_the_origin_and_the_monitor_makes_it_a_break(stack, clock):
    app = rig_app(stack, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        form = app.screen
        assert isinstance(form, SpliceForm)
        form.query_one("#format", Select).value = "cue-out"
        form.query_one("#command", Select).value = "time_signal"
        form.query_one("#duration", Input).value = "8"
        form.query_one("#preroll", Input).value = "4"
        await pilot.press("tab")  # in a form, tab moves the focus; it does not switch channels
        assert app.screen is form and app.selection.channel == "news"
        await pilot.click("#ok")
        await settle(pilot)
        origin, _ = urls(stack)
        async with stack.session.get(f"{origin}/control/news/splices") as response:
            splices = [s for s in (await response.json())["splices"] if s["source"] == "control"]
        assert [(s["format"], s["command"], s["duration"], s["state"]) for s in splices] == [
            ("cue-out", "time_signal", 8.0, "pending")
        ]
        assert any(
            title == "Splice" and "cue-out/time_signal" in text for title, text, _ in notes(app)
        )
        clock.advance(8)
        await stack.monitor.poll(stack.channel)
        records = await stack.ledger.records("news")
        assert [r.source for r in records] == ["scte35"]
        await refresh(pilot)
        rows = cells(app.screen.query_one(WindowsTable))
        assert any(r[3].startswith("CUE-OUT 8") for r in rows)
        assert cells(app.screen.query_one(SplicesTable))[0][1:4] == [
            "cue-out",
            "time_signal",
            "active",
        ]


async def test_r_returns_to_network_early(stack, clock):
    app = rig_app(stack, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")  # nothing to end yet
        assert notes(app)[-1] == ("Return to network", "no active break on news", "warning")
        created = await (
            await stack.client.post("/v1/channels/news/cue", json={"duration": 20})
        ).json()
        clock.advance(6)
        await refresh(pilot)
        await pilot.press("r")
        await settle(pilot)
        (record,) = await stack.ledger.records("news")
        assert record.end < parse_datetime(created["endTime"]).timestamp()
        assert (
            record.end == parse_datetime(created["startTime"]).timestamp() + 8
        )  # the segment after next
        assert notes(app)[-1] == (
            "Return to network",
            "manual-1 on news returns at 00:00:08",
            "information",
        )


async def test_server_errors_are_notifications_in_the_servers_words(stack, clock):
    app = rig_app(stack, clock)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(2):
            await pilot.press("c", "enter")
            await settle(pilot)
        title, text, severity = notes(app)[-1]
        assert (title, severity) == ("Cue refused", "error")
        assert text == "break manual-2 would overlap break manual-1 on channel news"
        await pilot.press("c", "0", "enter")
        await settle(pilot)
        assert notes(app)[-1][1] == "duration must be a positive number of seconds, got 0.0"


async def test_mode_and_channel_switching(stack, clock):
    app = rig_app(stack, clock, channels=("news", "sports"))
    async with app.run_test(size=SIZE) as pilot:
        await stack.client.post("/v1/channels/news/cue", json={"duration": 8})
        clock.advance(6)
        await pilot.press("m")
        assert app.selection.mode == "sgai"
        await refresh(pilot)
        rows = cells(app.screen.query_one(WindowsTable))
        assert all("ad" not in r[4] for r in rows)
        assert any(
            r[5].startswith("INTERSTITIAL ad-manual-1-") and r[5].endswith(" 6s") for r in rows
        )  # the pod's length
        assert (
            app.screen.query_one(WindowsTable).border_title
            == "Live windows · news/hi · origin | sgai"
        )
        await pilot.press("m")
        await refresh(pilot)
        assert app.selection.mode == "passthrough"
        assert all(
            r[4] == "2.000 content" and r[5] == ""
            for r in cells(app.screen.query_one(WindowsTable))
        )
        await pilot.press("m", "b")
        assert (app.selection.mode, app.selection.variant) == ("ssai", "lo")
        await pilot.press("tab")
        assert (app.selection.channel, app.selection.variant) == ("sports", "hi")
        await refresh(pilot)
        status = str(app.screen.query_one(StatusBar).render())
        assert status.startswith("● poll 00:00:06") and "origin: no channel 'sports'" in status
        assert "breaks: no channel" in status
        for table in (WindowsTable, BreaksTable, SplicesTable):  # nothing of news stays on screen
            assert cells(app.screen.query_one(table))[0][0] == "waiting for the first poll…"
        assert app.screen.query_one(BreaksTable).border_title == "Breaks · sports"
        await pilot.press("n")
        await refresh(pilot)
        assert app.selection.channel == "news" and "ad house-" in " ".join(
            r[4] for r in cells(app.screen.query_one(WindowsTable))
        )


async def test_viewers_add_remove_and_show_positions(stack, clock):
    fleet = FakeFleet(
        clock, [FakeViewer("v1", "hi", "ad", "house-1", clock.now() - 9.5, 43199, stalls=1)]
    )
    app = rig_app(stack, clock, viewers=fleet)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("v", "v")
        await settle(pilot)
        await pilot.press("V")
        await settle(pilot)
        assert fleet.calls == [("add", 1), ("add", 1), ("remove", 1)]
        assert notes(app)[-1] == ("Viewers", "stopped 1 simulated viewer", "information")
        await refresh(pilot)
        table = app.screen.query_one(ViewersTable)
        assert cells(table) == [
            ["sim v1", "hi", "live-9.5s", "ad", "house-1", "43199", "1/0"],
            ["sim v2", "lo", "live-6.0s", "content", "", "-", "0/0"],
        ]
        assert table.border_title.startswith("Viewers · 2 simulated · ")


async def test_real_players_from_the_stitchers_sessions(stack, clock):
    """A player's requests (not the TUI's own polls) appear with where it is, as the stitcher sees
    it."""
    app = rig_app(stack, clock)
    async with app.run_test(size=SIZE) as pilot:
        await refresh(pilot)
        assert app.snapshot.sessions is not None, (
            "the stitcher's sessions view is missing: GET /v1/sessions answered 404 or failed"
            f" (the TUI shows 'players n/a'); source failures: {app.snapshot.failures}"
        )
        assert app.snapshot.sessions == ()  # the TUI's own window polls are not players
        await stack.client.post("/v1/channels/news/cue", json={"duration": 8})
        clock.advance(8)
        assert (await stack.client.get("/ssai/news/lo.m3u8?session=player-1")).status == 200
        clock.advance(1)
        await refresh(pilot)
        table = app.screen.query_one(ViewersTable)
        assert table.border_title == "Viewers · no fleet · 1 players"
        assert cells(table)[0][:5] == [
            "player-1 (127.0.0.1) 1s ago",
            "news/ssai/lo",
            "live-6.5s",
            "ad",
            "house-2",
        ]


async def test_without_a_fleet_viewer_keys_only_warn(stack, clock):
    app = rig_app(stack, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("v")
        assert notes(app)[-1] == ("Viewers", "this rig runs no simulated viewers", "warning")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_a_source_that_fails_is_shown_in_the_status_line_and_polling_goes_on(stack, clock):
    app = rig_app(stack, clock)
    async with app.run_test(size=SIZE) as pilot:
        await refresh(pilot)
        await stack.origin_server.close()
        clock.advance(1)
        await refresh(pilot)
        status = str(app.screen.query_one(StatusBar).render())
        assert (
            status.startswith("● poll 00:00:01 · stitcher ok")
            and " · origin: GET /news/hi/index.m3u8: " in status
        )
        assert " · splices: GET /control/news/splices: " in status
        rows = cells(
            app.screen.query_one(WindowsTable)
        )  # the stitcher's last good copy, no origin side
        assert len(rows) == 6 and all(r[2] == "—" and r[4] == "2.000 content" for r in rows)
        clock.advance(3)  # past the stitcher's last-good-copy grace: its own words
        await refresh(pilot)
        assert "stitcher: the origin cannot be read" in str(
            app.screen.query_one(StatusBar).render()
        )
        assert app.is_running


@pytest.mark.parametrize("key", ["q", "ctrl+c"])
async def test_run_async_shares_the_loop_with_the_rig_servers_and_ends_on_q_or_ctrl_c(
    stack, clock, key
):
    """As `rig up` runs it: `await app.run_async()` in the loop that serves the origin and the
    stitcher; the app's polls are answered by those servers; q / Ctrl-C end it; the servers live
    on."""
    fleet = FakeFleet(clock)
    sessions = []

    def session_factory():
        import aiohttp

        sessions.append(aiohttp.ClientSession())
        return sessions[-1]

    app = rig_app(stack, clock, viewers=fleet, session=session_factory)
    running = asyncio.create_task(app.run_async(headless=True, size=SIZE))
    await asyncio.wait_for(fleet.snapshots.wait(), 10)  # the first poll finished its HTTP requests
    app.post_message(events.Key(key, key if len(key) == 1 else None))  # after the poll's message
    await asyncio.wait_for(running, 10)
    assert app.return_code == 0 and sessions[0].closed
    assert (
        len(app.snapshot.origin) == 6
        and len(app.snapshot.stitched) == 6
        and not app.snapshot.failures
    )
    response = await stack.client.get("/ssai/news/hi.m3u8")
    assert response.status == 200


def _snapshot_app(stack, clock) -> RigApp:
    """A rig at a fixed instant with one active /cue break, an origin splice announced, two
    viewers."""
    fixed = FakeClock(clock.now())  # the app's own clock (it runs on another thread's loop)
    fleet = FakeFleet(
        fixed,
        [
            FakeViewer("v1", "hi", "ad", "house-2", fixed.now() - 6.0, 43201),
            FakeViewer("v2", "lo", "stalled", None, fixed.now() - 14.0, 43197, 2, 1),
        ],
    )
    return rig_app(stack, fixed, viewers=fleet)


async def _rig_with_a_break(stack, clock) -> None:
    assert (await stack.client.post("/v1/channels/news/cue", json={"duration": 8})).status == 201
    origin, _ = urls(stack)
    async with stack.session.post(
        f"{origin}/control/news/splice", json={"duration": 10, "preroll": 8, "format": "daterange"}
    ) as response:
        assert response.status == 201
    clock.advance(4)


async def _polled(pilot) -> None:
    await refresh(pilot)


async def test_snapshot_main_screen(stack, clock, snap_compare):
    await _rig_with_a_break(stack, clock)
    app = _snapshot_app(stack, clock)
    # snap_compare runs the app with App.run() (its own loop): on a thread, while this loop serves
    # the rig.
    assert await asyncio.to_thread(snap_compare, app, terminal_size=SIZE, run_before=_polled)


async def test_snapshot_help_screen(stack, clock, snap_compare):
    await _rig_with_a_break(stack, clock)
    app = _snapshot_app(stack, clock)
    assert await asyncio.to_thread(
        snap_compare, app, press=["question_mark"], terminal_size=SIZE, run_before=_polled
    )


async def test_the_status_line_shows_the_rigs_topology(stack, clock):
    """What `rig up` hands the TUI of its shape: components, the stitcher's workers, the edge."""
    from tui.models import ComponentView, TopologyView

    shape = {
        "parts": (
            ComponentView("origin", "running"),
            ComponentView("stitcher", "running", restarts=1),
            ComponentView("redis", "restarting", restarts=2),
            ComponentView("edge", "running"),
        ),
        "ratio": None,
    }
    app = rig_app(stack, clock, topology=lambda: TopologyView(shape["parts"], 2, shape["ratio"]))
    async with app.run_test(size=SIZE) as pilot:
        await refresh(pilot)
        status = str(app.screen.query_one(StatusBar).render())
        assert "origin · stitcher×2 ↻1 · redis restarting ↻2 · edge" in status
        assert "edge hits" not in status  # nothing cacheable answered yet
        shape["ratio"] = 0.996
        clock.advance(1)
        await refresh(pilot)
        assert "edge hits 99.6%" in str(app.screen.query_one(StatusBar).render())
