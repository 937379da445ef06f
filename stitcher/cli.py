"""`stitcher`: the stateless manifest stitcher's command line.

  stitcher serve [--host H] [--port P] [--config FILE] [--state-dir DIR]

Serves the stitcher app (so far: `POST /decision`, `/healthz`) over the channel database in the
state dir, with the house ad library (and a remote ad server in front of it when
`stitcher.decision_url` is set). Playlists, the monitor and the `/cue` API come with the next
issues.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
from aiohttp import web

from rig.errors import RigError
from rig.settings import Settings, load_settings
from stitcher.app import create_app
from stitcher.catalog import Catalog
from stitcher.clock import SystemClock
from stitcher.decision import DecisionSource, FallbackDecisions, HouseDecisions, RemoteDecisions


def decisions_for(settings: Settings, catalog: Catalog, session: aiohttp.ClientSession | None) -> DecisionSource:
    house = HouseDecisions(catalog, settings.ads.base_url)
    if settings.stitcher.decision_url and session is not None:
        return FallbackDecisions(RemoteDecisions(settings.stitcher.decision_url, session), house, settings.stitcher.decision_timeout)
    return house


async def serve(settings: Settings, host: str, port: int) -> None:
    async with AsyncExitStack() as stack:
        catalog = Catalog(settings.state_dir / "channels.db")
        stack.callback(catalog.close)
        session = await stack.enter_async_context(aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=settings.stitcher.decision_timeout * 4)))
        runner = web.AppRunner(create_app(catalog, decisions_for(settings, catalog, session), SystemClock()), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            raise RigError(f"stitcher cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        print(f"stitcher on http://{host}:{port} (channels from {catalog.path})", flush=True)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await stop.wait()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stitcher", description="The stateless SSAI/SGAI manifest stitcher.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("serve", help="serve the stitcher app", description="Serve the stitcher app (decisions so far) over the channel database.")
    run.add_argument("--host", help="listen address (default: stitcher.host)")
    run.add_argument("--port", type=int, help="listen port (default: stitcher.port, 8080)")
    run.add_argument("--config", type=Path, help="TOML config file (default: RIG_CONFIG or the shipped defaults)")
    run.add_argument("--state-dir", type=Path, help="runtime state directory (default: RIG_STATE_DIR)")
    run.add_argument("-v", "--verbose", action="store_true", help="log more")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    env = dict(os.environ)
    if args.state_dir:
        env["RIG_STATE_DIR"] = str(args.state_dir)
    try:
        settings = load_settings(args.config, env=env)
        asyncio.run(serve(settings, args.host or settings.stitcher.host, args.port or settings.stitcher.port))
    except RigError as exc:
        print(f"stitcher: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
