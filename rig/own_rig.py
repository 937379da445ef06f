"""A rig of its own for a command that watches one (`rig chaos`, `rig soak`): state under
`<state_dir>/<name>` (wiped first; the media cache is shared), free ports, the KV and the edge
asked for, `rig up --headless` started before and stopped after, and the options those commands
share.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from subprocess import Popen
from typing import Any

from rig.children import free_port, started
from rig.settings import Settings, load_settings
from stitcher.commands import add_common_options, settings_env
from stitcher.errors import RigError

__all__ = ["add_options", "rig_env", "settings_of", "own_rig", "on_small_disk", "write_report"]

START_TIMEOUT = 600.0  # seconds the rig may take to start (media built on first use)


def add_options(parser: argparse.ArgumentParser, viewers: int) -> None:
    """--config/--state-dir and the rig and fleet options `rig chaos` and `rig soak` share."""
    add_common_options(parser, verbose=False)
    parser.add_argument(
        "--viewers", type=int, default=viewers, help=f"simulated viewers (default: {viewers})"
    )
    parser.add_argument("--channel", default="news", help="the channel watched (default: news)")
    parser.add_argument(
        "--kv",
        choices=("redis", "sqlite"),
        default="redis",
        help="the rig's break store (default: redis)",
    )
    parser.add_argument(
        "--edge", action="store_true", help="run the nginx edge; the viewers watch through it"
    )
    parser.add_argument(
        "--stitcher-workers", type=int, help="of the rig (default: stitcher.workers, 1)"
    )
    parser.add_argument("--json", type=Path, help="write the report here")


def rig_env(args: argparse.Namespace, state: Path) -> dict[str, str]:
    """The environment of the rig: its own state dir, free ports, the KV and edge asked for."""
    overrides: dict[str, Any] = {
        "RIG_STATE_DIR": state,
        "RIG_REDIS_ENABLED": "true" if args.kv == "redis" else "false",
        "RIG_EDGE_ENABLED": "true" if args.edge else "false",
        "RIG_STITCHER_WORKERS": args.stitcher_workers,
    }
    for name in ("ORIGIN", "ADS", "STITCHER", "REDIS", "EDGE"):
        overrides[f"RIG_{name}_PORT"] = free_port()
    env = settings_env(args, **overrides)
    env.pop("RIG_STITCHER_KV_URL", None)  # the rig's own store, not one from outside
    return env


def settings_of(
    args: argparse.Namespace, name: str, kv_url: str | None = None
) -> tuple[Settings, dict[str, str], Path]:
    """The settings, environment and state directory of the rig `own_rig` will start (the
    directory is wiped); `kv_url` (may name `{state}`): a break store of the rig's own other than
    the default."""
    base = load_settings(args.config, env=settings_env(args))
    state = base.state_dir / name
    shutil.rmtree(state, ignore_errors=True)
    env = rig_env(args, state)
    if kv_url is not None:
        env["RIG_STITCHER_KV_URL"] = kv_url.format(state=state)
    return load_settings(args.config, env=env), env, state


def on_small_disk(directory: Path, size_mib: int) -> list[str]:
    """The argv prefix that runs a command with `directory` a tmpfs of `size_mib` MiB of its own:
    a user and mount namespace (`unshare -rm`, no privilege needed), the command in the same
    process (so its pid is the one started). Outside, the directory is seen through
    `/proc/<pid>/root`."""
    if shutil.which("unshare") is None:
        raise RigError("unshare (util-linux) is needed for a disk of the rig's own")
    directory.mkdir(parents=True, exist_ok=True)
    mount = f'mount -t tmpfs -o size={size_mib}m tmpfs "$0" && exec "$@"'
    return ["unshare", "-rm", "sh", "-c", mount, str(directory)]


@contextmanager
def own_rig(
    args: argparse.Namespace,
    name: str,
    settings: Settings,
    env: dict[str, str],
    state: Path,
    wrap: list[str] | None = None,
) -> Iterator[Popen]:
    """`rig up --headless` with `env` (under `wrap`, e.g. `on_small_disk`), ready once the
    stitcher (and the edge, when it runs) answers for the channel in SSAI and SGAI; stopped when
    the block ends. Yields its process (the components are its children)."""
    argv = [*(wrap or []), sys.executable, "-m", "rig.cli", "up", "--headless"]
    argv += ["--config", str(args.config)] if args.config else []
    api = f"http://{settings.stitcher.host}:{settings.stitcher.port}"
    ready = [f"{api}/healthz"] + [
        f"{base}/{mode}/{args.channel}/master.m3u8"
        for base in [api] + ([settings.edge.base_url] if settings.edge.enabled else [])
        for mode in ("ssai", "sgai")
    ]
    log = state / "logs" / f"{name}-rig.log"
    print(f"{name}: starting a rig (state {state}; its output: {log})", flush=True)
    with started(argv, log, ready, START_TIMEOUT, env) as process:
        yield process


def write_report(path: Path | None, name: str, report: dict) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"{name}: report {path}", flush=True)
