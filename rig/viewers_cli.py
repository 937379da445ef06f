"""`rig viewers URL`: run a fleet of simulated HLS players against a stream and report how they
fared.

Side effects: HTTP requests to the stream's servers; writes the JSON report file; prints to stdout
and stderr. `execute` is the same command on any clock and session (tests drive it on a FakeClock).
How and why: docs/rig.md, "`rig.viewers_cli`".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from rig.interrupts import run_until_interrupted
from rig.viewers import REQUEST_TIMEOUT, Fleet, StreamUnavailable
from stitcher.clock import Clock, SystemClock

__all__ = ["add_parser", "add_arguments", "run", "execute", "progress_line", "summary_lines"]

DESCRIPTION = (
    "Run N simulated HLS players against a master (or media) playlist URL, e.g. the stitcher's "
    "/ssai/{channel}/master.m3u8, /sgai/... or /passthrough/.... Each viewer joins at a random "
    "time within "
    "--join-spread, picks a variant, reloads the media playlist at the player cadence (a target "
    "duration after "
    "a change, half of it otherwise), fetches every segment it plays and keeps a buffer and a "
    "playhead starting "
    "3 target durations behind live (hls.js). Stalls (playhead at the end of the buffer), the ads "
    "of each break, "
    "SGAI interstitials and the outcome of viewers joining inside a break are recorded; every "
    "playlist is checked "
    "by the project's validator. Prints a progress line every few seconds and a summary; the JSON "
    "report goes to "
    "--json. Exit 0 when no viewer stalled and no rule was broken, 1 otherwise, 2 when the stream "
    "cannot be read."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `rig viewers`."""
    parser.add_argument(
        "url",
        metavar="URL",
        help="master (multivariant) or media playlist URL of a live HLS stream",
    )
    parser.add_argument(
        "-n",
        "--viewers",
        type=int,
        default=5,
        metavar="N",
        help="number of simulated viewers (default: 5)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=60.0,
        metavar="S",
        help="how long to watch, in seconds; 0 runs until Ctrl-C (default: 60)",
    )
    parser.add_argument(
        "--join-spread",
        type=float,
        default=0.0,
        metavar="S",
        help="each viewer joins after a random delay in [0, S] seconds (default: 0, all at once)",
    )
    parser.add_argument(
        "--variant",
        default="random",
        metavar="NAME",
        help="variant to play: a name (e.g. hi for hi.m3u8 or hi/index.m3u8), a RESOLUTION or "
        "BANDWIDTH, "
        "or one of random, lowest, highest (default: random per viewer)",
    )
    parser.add_argument(
        "--head", action="store_true", help="HEAD each segment instead of downloading it"
    )
    parser.add_argument(
        "--json",
        metavar="FILE",
        default=None,
        help="write the JSON report to FILE ('-' for stdout)",
    )
    parser.add_argument(
        "--progress",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds between progress lines; 0 prints none (default: 5)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=REQUEST_TIMEOUT,
        metavar="S",
        help=f"timeout of every HTTP request, in seconds (default: {REQUEST_TIMEOUT:g})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="random seed for join times and variant choice (default: none)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="do not print each violation as it is found"
    )


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `viewers` to `rig`'s subcommands."""
    parser = subparsers.add_parser(
        "viewers",
        help="simulated HLS players against a stream: stalls, ads seen, violations",
        description=DESCRIPTION,
    )
    add_arguments(parser)
    return parser


def progress_line(fleet: Fleet, since: float) -> str:
    """One short line: elapsed time, viewers per state, stalls, violations and fetch errors so
    far."""
    states = fleet.snapshot()
    count = Counter(s.state for s in states)
    parts = [f"t={fleet.clock.now() - since:.0f}s", f"viewers={len(states)}"]
    parts += [f"{name}={count[name]}" for name in ("content", "ad", "slate", "stalled", "joining")]
    if count["ended"]:
        parts.append(f"ended={count['ended']}")
    parts += [
        f"stalls={sum(s.stalls for s in states)}",
        f"violations={sum(fleet.checker.counts.values())}",
        f"errors={sum(s.fetch_errors for s in states)}",
    ]
    return " ".join(parts)


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A human summary of a `Fleet.report()`."""
    t = report["totals"]
    lines = [
        f"rig viewers: {t['viewers']} viewers, {report['seconds']:g} s of {report['url']}",
        f"  stalls: {t['stalls']} ({t['stall_seconds']:g} s)   violations: {t['violations']}"
        + (f" {t['violations_by_rule']}" if t["violations_by_rule"] else "")
        + f"   fetch errors: {t['fetch_errors']}",
        f"  fetched: {t['playlists_fetched']} playlists, {t['segments_fetched']} segments"
        + (f" ({t['segments_skipped']} skipped)" if t["segments_skipped"] else ""),
    ]
    for viewer in report["viewers"]:
        breaks = "; ".join(
            ",".join(b["ads"]) + (f"+slate {b['slate_seconds']:g}s" if b["slate_seconds"] else "")
            for b in viewer["breaks"]
        )
        if breaks:
            lines.append(f"  {viewer['id']} ({viewer['variant']}): breaks: {breaks}")
    for item in report["interstitials"]:
        lines.append(
            f"  interstitial {item['id']} at {item['start_date']} for {item['duration']} s"
        )
    if t["late_joiners"]:
        lines.append(
            f"  joined inside a break: {t['late_joiners']} ({t['late_joiners_ok']} played on "
            "cleanly)"
        )
    lines.append(f"  result: {'OK' if report['ok'] else 'FAILED (stalls or violations)'}")
    return lines


async def _progress(
    fleet: Fleet, clock: Clock, every: float, stop: asyncio.Event, out: TextIO
) -> None:
    since = clock.now()
    while await clock.sleep(every, stop):
        print(progress_line(fleet, since), file=out, flush=True)


async def execute(
    args: argparse.Namespace,
    clock: Clock,
    session: aiohttp.ClientSession | None = None,
    stop: asyncio.Event | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """`rig viewers` on any clock and session; returns the exit status."""
    out, err = out or sys.stdout, err or sys.stderr
    if args.viewers < 1:
        print("rig viewers: --viewers must be at least 1", file=err)
        return 2
    stop = stop or asyncio.Event()
    own = session is None
    session = session or aiohttp.ClientSession()
    try:

        def show(violation: Any) -> None:
            if not args.quiet:
                print(violation.line(), file=out, flush=True)

        fleet = Fleet(
            session,
            clock,
            args.url,
            args.viewers,
            join_spread=args.join_spread,
            variant=args.variant,
            head=args.head,
            seed=args.seed,
            timeout=args.timeout,
            on_violation=show,
        )
        try:
            await fleet.probe()
        except StreamUnavailable as exc:
            print(f"rig viewers: cannot read the stream: {exc}", file=err, flush=True)
            return 2
        done = asyncio.Event()
        progress = (
            asyncio.create_task(_progress(fleet, clock, args.progress, done, out))
            if args.progress > 0
            else None
        )
        try:
            report = await fleet.run(stop, args.seconds if args.seconds > 0 else None)
        finally:
            done.set()
            if progress is not None:
                await progress
    finally:
        if own:
            await session.close()
    text = json.dumps(report, indent=2)
    if args.json == "-":
        print(text, file=out)
    elif args.json:
        Path(args.json).write_text(text + "\n")
    for line in summary_lines(report):
        print(line, file=out)
    return 0 if report["ok"] else 1


def run(args: argparse.Namespace) -> int:
    """Run `rig viewers` on the wall clock (Ctrl-C ends the run early and still reports)."""
    return run_until_interrupted(lambda stop: execute(args, SystemClock(), stop=stop))
