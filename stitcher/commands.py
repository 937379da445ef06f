"""What every command line of the project shares: its common options, logging, the settings
environment, and how a failure becomes one line on stderr and an exit status."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from stitcher.config import STATE_DIR
from stitcher.errors import RigError


def add_common_options(parser: argparse.ArgumentParser, verbose: bool = True) -> None:
    """--config, --state-dir (and -v/--verbose) for one (sub)command."""
    parser.add_argument(
        "--config",
        type=Path,
        help="TOML config file (default: RIG_CONFIG, else the shipped defaults)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help=f"runtime state directory (default: RIG_STATE_DIR, {STATE_DIR})",
    )
    if verbose:
        parser.add_argument("-v", "--verbose", action="store_true", help="log more")


def settings_env(args: argparse.Namespace, **overrides: object) -> dict[str, str]:
    """The environment the settings are read from: this process's, `--state-dir` as
    RIG_STATE_DIR, and the given `RIG_...` overrides that are not None."""
    env = dict(os.environ)
    if getattr(args, "state_dir", None):
        env["RIG_STATE_DIR"] = str(args.state_dir)
    env.update({k: str(v) for k, v in overrides.items() if v is not None})
    return env


def run_command(prog: str, args: argparse.Namespace, body: Callable[[], int | None]) -> int:
    """Run a command's body with logging set from -v: a RigError is one line on stderr and exit
    status 2, Ctrl-C is 130, else the body's status (0 when it returns None)."""
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        status = body()
    except RigError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0 if status is None else status
