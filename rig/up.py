"""`rig up`: build what is missing, start and supervise the components, print their URLs."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from rig.settings import Settings
from rig.supervisor import Supervisor, check_free, components, prepare
from stitcher.catalog import MODES


def port_env(args: argparse.Namespace) -> dict[str, str]:
    """`--origin-port 9081`, `--live`, `--edge`, `--kv redis` and friends, as the RIG_* variables
    every component reads."""
    names = {
        "origin_port": "RIG_ORIGIN_PORT",
        "ads_port": "RIG_ADS_PORT",
        "stitcher_port": "RIG_STITCHER_PORT",
        "edge_port": "RIG_EDGE_PORT",
        "kv_url": "RIG_STITCHER_KV_URL",
        "stitcher_workers": "RIG_STITCHER_WORKERS",
    }
    env = {
        var: str(getattr(args, name)) for name, var in names.items() if getattr(args, name, None)
    }
    flags = {"live": "RIG_ORIGIN_LIVE", "edge": "RIG_EDGE_ENABLED"}
    env.update({var: "true" for name, var in flags.items() if getattr(args, name, False)})
    if getattr(args, "kv", None):
        env["RIG_REDIS_ENABLED"] = "true" if args.kv == "redis" else "false"
    return env


def print_urls(settings: Settings) -> None:
    origin, ads, stitcher = settings.origin, settings.ads, settings.stitcher
    base = f"http://{origin.host}:{origin.port}"
    api = f"http://{stitcher.host}:{stitcher.port}"
    edge = settings.edge
    if edge.enabled:
        print("\nEdge (nginx, caching; X-Cache-Status on every answer):", flush=True)
        for channel in settings.channels:
            for mode in MODES:
                url = f"{edge.base_url}/{mode}/{channel.name}/master.m3u8"
                print(f"  {channel.name:<8} {mode:<12} {url}")
        print(f"  status:      {edge.base_url}/edge/status   (log: logs/edge-access.log)")
    print("\nLive origin (SCTE-35 cues in the playlists):", flush=True)
    for channel in settings.channels:
        print(
            f"  {channel.name:<8} {base}/{channel.name}/master.m3u8   (cues: {channel.cue_format}, "
            f"{channel.cue_command})"
        )
    first = settings.channels[0].name if settings.channels else "news"
    print(f"\nAds and slate: {ads.base_url}/ads/... (house library: rig ads list)")
    print(
        f"Stitcher:      {api}  (/cue API, /metrics; the SCTE-35 monitor writes breaks to "
        f"{stitcher.kv_url})"
    )
    for channel in settings.channels:
        for mode in MODES:
            print(f"  {channel.name:<8} {mode:<12} {api}/{mode}/{channel.name}/master.m3u8")
    print(f"\n  play:        vlc {api}/ssai/{first}/master.m3u8")
    print(
        f"  demo page:   {api}/demo/   (hls.js; SSAI / SGAI switch, breaks and interstitial events)"
    )
    print(f"  origin cue:  rig splice {first} --duration 30 --format cue-out")
    print(f"  manual cue:  rig cue {first} --duration 30")
    print(f"  breaks:      curl {api}/v1/channels/{first}/breaks")
    print(f"  validate:    rig validate {api}/ssai/{first}/master.m3u8 --seconds 60")
    print(f"  logs:        {settings.state_dir / 'logs'}/", flush=True)


async def up(
    args: argparse.Namespace,
    settings: Settings,
    open_tui: Callable[[Settings, Supervisor, asyncio.Event], Awaitable[None]],
) -> None:
    """Build what is missing, start and supervise the components, print the URLs, then wait for
    Ctrl-C (headless) or run `open_tui` until it ends."""
    from origin_emulator.cli import build_media
    from origin_emulator.progress import progress_printer
    from rig.ads import ensure_house_ads
    from rig.channels import in_place_warnings, seed
    from stitcher.catalog import Catalog
    from stitcher.cli import stop_event

    config = args.config or (
        Path(os.environ["RIG_CONFIG"]) if os.environ.get("RIG_CONFIG") else None
    )
    parts = components(settings, config)
    for part in parts:  # fail fast, before minutes of media build
        check_free(part)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    prepare(settings)
    print(
        f"ssai-rig: state in {settings.state_dir}, media cache in {settings.media.cache_dir}",
        flush=True,
    )
    report = progress_printer()
    contents = await build_media(settings, None, report)
    catalog = Catalog(settings.state_dir / "channels.db")
    try:
        seed(catalog, settings, contents)
        for warning in in_place_warnings(settings, contents):
            print(f"warning: {warning}", flush=True)
        await ensure_house_ads(catalog, settings, report)
    finally:
        catalog.close()
    env = {
        **os.environ,
        "RIG_STATE_DIR": str(settings.state_dir),
        **port_env(args),
        "RIG_STITCHER_KV_URL": settings.stitcher.kv_url,  # the rig's redis-server, when it runs
    }
    headless = args.headless or not (sys.stdin.isatty() and sys.stdout.isatty())
    supervisor = Supervisor(parts, env, settings.state_dir / "logs")
    stop = stop_event()
    await supervisor.start()
    watcher = asyncio.create_task(supervisor.watch(stop), name="supervisor")
    try:
        print_urls(settings)
        if headless:
            if not args.headless:
                print("\n  (no terminal: running headless)")
            print("\nCtrl-C stops the rig.", flush=True)
            await stop.wait()
        else:
            await open_tui(settings, supervisor, stop)
        print("\nstopping...", flush=True)
    finally:
        stop.set()
        await watcher
        await supervisor.stop()
