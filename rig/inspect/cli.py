"""`rig inspect splices URL`: the command line around `follow`, one table row per splice.

Prints one row per splice as it is seen (or a JSON object per line with `--json`), then a
summary line; the exit status says whether every splice passed (0), any did not (1) or the stream
cannot be read (2). Side effects: HTTP requests; prints to stdout and stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TextIO
from urllib.parse import urlsplit

import aiohttp

from rig.inspect.boundaries import SpliceReport, Summary, milliseconds
from rig.inspect.follow import InspectError, follow
from rig.interrupts import run_until_interrupted
from stitcher.clock import Clock, SystemClock
from stitcher.playlist import segment_kind

DESCRIPTION = """\
Follow a live HLS stream (a media playlist, or a master playlist: then one variant) and measure
every splice from the segments' bytes: each boundary between consecutive media sequence numbers
where an EXT-X-DISCONTINUITY sits before the later segment (into an ad, between ads, back to
content). The playlist is reloaded every half target duration; both segments of each new splice
are downloaded and read. One table row per splice as it is seen (or a JSON object per line with
--json), then a summary.

  MSN     the media sequence number of the segment after the boundary
  DSN     discontinuity sequence numbers before->after
  END     how far the sound ends after the picture in the segment before (ms; negative: before it)
  START   how far the sound starts after the picture in the segment after (ms)
  BRIDGE  the sound a player must bridge there (ms): across a discontinuity START - END (each
          side against its own picture), on a continuous boundary (--all) the gap between the
          absolute audio timestamps; positive a hole, negative an overlap
  OK      |BRIDGE| within one AAC frame (21.3 ms at 48 kHz)
  CC      continuity counters: each PID present on both sides must count on by one, or set the
          discontinuity_indicator on its first packet after the boundary; the others are listed,
          e.g. "PAT 0x0000 cc 0->0"

exit status:
  0  every reported boundary within one AAC frame, with good continuity counters
  1  any boundary is not (or its segments could not be measured)
  2  the stream cannot be read (unreachable, not a playlist, no such variant), or bad options
"""
COLUMNS = (
    f"{'MSN':<10} {'DSN':<9} {'BEFORE':<26} {'AFTER':<26}"
    f" {'END ms':>7} {'START ms':>8} {'BRIDGE ms':>16} {'OK':<3} CC"
)


def short_uri(uri: str) -> str:
    """A segment named for the table: `seg_1234.ts`, `house-1/seg_00000.ts`,
    `slate/seg_00002.ts`."""
    kind, ad = segment_kind(uri)
    name = urlsplit(uri).path.rsplit("/", 1)[-1]
    return f"{ad}/{name}" if kind == "ad" and ad else f"slate/{name}" if kind == "slate" else name


def table_row(report: SpliceReport) -> str:
    """One line of the table for a report."""
    b = report.boundary
    dsn = f"{b.before_dsn}->{b.after_dsn}" if b.discontinuity else f"{b.after_dsn}"
    head = f"{b.msn!s:<10} {dsn:<9} {short_uri(b.before_uri):<26} {short_uri(b.after_uri):<26}"
    if report.error is not None:
        return f"{head} {'':>7} {'':>8} {'':>16} {'no':<3} error: {report.error}"
    end, start = milliseconds(report.before.end_offset), milliseconds(report.after.start_offset)
    ms = milliseconds(report.bridge)
    kind = " hole" if report.bridge > 0 else " overlap" if report.bridge < 0 else ""
    cc = "ok" if not report.cc_problems else ", ".join(p.text() for p in report.cc_problems)
    return (
        f"{head} {end:>+7.1f} {start:>+8.1f} {f'{ms:+.1f}{kind}':>16} "
        f"{'yes' if report.ok else 'no':<3} {cc}"
    )


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def summary_line(summary: Summary) -> str:
    """The last line of the table: counts, extremes and the verdict."""
    data = summary.to_json()
    boundaries = _count(data["boundaries"], "boundary", "boundaries")
    discontinuities = _count(data["discontinuities"], "discontinuity", "discontinuities")
    found = f"{boundaries} ({discontinuities})"
    parts = [
        f"{data['over_one_frame']} over one AAC frame",
        f"{data['with_cc_problems']} with CC problems",
    ]
    parts += [f"{data['errors']} not measurable"] if data["errors"] else []
    extremes = [
        f"largest {name} {data[key]:+.1f} ms"
        for name, key in (("hole", "largest_hole_ms"), ("overlap", "largest_overlap_ms"))
        if data[key] is not None
    ]
    verdict = "OK" if summary.ok else "FAILED"
    return (
        f"rig inspect: {found} in {data['seconds']:g} s of {summary.media_url}: "
        + ", ".join(parts + extremes)
        + f"; {verdict}"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `rig inspect splices`."""
    parser.add_argument(
        "url",
        metavar="URL",
        help="master (multivariant) or media playlist URL of a live HLS stream (MPEG-TS segments)",
    )
    parser.add_argument(
        "--variant",
        metavar="NAME|INDEX",
        default=None,
        help="variant of a master playlist: a name (hi for hi.m3u8 or hi/index.m3u8), RESOLUTION,"
        " BANDWIDTH, lowest, highest, or an index (0 is the first); default: the first (the rig"
        " lists the highest first)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=60.0,
        metavar="S",
        help="stop after S seconds of wall clock (default: 60)",
    )
    parser.add_argument(
        "--splices",
        type=int,
        default=None,
        metavar="N",
        help="stop after N reported boundaries (default: no limit)",
    )
    parser.add_argument(
        "--all",
        dest="every",
        action="store_true",
        help="report every boundary, not only discontinuities (continuous ones are measured on"
        " absolute timestamps)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per boundary (JSON lines) and a final summary object",
    )


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `inspect` (with its `splices` action) to `rig`'s subcommands."""
    inspect = subparsers.add_parser(
        "inspect",
        help="QA measurements of a live stream's bytes (splices)",
        description="Measure what a live HLS stream's segments carry, from their bytes.",
    )
    actions = inspect.add_subparsers(dest="inspect_command", required=True, metavar="ACTION")
    splices = actions.add_parser(
        "splices",
        help="audio hole/overlap and continuity counters at every splice",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(splices)
    return splices


async def execute(
    args: argparse.Namespace,
    clock: Clock,
    session: aiohttp.ClientSession | None = None,
    stop: asyncio.Event | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """`rig inspect splices` on any clock and session; returns the exit status."""
    out, err = out or sys.stdout, err or sys.stderr
    if args.seconds <= 0 or (args.splices is not None and args.splices < 1):
        print("rig inspect: --seconds must be positive and --splices at least 1", file=err)
        return 2
    own = session is None
    session = session or aiohttp.ClientSession()

    def show(report: SpliceReport) -> None:
        if not args.json and not shown:
            print(COLUMNS, file=out, flush=True)
        shown.append(report)
        print(
            json.dumps(report.to_json()) if args.json else table_row(report), file=out, flush=True
        )

    shown: list[SpliceReport] = []
    try:
        summary = await follow(
            args.url,
            clock=clock,
            session=session,
            seconds=args.seconds,
            splices=args.splices,
            variant=args.variant,
            every=args.every,
            stop=stop,
            on_report=show,
            on_warning=lambda text: print(f"rig inspect: {text}", file=err, flush=True),
        )
    except InspectError as exc:
        print(f"rig inspect: {exc}", file=err)
        return 2
    finally:
        if own:
            await session.close()
    print(
        json.dumps(summary.to_json()) if args.json else summary_line(summary), file=out, flush=True
    )
    return summary.exit_code


def run(args: argparse.Namespace) -> int:
    """Run `rig inspect splices` on the wall clock (Ctrl-C ends the run early and still
    summarises)."""
    return run_until_interrupted(lambda stop: execute(args, SystemClock(), stop=stop))
