"""`origin-emulator`: run the live origin emulator on its own (also started by `rig up`).

How and why: docs/origin.md, "`origin_emulator.cli`".
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys

from aiohttp import web

from origin_emulator.app import create_app
from origin_emulator.book import SpliceBook
from origin_emulator.channel import LiveChannel
from origin_emulator.config import OriginConfig, load_origin_config
from origin_emulator.content import ContentMedia, ContentRecipe, build_content
from origin_emulator.live_source import EncodedChannel
from origin_emulator.progress import progress_printer
from stitcher.clock import Clock, SystemClock
from stitcher.commands import add_common_options, run_command, settings_env
from stitcher.errors import RigError
from stitcher.http import start_site
from stitcher.processes import server_gc

log = logging.getLogger("origin_emulator")


def selected_channels(settings: OriginConfig, names: list[str] | None):
    if not names:
        return list(settings.channels)
    known = {c.name: c for c in settings.channels}
    missing = [n for n in names if n not in known]
    if missing:
        raise RigError(f"unknown channel(s) {', '.join(missing)}; configured: {', '.join(known)}")
    return [known[n] for n in names]


async def build_media(
    settings: OriginConfig, names: list[str] | None = None, report=None
) -> dict[str, ContentMedia]:
    built = {}
    for channel in selected_channels(settings, names):
        recipe = ContentRecipe.for_channel(channel, settings.media)
        callback = (
            (lambda done, total, name=channel.name: report(f"rendering {name}", done, total))
            if report
            else None
        )
        built[channel.name] = await build_content(recipe, settings.media.cache_dir, callback)
    return built


def live_channels(
    settings: OriginConfig, contents: dict[str, ContentMedia]
) -> dict[str, LiveChannel]:
    """One channel per rendered content: looped, or encoded live when `settings.origin.live`."""
    book = SpliceBook(settings.state_dir / "origin" / "splices.json")
    channels: dict[str, LiveChannel] = {}
    for name, content in contents.items():
        config = settings.channel(name)
        args = (config, content, settings.origin.epoch, settings.origin.window_segments, book)
        if not settings.origin.live:
            channels[name] = LiveChannel(*args)
            continue
        if config.discontinuity_every:
            log.warning("channel %s: discontinuity_every is ignored by the live source", name)
        directory = settings.state_dir / "origin" / "live" / name
        channels[name] = EncodedChannel(*args, media_settings=settings.media, directory=directory)
    return channels


async def start_origin(
    settings: OriginConfig, clock: Clock, contents: dict[str, ContentMedia], host: str, port: int
) -> web.AppRunner:
    """Start serving; returns the runner (call `cleanup()` to stop). Raises RigError if the port is
    taken."""
    app = create_app(
        live_channels(settings, contents),
        clock,
        settings.origin.cache_segments,
        settings.origin.token,
    )
    return await start_site(
        app, host, port, "origin emulator", "another rig running? set RIG_ORIGIN_PORT"
    )


async def _serve(args: argparse.Namespace) -> None:
    settings = load_origin_config(args.config, env=settings_env(args))
    if args.live:
        settings = dataclasses.replace(
            settings, origin=dataclasses.replace(settings.origin, live=True)
        )
    contents = await build_media(settings, args.channel, progress_printer())
    host = args.host or settings.origin.host
    port = args.port or settings.origin.port
    runner = await start_origin(settings, SystemClock(), contents, host, port)
    server_gc()
    for name in contents:
        print(
            f"  {name}: http://{host}:{port}/{name}/master.m3u8"
            + ("  (live encoder)" if settings.origin.live else ""),
            flush=True,
        )
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="origin-emulator",
        description=__doc__.split("\n\n")[0].replace("`", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve",
        help="serve live channels over HTTP",
        description="Render missing media, then serve live HLS channels with SCTE-35 cues.",
    )
    serve.add_argument("--host", help="listen address (default: origin.host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default: origin.port, 8081)")
    serve.add_argument(
        "--live",
        action="store_true",
        help="encode each channel in real time with ffmpeg, wall clock burned in"
        " (default: origin.live, off)",
    )
    build = sub.add_parser("build", help="render the channels' media into the cache and exit")
    for p in (serve, build):
        add_common_options(p, verbose=False)
        p.add_argument("--channel", action="append", help="only this channel (repeatable)")
        p.add_argument("-v", "--verbose", action="store_true", help="log more")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> None:
        if args.command == "serve":
            asyncio.run(_serve(args))
            return
        settings = load_origin_config(args.config, env=settings_env(args))
        built = asyncio.run(build_media(settings, args.channel, progress_printer()))
        for name, content in built.items():
            print(f"  {name}: {content.directory}")

    return run_command("origin-emulator", args, body)


if __name__ == "__main__":
    sys.exit(main())
