"""`rig chaos`: start a rig of its own, watch it with validating viewers, and inject each fault in
turn (`faults`), around an ad break the origin announces for it (`run`); match every splice with
the breaks the monitor recorded (`audit`); report per fault and exit 1 on any violation, lost or
duplicated break, or a failed request where none may fail.

How and why: docs/faults.md, "`rig chaos`".
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from rig.own_rig import add_options, on_small_disk, own_rig, settings_of, write_report

__all__ = ["add_parser", "run"]

KV_DISK = "kv-disk"  # with --kv sqlite: the KV's directory, a tmpfs of the rig's own
KV_DISK_MIB = 16


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
        " stitcher's grace, the origin's media playlists failing (503, no answer, garbage, an older"
        " window, a frozen one), with --kv sqlite the KV's disk (a 16 MiB tmpfs of its own) full,"
        " and overlapping kills. Per fault: failed viewer requests,"
        " violations of the project's validator, stalls, breaks lost or duplicated (every origin"
        " splice matched with the break records in the KV), seconds until every component"
        " answers again. Exit 0 when every fault passed, 1 when one did not (a violation, a lost"
        " or duplicated break, a failed request where the target is none), 2 when the rig could"
        f" not run. Faults: {', '.join(FAULTS)}.",
    )
    add_options(parser, viewers=20)
    parser.add_argument(
        "--faults",
        type=lambda text: [n.strip() for n in text.split(",") if n.strip()],
        help="comma-separated, in this order (default: all the rig's components allow)",
    )
    parser.add_argument(
        "--break-seconds",
        type=float,
        default=10.0,
        help="the ad break each fault's phase posts at the origin (default: 10)",
    )


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(f"chaos: stopped by signal {signum}")  # the rig stops with it


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
    sqlite = args.kv == "sqlite"  # on a disk of its own, which a fault can fill
    settings, env, state = settings_of(
        args, "chaos", f"sqlite://{{state}}/{KV_DISK}/kv.db" if sqlite else None
    )
    present = {n for n in ("redis", "edge") if getattr(settings, n).enabled}
    present |= {"sqlite"} if sqlite else set()
    faults = choose(args.faults, settings.stitcher.kv_grace, present)
    wrap = on_small_disk(state / KV_DISK, KV_DISK_MIB) if sqlite else None
    with own_rig(args, "chaos", settings, env, state, wrap) as process:
        chaos = Chaos(
            settings,
            process.pid,
            faults,
            channel=args.channel,
            viewers=args.viewers,
            break_seconds=args.break_seconds,
            kv_disk=Path(f"/proc/{process.pid}/root{state / KV_DISK}") if sqlite else None,
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
    write_report(args.json, "chaos", report)
    return 0 if report["ok"] else 1
