"""`rig soak`: start a rig of its own and watch it for a long run with many validating viewers,
through breaks of every kind (`plan`), sampling every component's memory and file descriptors
(`run`); report, and exit 1 on any failed request, violation, stall, lost or duplicated break,
late joiner that did not play cleanly, component restart, or growth beyond the bound.

How and why: docs/faults.md, "`rig soak`".
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from rig.own_rig import add_options, own_rig, settings_of, write_report

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    from rig.soak.plan import KINDS

    KIND_NAMES = [k.name for k in KINDS]
    parser = sub.add_parser(
        "soak",
        help="watch a rig of its own for a long run through breaks of every kind; report growth",
        description="Start a rig of its own (rig up --headless, free ports, state in"
        " <state_dir>/soak, wiped first; the media cache is shared) and watch it for --minutes"
        " with --viewers validating simulated viewers (half SSAI, half SGAI; through the edge"
        " with --edge), through --breaks ad breaks of every kind in turn: origin SCTE-35 cues in"
        " each carriage (EXT-X-SCTE35, DATERANGE, CUE-OUT, OATCLS) and command (splice_insert,"
        " time_signal), the stitcher's /cue API, early returns, a cancel in the pre-roll, a break"
        " longer than its pod. Late joiners arrive 3 s into each break. Every 10 s the resident"
        " memory and open file descriptors of every component (with its workers) are sampled."
        " Report: failed requests, violations, stalls, late joiners, every origin splice matched"
        " with its break records, and each component's memory and descriptors at the start"
        " (a quarter into the run, when the bounded caches are full) and at the end against the"
        " bound (end ≤ start + max(16 MiB, 25%),"
        " ≤ start + 16 descriptors). Exit 0 when clean, 1 when not, 2 when the rig could not run.",
    )
    add_options(parser, viewers=500)
    parser.add_argument(
        "--minutes", type=float, default=60.0, help="length of the run (default: 60)"
    )
    parser.add_argument(
        "--breaks", type=int, default=30, help="ad breaks over the run (default: 30)"
    )
    parser.add_argument(
        "--kinds",
        type=lambda text: [n.strip() for n in text.split(",") if n.strip()],
        help=f"comma-separated break kinds, used in turn (default: all: {', '.join(KIND_NAMES)})",
    )
    parser.add_argument(
        "--warm-up",
        type=float,
        default=60.0,
        help="seconds before the first break and the first resource sample that counts"
        " (default: 60; the viewers join over the first 30)",
    )
    parser.add_argument(
        "--joiners", type=int, default=4, help="late joiners sent into each break (default: 4)"
    )
    parser.add_argument(
        "--segments",
        choices=("head", "get"),
        default="head",
        help="how viewers fetch segments: HEAD (default: every server is asked for every"
        " segment, without moving 500 viewers' worth of video over loopback) or GET",
    )


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(f"soak: stopped by signal {signum}")  # the rig stops with it


def summary(report: dict) -> list[str]:
    """The report as a few lines of text."""
    lines = [
        f"soak: {report['seconds'] / 60:.1f} min, {report['viewers']} viewers:"
        f" {report['failed_requests']} failed requests, {report['violations']} violations,"
        f" {report['stalls']} stalls",
        f"breaks: {sum('start' in b for b in report['breaks'])} made of"
        f" {report['planned']} planned; origin splices {report['splices']['announced']},"
        f" lost {len(report['splices']['lost'])}, duplicated"
        f" {len(report['splices']['duplicated'])}, unexplained records"
        f" {len(report['splices']['unexplained'])}",
        f"late joiners: {report['late_joiners']['count']} sent,"
        f" {report['late_joiners'].get('in_break', 0)} saw the break in their first playlist,"
        f" {report['late_joiners']['ok']} played cleanly",
        f"{'component':<10} {'RSS MiB start':>13} {'end':>7} {'peak':>7} {'bound':>7}"
        f" {'fds start':>9} {'end':>5} {'peak':>5} {'bound':>5}  ok",
    ]
    for role, r in report["resources"]["components"].items():
        lines.append(
            f"{role:<10} {r['start']['rss_mib']:>13.1f} {r['end']['rss_mib']:>7.1f}"
            f" {r['peak_rss_mib']:>7.1f} {r['rss_bound_mib']:>7.1f} {r['start']['fds']:>9g}"
            f" {r['end']['fds']:>5g} {r['peak_fds']:>5} {r['fd_bound']:>5g}"
            f"  {'ok' if r['ok'] else 'GREW'}"
        )
    lines.append(f"(start, end: {report['resources']['bound'].split('where ')[-1]})")
    for mode, error in report.get("fleets_died", {}).items():
        lines.append(f"the {mode} viewers stopped: {error}")
    for mode in report.get("fleets_unwatched", []):
        lines.append(f"the {mode} viewers fetched no playlist")
    for restart in report["resources"]["restarts"]:
        lines.append(f"restarted: {restart['role']} at {restart['at']} s")
    lines.append("ok" if report["ok"] else "FAILED")
    return lines


def run(args: argparse.Namespace) -> int:
    from rig.soak.plan import kinds, schedule
    from rig.soak.run import Soak
    from stitcher.errors import RigError

    signal.signal(signal.SIGTERM, _stop)
    seconds = args.minutes * 60.0
    try:
        plan = schedule(args.breaks, seconds, args.warm_up, 30.0, kinds(args.kinds))
    except ValueError as exc:
        raise RigError(f"soak: {exc}") from None
    if args.viewers < 2:
        raise RigError("soak: --viewers must be at least 2 (one SSAI, one SGAI)")
    settings, env, state = settings_of(args, "soak")
    with own_rig(args, "soak", settings, env, state) as process:
        soak = Soak(
            settings,
            process.pid,
            plan,
            channel=args.channel,
            viewers=args.viewers,
            seconds=seconds,
            warm_up=args.warm_up,
            joiners=args.joiners,
            head=args.segments == "head",
        )
        report = asyncio.run(soak.run())
    report["rig"] = {
        "kv": args.kv,
        "edge": settings.edge.enabled,
        "stitcher_workers": settings.stitcher.workers,
        "channel": args.channel,
        "state_dir": str(state),
        "segments": args.segments,
    }
    print("\n".join(summary(report)), flush=True)
    for line in report["errors"][:5]:
        print(f"    {line}", flush=True)
    for example in report["violation_examples"][:5]:
        print(f"    {example}", flush=True)
    write_report(args.json, "soak", report)
    return 0 if report["ok"] else 1
