"""`rig`: the command line of ssai-rig, and its composition root (the one module that may open
the TUI). `rig --help` lists the commands and README "Commands" says what each does. Settings come
from the shipped defaults, `--config FILE` (or RIG_CONFIG) and RIG_* variables.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from origin_emulator.config import ChannelConfig, MediaSettings, OriginSettings, Rendition
from rig.settings import Settings, load_settings
from rig.up import port_env, up
from stitcher.commands import add_common_options, run_command, settings_env
from stitcher.config import AdsSettings, StitcherSettings, describe

if TYPE_CHECKING:
    from tui.models import TopologyView

log = logging.getLogger("rig")


def _settings(args: argparse.Namespace) -> Settings:
    env = settings_env(args, **port_env(args))
    return load_settings(getattr(args, "config", None), env=env)


# --------------------------------------------------------------------------- rig up


def topology_of(settings: Settings, supervisor) -> Callable[[], TopologyView]:
    """What the TUI's status line shows of the rig's shape: each component's state and restarts,
    the stitcher's workers, and the edge's hit ratio read from its access log."""
    from rig.edge import EdgeLog, EdgePaths
    from tui.models import ComponentView, TopologyView

    edge_log = EdgeLog(EdgePaths(settings.state_dir).access_log) if settings.edge.enabled else None

    def topology() -> TopologyView:
        parts = tuple(ComponentView(s.name, s.state, s.restarts) for s in supervisor.status())
        ratio = edge_log.read().hit_ratio if edge_log is not None else None
        return TopologyView(parts, settings.stitcher.workers, ratio)

    return topology


async def _tui(settings: Settings, supervisor, stop: asyncio.Event) -> None:
    """The Textual app over the running rig, with a fleet of simulated viewers it can start and
    stop. Logging goes to <state_dir>/logs/rig.log while it runs (a terminal handler would garble
    the screen)."""
    import aiohttp

    from rig.fleets import Fleets
    from stitcher.catalog import Catalog
    from stitcher.clock import SystemClock
    from tui.app import RigApp
    from tui.sources import USER_AGENT as TUI_AGENT

    catalog = Catalog(settings.state_dir / "channels.db")
    try:
        channels = {
            c.slug: [r.name for r in c.ladder] for c in catalog.channels() if c.status == "active"
        }
    finally:
        catalog.close()
    origin = f"http://{settings.origin.host}:{settings.origin.port}"
    api = f"http://{settings.stitcher.host}:{settings.stitcher.port}"
    root = logging.getLogger()
    handlers = root.handlers[:]
    for handler in handlers:
        root.removeHandler(handler)
    to_file = logging.FileHandler(settings.state_dir / "logs" / "rig.log")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root.addHandler(to_file)
    clock = SystemClock()
    # the simulated viewers' requests carry the TUI's User-Agent, so the players panel (real
    # players, from /v1/sessions) does not list them a second time
    async with (
        aiohttp.ClientSession() as session,
        aiohttp.ClientSession(
            headers={"User-Agent": f"{TUI_AGENT} (simulated viewers)"}
        ) as viewers_session,
    ):
        shown: list[RigApp] = []  # the stream on screen when a viewer is added: the app's selection
        fleets = Fleets(
            viewers_session,
            clock,
            lambda: f"{api}/{shown[0].selection.mode}/{shown[0].selection.channel}/master.m3u8",
            stop,
        )
        app = RigApp(
            origin,
            api,
            list(channels),
            channels,
            session=session,
            clock=clock,
            viewers=fleets,
            topology=topology_of(settings, supervisor),
            origin_token=settings.origin.token,
            stitcher_token=settings.stitcher.token,
        )
        shown.append(app)
        supervisor.on_event = lambda text: app.call_later(
            app.notify, text, title="rig", severity="warning"
        )
        ending = asyncio.create_task(stop.wait())
        ui = asyncio.create_task(app.run_async())
        try:
            done, _ = await asyncio.wait({ui, ending}, return_when=asyncio.FIRST_COMPLETED)
            if ending in done:  # SIGTERM (or SIGINT from outside the terminal)
                app.exit()
            await ui
        finally:
            stop.set()
            ending.cancel()
            await fleets.close()
            supervisor.on_event = print
            root.removeHandler(to_file)
            for handler in handlers:
                root.addHandler(handler)


# --------------------------------------------------------------------------- rig media


def _media_build(args: argparse.Namespace) -> int:
    from origin_emulator.cli import build_media
    from origin_emulator.progress import progress_printer

    settings = _settings(args)
    built = asyncio.run(build_media(settings, args.channel, progress_printer()))
    for name, content in built.items():
        print(f"  {name}: {content.directory}")
    return 0


def _media_serve(args: argparse.Namespace) -> int:
    import socket

    from rig.media_server import PORT_HINT, start_media_server
    from stitcher.cli import stop_event
    from stitcher.http import listen
    from stitcher.processes import run_workers, server_gc

    settings = _settings(args)
    host, port = args.host or settings.ads.host, args.port or settings.ads.port
    if args.workers and not args.listen_fd:
        sockets = listen(host, port, "media server", PORT_HINT)
        argv = [sys.executable, "-m", "rig.cli", "media", "serve", "--host", host]
        argv += ["--port", str(port)]
        argv += [arg for sock in sockets for arg in ("--listen-fd", str(sock.fileno()))]
        if args.config:
            argv += ["--config", str(args.config)]
        return run_workers(
            "media server", f"http://{host}:{port}", sockets, argv, os.environ, args.workers
        )

    async def serve() -> None:
        sockets = [socket.socket(fileno=fd) for fd in args.listen_fd or ()]
        runner = await start_media_server(settings.media.cache_dir, host, port, sockets)
        server_gc()
        who = f"media server worker {os.getpid()}" if sockets else "media server"
        print(f"{who} on http://{host}:{port} ({settings.media.cache_dir})", flush=True)
        try:
            await stop_event().wait()
        finally:
            await runner.cleanup()

    asyncio.run(serve())
    return 0


# --------------------------------------------------------------------------- rig config


def _config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    print(f"# config file: {settings.config_file or '(shipped defaults only)'}")
    print(f"state_dir = {settings.state_dir}    # RIG_STATE_DIR")
    sections = (
        ("origin", OriginSettings, settings.origin),
        ("media", MediaSettings, settings.media),
        ("ads", AdsSettings, settings.ads),
        ("stitcher", StitcherSettings, settings.stitcher),
    )
    for name, cls, value in sections:
        print(f"\n[{name}]")
        for field, doc in zip(dataclasses.fields(cls), describe(cls)):
            current = getattr(value, field.name)
            if field.name == "ladder":
                current = ", ".join(
                    f"{r.name} {r.width}x{r.height} {r.video_kbps}k" for r in current
                )
            print(f"{field.name} = {current}    # RIG_{name.upper()}_{field.name.upper()}")
            print(f"    {doc.split(': ', 1)[1]}")
    print("\n[[channels]] fields:")
    for line in describe(ChannelConfig, "  "):
        print(line)
    print("[[media.ladder]] fields:")
    for line in describe(Rendition, "  "):
        print(line)
    print("\nchannels: " + ", ".join(f"{c.name} ({c.cue_format})" for c in settings.channels))
    return 0


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rig",
        description="ssai-rig: a live-HLS ad-insertion system on one laptop.",
        epilog="Settings: shipped defaults < --config FILE (or RIG_CONFIG) < RIG_* environment "
        "variables. See `rig config`.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        add_common_options(p, verbose=False)

    up = sub.add_parser(
        "up",
        help="build media on first use, start the rig, print the URLs",
        description="Build any missing media and house ads (with progress), then start and "
        "supervise the origin emulator,"
        " the media server, the stitcher and the SCTE-35 monitor as processes (logs in "
        "<state_dir>/logs/; a component"
        " that exits is restarted and reported) and print ready-to-paste URLs. Ctrl-C or SIGTERM "
        "stops everything cleanly.",
    )
    up.add_argument(
        "--headless", action="store_true", help="no TUI: print the URLs and run until stopped"
    )
    up.add_argument(
        "--origin-port", type=int, help="origin emulator port (default: origin.port, 8081)"
    )
    up.add_argument(
        "--ads-port", type=int, help="media server port for ads and slate (default: ads.port, 8082)"
    )
    up.add_argument(
        "--stitcher-port", type=int, help="stitcher port (default: stitcher.port, 8080)"
    )
    up.add_argument(
        "--edge",
        action="store_true",
        help="put a real nginx edge in front of the stitcher and the media server (caching "
        "playlists for what the stitcher's Cache-Control says) and print its URLs first",
    )
    up.add_argument("--edge-port", type=int, help="edge port (default: edge.port, 8088)")
    up.add_argument(
        "--kv",
        choices=("sqlite", "redis"),
        help="the break store: a SQLite file in the state dir (default) or a private "
        "redis-server the rig starts and supervises (append-only file in the state dir)",
    )
    up.add_argument(
        "--kv-url", help="use this KV store instead (redis://host:port/db or sqlite:///path)"
    )
    up.add_argument(
        "--stitcher-workers",
        type=int,
        help="stitcher processes on one port, any of them answering any request "
        "(default: stitcher.workers, 1)",
    )
    up.add_argument(
        "--live",
        action="store_true",
        help="encode each channel in real time with ffmpeg (wall clock burned in) instead of "
        "looping the rendered media (origin.live)",
    )
    common(up)

    media = sub.add_parser(
        "media", help="media cache commands", description="Render and inspect the media cache."
    )
    media_sub = media.add_subparsers(dest="media_command", required=True, metavar="ACTION")
    build = media_sub.add_parser(
        "build",
        help="render every channel's loop into the cache (cached renders are reused)",
        description="Render each configured channel's content loop (all renditions) into the media "
        "cache.",
    )
    build.add_argument("--channel", action="append", help="only this channel (repeatable)")
    common(build)
    serve = media_sub.add_parser(
        "serve",
        help="serve conditioned ads and slate from the media cache (started by rig up)",
        description="Serve /ads/... and /slate/... (HLS VOD playlists and segments) from the media "
        "cache over HTTP.",
    )
    serve.add_argument("--host", help="listen address (default: ads.host)")
    serve.add_argument("--port", type=int, help="listen port (default: ads.port, 8082)")
    serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="N worker processes behind a parent that listens on the port itself: a worker that"
        " dies, even by kill -9, is restarted while connections wait in the socket's backlog"
        " instead of being refused (rig up runs one worker this way; without --workers it is one"
        " process that listens itself)",
    )
    serve.add_argument(  # a worker: serve on this listening socket of the parent (repeatable)
        "--listen-fd", type=int, action="append", help=argparse.SUPPRESS
    )
    common(serve)

    from rig import channels as channels_module
    from rig import validate as validate_module

    channels_module.add_arguments(sub, common)

    from rig import ads_cli, cues_cli

    ads_cli.add_arguments(sub, common)
    cues_cli.add_arguments(sub, common)

    validate = sub.add_parser(
        "validate",
        help="check a live HLS stream against RFC 8216 and the rig's timeline invariants",
        description="Poll a master playlist's variants as several viewers joining at different"
        " times and check R1-R14, P1-P4, D1-D9 and T1-T3 across reloads and variants (--rules"
        " lists every rule). Prints each violation, then a JSON summary. Exit 1 on any violation,"
        " 2 if the stream cannot be read.",
    )
    validate_module.add_arguments(validate)

    from rig import viewers_cli

    viewers_cli.add_parser(sub)

    from rig import inspect as inspect_module

    inspect_module.add_parser(sub)

    from rig import bench as bench_module

    bench_module.add_parser(sub)

    from rig import chaos as chaos_module

    chaos_module.add_parser(sub)

    from rig import soak as soak_module

    soak_module.add_parser(sub)

    config = sub.add_parser(
        "config",
        help="print every setting with its current value and meaning",
        description="Print the effective settings (defaults, config file and RIG_* variables "
        "applied) with their documentation.",
    )
    common(config)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    def body() -> int:
        if args.command == "up":
            asyncio.run(up(args, _settings(args), _tui))
            return 0
        if args.command == "media":
            return _media_serve(args) if args.media_command == "serve" else _media_build(args)
        if args.command == "validate":
            from rig import validate as validate_module

            return validate_module.run(args)
        if args.command == "config":
            return _config(args)
        if args.command == "viewers":
            from rig import viewers_cli

            return viewers_cli.run(args)
        if args.command == "inspect":
            from rig import inspect as inspect_module

            return inspect_module.run(args)
        if args.command == "bench":
            from rig import bench as bench_module

            return bench_module.run(args)
        if args.command == "chaos":
            from rig import chaos as chaos_module

            return chaos_module.run(args)
        if args.command == "soak":
            from rig import soak as soak_module

            return soak_module.run(args)
        if args.command in ("cue", "splice"):
            from rig import cues_cli

            return cues_cli.run(args, _settings(args))
        if args.command == "ads":
            from rig import ads_cli

            return ads_cli.run(args, _settings(args))
        if args.command == "channels":
            from rig import channels as channels_module

            return channels_module.run(args, _settings(args))
        parser.error(f"unknown command {args.command}")
        return 2

    return run_command("rig", args, body)


if __name__ == "__main__":
    sys.exit(main())
