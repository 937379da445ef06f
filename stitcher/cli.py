"""`stitcher`: the stateless manifest stitcher's command line.

How and why: docs/stitcher.md, "`stitcher.cli`".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import sys
import tempfile
from contextlib import AsyncExitStack

import aiohttp
from aiohttp import web

from stitcher.app import StreamOptions, create_app
from stitcher.breaks import BreakLedger, Retention
from stitcher.catalog import Catalog
from stitcher.clock import Clock, SystemClock
from stitcher.commands import add_common_options, run_command, settings_env
from stitcher.config import StitcherConfig, load_stitcher_config
from stitcher.decision import DecisionSource, FallbackDecisions, HouseDecisions, RemoteDecisions
from stitcher.demo import add_demo_routes
from stitcher.errors import RigError
from stitcher.http import listen, start_site
from stitcher.kv import KVError, open_kv
from stitcher.monitor import Monitor
from stitcher.processes import run_workers, server_gc


def decisions_for(
    settings: StitcherConfig, catalog: Catalog, session: aiohttp.ClientSession | None
) -> DecisionSource:
    house = HouseDecisions(catalog, settings.ads.base_url)
    if settings.stitcher.decision_url and session is not None:
        return FallbackDecisions(
            RemoteDecisions(settings.stitcher.decision_url, session),
            house,
            settings.stitcher.decision_timeout,
        )
    return house


def ledger_for(kv, catalog: Catalog) -> BreakLedger:
    """The break ledger, with retention from each channel's window (records outlive every
    window)."""

    def retention(slug: str) -> Retention:
        channel = catalog.find_channel(slug)
        return Retention(window=channel.window_seconds if channel else 3600.0)

    return BreakLedger(kv, retention)


class Services:
    """What `serve`, `monitor` and `rig up` share: catalog, KV, ledger, HTTP session, decisions."""

    def __init__(self, settings: StitcherConfig, clock: Clock):
        self.settings = settings
        self.clock = clock

    async def __aenter__(self) -> Services:
        self.stack = AsyncExitStack()
        self.catalog = Catalog(self.settings.state_dir / "channels.db")
        self.stack.callback(self.catalog.close)
        try:
            self.kv = await self.stack.enter_async_context(
                open_kv(self.settings.stitcher.kv_url, self.clock)
            )
        except KVError as exc:
            await self.stack.aclose()
            raise RigError(
                f"the KV store {self.settings.stitcher.kv_url} cannot be used: {exc}"
            ) from None
        self.session = await self.stack.enter_async_context(aiohttp.ClientSession())
        self.ledger = ledger_for(self.kv, self.catalog)
        self.decisions = decisions_for(self.settings, self.catalog, self.session)
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.stack.aclose()

    def app(self) -> web.Application:
        s = self.settings.stitcher
        options = StreamOptions(
            self.settings.ads.base_url,
            s.origin_timeout,
            s.origin_cache,
            s.kv_cache,
            s.kv_grace,
            s.kv_wait,
        )
        app = create_app(
            self.catalog, self.decisions, self.clock, self.ledger, self.session, s.token, options
        )
        add_demo_routes(app)  # GET /demo/: the hls.js demo page
        return app

    def monitor(self) -> Monitor:
        return Monitor(
            self.catalog,
            self.ledger,
            self.decisions,
            self.session,
            self.clock,
            self.settings.stitcher.monitor_interval,
        )


def stop_event() -> asyncio.Event:
    """Set on SIGINT, SIGTERM or SIGHUP (the terminal went away): every long-running command stops
    cleanly."""
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    return stop


PORT_HINT = "another rig running? set RIG_STITCHER_PORT"


async def serve(
    settings: StitcherConfig, host: str, port: int, listen_fds: list[int] | None = None
) -> None:
    """Serve the stitcher on `host`:`port`, or, as a worker, on the listening sockets its parent
    passed (`listen_fds`)."""
    sockets = [socket.socket(fileno=fd) for fd in listen_fds or ()]
    async with Services(settings, SystemClock()) as services:
        runner = await start_site(services.app(), host, port, "stitcher", PORT_HINT, sockets)
        server_gc()
        who = f"stitcher worker {os.getpid()}" if sockets else "stitcher"
        print(
            f"{who} on http://{host}:{port} (channels: {services.catalog.path}, KV: "
            f"{settings.stitcher.kv_url})",
            flush=True,
        )
        try:
            await stop_event().wait()
        finally:
            await runner.cleanup()


async def monitor(settings: StitcherConfig) -> None:
    async with Services(settings, SystemClock()) as services:
        print(
            f"monitor: polling every {settings.stitcher.monitor_interval:g} s (KV: "
            f"{settings.stitcher.kv_url})",
            flush=True,
        )
        await services.monitor().run(stop_event())


def serve_workers(
    args: argparse.Namespace, settings: StitcherConfig, host: str, port: int, workers: int
) -> int:
    """Listen on `host`:`port` here, then run `workers` stitcher processes that accept on that one
    socket (`processes.run_workers`: a worker's death costs viewers nothing); their metrics are
    summed over all of them through one multiprocess directory."""
    sockets = listen(host, port, "stitcher", PORT_HINT)  # before any worker: port in use is 1 line
    fds = [sock.fileno() for sock in sockets]
    Catalog(settings.state_dir / "channels.db").close()  # made once here, not by racing workers
    metrics_dir = tempfile.mkdtemp(prefix="stitcher-metrics-", dir=settings.state_dir)
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
        "RIG_STATE_DIR": str(settings.state_dir),
    }
    argv = [sys.executable, "-m", "stitcher.cli", "serve", "--host", host, "--port", str(port)]
    argv += [arg for fd in fds for arg in ("--listen-fd", str(fd))]
    if args.config:
        argv += ["--config", str(args.config)]
    if args.verbose:
        argv.append("--verbose")
    try:
        return run_workers("stitcher", f"http://{host}:{port}", sockets, argv, env, workers)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stitcher",
        description="The stateless SSAI/SGAI manifest stitcher and its SCTE-35 monitor.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser(
        "serve",
        help="serve the stitcher app",
        description="Serve the stitcher (SSAI, SGAI and passthrough playlists at "
        "/{mode}/{channel}/master.m3u8, SGAI asset lists,"
        " the /cue API, decisions, /metrics, /healthz) over the channel database and the KV store.",
    )
    run.add_argument("--host", help="listen address (default: stitcher.host)")
    run.add_argument("--port", type=int, help="listen port (default: stitcher.port, 8080)")
    run.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="N worker processes (N >= 1) behind a parent that listens on the port itself and"
        " passes them its socket: any worker answers any request, and a worker that dies, even by"
        " kill -9, is restarted while connections wait in the socket's backlog for another worker"
        " or its replacement instead of being refused (default: stitcher.workers; plain `stitcher"
        " serve` with stitcher.workers = 1 is one process that listens itself)",
    )
    run.add_argument(  # a worker: serve on this listening socket of the parent (repeated: several)
        "--listen-fd", type=int, action="append", help=argparse.SUPPRESS
    )
    watch = sub.add_parser(
        "monitor",
        help="watch origins for SCTE-35 cues and write breaks ahead of time",
        description="Poll every active channel's origin (all concurrently, each with a timeout), "
        "detect cues in every playlist format and write break records with their ad decisions to "
        "the KV store. Several monitors may run at once.",
    )
    watch.add_argument(
        "--interval",
        type=float,
        help="seconds between looks at each origin (default: stitcher.monitor_interval, 1)",
    )
    for p in (run, watch):
        add_common_options(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    env = settings_env(
        args,
        RIG_STITCHER_MONITOR_INTERVAL=getattr(args, "interval", None) or None,
        RIG_STITCHER_WORKERS=getattr(args, "workers", None),
    )

    def body() -> int | None:
        settings = load_stitcher_config(args.config, env=env)
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        if args.command == "serve":
            host, port = args.host or settings.stitcher.host, args.port or settings.stitcher.port
            workers = settings.stitcher.workers
            if not args.listen_fd and (args.workers is not None or workers > 1):
                return serve_workers(args, settings, host, port, workers)
            asyncio.run(serve(settings, host, port, args.listen_fd))
        else:
            asyncio.run(monitor(settings))
        return None

    return run_command("stitcher", args, body)


if __name__ == "__main__":
    sys.exit(main())
