"""`rig chaos`: start a rig of its own, watch it with validating viewers, and inject each fault in
turn (`faults`), around an ad break the origin announces for it (`run`); match every splice with
the breaks the monitor recorded (`audit`); report per fault and exit 1 on any violation, lost or
duplicated break, or a failed request where none may fail.

How and why: docs/faults.md, "`rig chaos`".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from rig.children import free_port, started
from rig.settings import Settings, load_settings
from stitcher.commands import add_common_options, settings_env

__all__ = ["add_parser", "run"]

START_TIMEOUT = 600.0  # seconds the rig may take to start (media built on first use)


def add_parser(sub) -> None:
    from rig.chaos.faults import FAULTS

    parser = sub.add_parser(
        "chaos",
        help="inject faults into a rig of its own while validating viewers watch; report per fault",
        description="Start a rig of its own (rig up --headless, free ports, state in"
        " <state_dir>/chaos, wiped first; the media cache is shared), watch it with validating"
        " viewers (half SSAI, half SGAI; through the edge with --edge) and inject each fault in"
        " turn, around an ad break the origin announces for it with a real SCTE-35 cue: SIGKILL"
        " and SIGSTOP of every component, redis-server restarted, the KV unreachable beyond the"
        " stitcher's grace, and overlapping kills. Per fault: failed viewer requests,"
        " violations of the project's validator, stalls, breaks lost or duplicated (every origin"
        " splice matched with the break records in the KV), seconds until every component"
        " answers again. Exit 0 when every fault passed, 1 when one did not (a violation, a lost"
        " or duplicated break, a failed request where the target is none), 2 when the rig could"
        f" not run. Faults: {', '.join(FAULTS)}.",
    )
    add_common_options(parser, verbose=False)
    parser.add_argument(
        "--faults",
        type=lambda text: [n.strip() for n in text.split(",") if n.strip()],
        help="comma-separated, in this order (default: all the rig's components allow)",
    )
    parser.add_argument("--viewers", type=int, default=20, help="simulated viewers (default: 20)")
    parser.add_argument("--channel", default="news", help="the channel watched (default: news)")
    parser.add_argument(
        "--kv",
        choices=("redis", "sqlite"),
        default="redis",
        help="the rig's break store (default: redis, so that its faults can run)",
    )
    parser.add_argument(
        "--edge", action="store_true", help="run the nginx edge; the viewers watch through it"
    )
    parser.add_argument(
        "--stitcher-workers", type=int, help="of the rig (default: stitcher.workers, 1)"
    )
    parser.add_argument(
        "--break-seconds",
        type=float,
        default=10.0,
        help="the ad break each fault's phase posts at the origin (default: 10)",
    )
    parser.add_argument("--json", type=Path, help="write the report here")


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(f"chaos: stopped by signal {signum}")  # the rig stops with it


def rig_env(args: argparse.Namespace, state: Path) -> dict[str, str]:
    """The environment of the rig chaos starts: its own state dir, free ports, the KV and edge
    asked for."""
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


def table(phases: list[dict]) -> list[str]:
    """The report as text: one line per fault."""
    head = f"{'fault':<22} {'result':<6} {'failed':>6} {'viol.':>5} {'stalls':>6}"
    head += f" {'breaks':>6} {'lost':>4} {'dup':>3} {'back in':>8}"
    lines = [head]
    for p in phases:
        back = f"{p['recovery_seconds']:.1f} s" if p["recovery_seconds"] is not None else "-"
        target = "" if p["target_failed_requests"] is None else "*"
        lines.append(
            f"{p['fault']:<22} {'ok' if p['ok'] else 'FAIL':<6} {p['failed_requests']:>5}"
            f"{target or ' '} {p['violations']:>5} {p['stalls']:>6} {p['breaks']:>6}"
            f" {p['lost']:>4} {p['duplicated']:>3} {back:>8}"
        )
    lines.append("(* no viewer request may fail)")
    return lines


def run(args: argparse.Namespace) -> int:
    from rig.chaos.faults import choose
    from rig.chaos.run import Chaos

    signal.signal(signal.SIGTERM, _stop)
    base = load_settings(args.config, env=settings_env(args))
    state = base.state_dir / "chaos"
    shutil.rmtree(state, ignore_errors=True)
    env = rig_env(args, state)
    settings: Settings = load_settings(args.config, env=env)
    present = {n for n in ("redis", "edge") if getattr(settings, n).enabled}
    faults = choose(args.faults, settings.stitcher.kv_grace, present)
    argv = [sys.executable, "-m", "rig.cli", "up", "--headless"]
    argv += ["--config", str(args.config)] if args.config else []
    api = f"http://{settings.stitcher.host}:{settings.stitcher.port}"
    ready = [f"{api}/healthz"] + [
        f"{api}/{mode}/{args.channel}/master.m3u8" for mode in ("ssai", "sgai")
    ]
    log = state / "logs" / "chaos-rig.log"
    print(f"chaos: starting a rig (state {state}; its output: {log})", flush=True)
    with started(argv, log, ready, START_TIMEOUT, env) as process:
        chaos = Chaos(
            settings,
            process.pid,
            faults,
            channel=args.channel,
            viewers=args.viewers,
            break_seconds=args.break_seconds,
        )
        phases = [p.to_dict() for p in asyncio.run(chaos.run())]
    report = {
        "rig": {
            "kv": args.kv,
            "kv_url": settings.stitcher.kv_url,
            "edge": settings.edge.enabled,
            "stitcher_workers": settings.stitcher.workers,
            "kv_grace": settings.stitcher.kv_grace,
            "viewers": args.viewers,
            "channel": args.channel,
            "state_dir": str(state),
        },
        "ok": all(p["ok"] for p in phases) and not chaos.unexplained,
        "faults": phases,
        "unexplained_breaks": chaos.unexplained,
    }
    print("\n".join(table(phases)), flush=True)
    if chaos.unexplained:
        print(f"FAILED: {len(chaos.unexplained)} break record(s) no splice explains", flush=True)
    for p in phases:
        if not p["ok"]:
            print(f"FAILED {p['fault']}: {p['problem'] or ''}", flush=True)
            for line in p["errors"][:5]:
                print(f"    {line}", flush=True)
            for example in p["violation_examples"][:5]:
                print(f"    {example}", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
        print(f"report: {args.json}", flush=True)
    return 0 if report["ok"] else 1
