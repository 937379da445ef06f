"""`rig inspect splices URL`: follow a live HLS stream and measure the audio at every splice, from the bytes.

A QA tool for what playlist checks cannot see: where the stream changes source (an
EXT-X-DISCONTINUITY before a segment: into an ad, between ads, back to content) a player lines up
the two sides' pictures, and any sound missing (a hole) or doubled (an overlap) there is heard as a
click or a gap. For each such boundary this module downloads both segments and measures, with
`stitcher.ts` (`scan`, `av_timing`, `bridge`):

- how far the sound ends after the picture in the segment before (`end_offset`) and starts after
  the picture in the segment after (`start_offset`), and the sound a player must bridge between
  them (positive: a hole, negative: an overlap); ok within one AAC frame (21.3 ms at 48 kHz);
- continuity counters: every PID in both segments must count on by one, or flag the
  discontinuity on its first packet (discontinuity_indicator).
With `--all` every boundary is reported; a continuous one is measured on its absolute timestamps.

The core is pure (`BoundaryTracker` picks each new boundary out of successive reloads once, keyed
by media sequence number; `measure` turns two segments into a `SpliceReport`); `follow` is the
polling shell: it reloads the media playlist every half target duration on the `Clock` it is given
(`clock.sleep`, so tests run it on a fake clock) and fetches segments with aiohttp.
Side effects: HTTP requests to the stream's servers; the CLI prints to stdout and stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import urljoin, urlsplit

import aiohttp

from rig.interrupts import run_until_interrupted
from rig.playhead import choose_variant
from stitcher.clock import Clock, SystemClock
from stitcher.playlist import (
    MasterPlaylist,
    MediaPlaylist,
    PlaylistError,
    parse_media_playlist,
    parse_playlist,
    segment_kind,
)
from stitcher.ts import (
    CLOCK,
    NULL_PID,
    PAT_PID,
    AvTiming,
    TsError,
    TsInfo,
    av_timing,
    bridge,
    scan,
    unchained,
)

__all__ = [
    "Boundary",
    "CcProblem",
    "SpliceReport",
    "Summary",
    "BoundaryTracker",
    "InspectError",
    "measure",
    "measure_scanned",
    "continuity_problems",
    "follow",
    "add_parser",
    "execute",
    "run",
]

REQUEST_TIMEOUT = 10.0  # seconds, per request
SCANNED_KEPT = 32  # scanned segments remembered (a segment is the "after" of one boundary and the "before" of the next)
PID_NAMES = {PAT_PID: "PAT", 0x0001: "CAT", 0x0011: "SDT", 0x0012: "EIT", 0x0014: "TDT"}


class InspectError(Exception):
    """The stream cannot be inspected at all (unreachable, not a playlist, no such variant): exit 2."""


def _ms(ticks: int | None) -> float | None:
    return None if ticks is None else round(ticks * 1000 / CLOCK, 1)


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# --------------------------------------------------------------------------- the pure core


@dataclass(frozen=True)
class Boundary:
    """Where segment `msn` follows segment `msn - 1` in the playlist; `discontinuity`: an
    EXT-X-DISCONTINUITY sits before segment `msn` (its discontinuity sequence number is then higher)."""

    discontinuity: bool
    msn: int | None = None
    before_uri: str = ""
    after_uri: str = ""
    before_dsn: int | None = (
        None  # discontinuity sequence numbers of both segments (RFC 8216 §6.2.2)
    )
    after_dsn: int | None = None


@dataclass(frozen=True)
class CcProblem:
    """A PID whose continuity counter does not count on across the boundary, and is not flagged."""

    pid: int
    name: str
    before: int  # last counter before the boundary
    after: int  # first counter after it

    def text(self) -> str:
        return f"{self.name} 0x{self.pid:04X} cc {self.before}->{self.after}"


@dataclass(frozen=True)
class SpliceReport:
    """What one boundary measures; `error` when its segments could not be fetched or read."""

    boundary: Boundary
    before: AvTiming | None = None
    after: AvTiming | None = None
    bridge: int | None = None  # ticks: positive a hole, negative an overlap
    audio_frame: int | None = None  # ticks of one AAC frame (1920 at 48 kHz)
    cc_problems: tuple[CcProblem, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        """The sound to bridge is within one AAC frame (the continuity counters are `cc_ok`)."""
        return (
            self.error is None and self.bridge is not None and abs(self.bridge) <= self.audio_frame
        )

    @property
    def cc_ok(self) -> bool:
        return self.error is None and not self.cc_problems

    @property
    def passed(self) -> bool:
        return self.ok and self.cc_ok

    def to_json(self) -> dict[str, Any]:
        b = self.boundary
        kind = (
            None
            if self.bridge is None
            else "hole"
            if self.bridge > 0
            else "overlap"
            if self.bridge < 0
            else "none"
        )
        return {
            "type": "boundary", "msn": b.msn, "discontinuity": b.discontinuity, "dsn_before": b.before_dsn, "dsn_after": b.after_dsn,
            "before_uri": b.before_uri, "after_uri": b.after_uri,
            "before_end_offset_ms": _ms(self.before.end_offset) if self.before else None,
            "after_start_offset_ms": _ms(self.after.start_offset) if self.after else None,
            "bridge_ms": _ms(self.bridge), "bridge_ticks": self.bridge, "bridge_kind": kind,
            "audio_frame_ms": _ms(self.audio_frame), "ok": self.ok,
            "cc_ok": self.cc_ok, "cc_problems": [p.text() for p in self.cc_problems], "error": self.error,
        }  # fmt: skip


def _pid_name(pid: int, info: TsInfo) -> str:
    if pid in info.streams:
        return info.streams[pid].kind
    return PID_NAMES.get(pid, "PSI")


def continuity_problems(before: TsInfo, after: TsInfo) -> tuple[CcProblem, ...]:
    """PIDs in both segments whose first counter after the boundary is neither the last one before it
    plus one (mod 16) nor flagged with the discontinuity_indicator."""
    return tuple(
        CcProblem(pid, _pid_name(pid, after), before.last_cc[pid], after.first_cc[pid])
        for pid in unchained(before, after)
        if pid != NULL_PID and pid not in after.flagged
    )


def measure_scanned(
    before: TsInfo, after: TsInfo, discontinuity: bool, boundary: Boundary | None = None
) -> SpliceReport:
    """`measure` on segments already scanned."""
    boundary = boundary or Boundary(discontinuity)
    timings = []
    for side, info in (("before", before), ("after", after)):
        try:
            timings.append(av_timing(info))
        except TsError as exc:
            return SpliceReport(
                boundary,
                cc_problems=continuity_problems(before, after),
                error=f"segment {side}: {exc}",
            )
    a, b = timings
    return SpliceReport(
        boundary,
        a,
        b,
        bridge(a, b, discontinuity),
        min(a.audio_frame, b.audio_frame),
        continuity_problems(before, after),
    )


def measure(
    before: bytes, after: bytes, discontinuity: bool, boundary: Boundary | None = None
) -> SpliceReport:
    """Measure the boundary where the segment `after` follows `before` (MPEG-TS bytes): both sides'
    audio/video offsets, the sound to bridge (across a discontinuity each side against its own
    picture, else on the absolute timestamps) and the continuity counters. Bytes that are not a
    transport stream with H.264 and AAC give a report with `error`."""
    boundary = boundary or Boundary(discontinuity)
    try:
        return measure_scanned(scan(before), scan(after), discontinuity, boundary)
    except (TsError, IndexError) as exc:
        return SpliceReport(boundary, error=str(exc))


class BoundaryTracker:
    """Picks the boundaries not seen before out of successive reloads of one media playlist.

    Keyed by media sequence number: each boundary (msn - 1, msn) is given once, as soon as both
    segments have been seen (in one reload or in two), with the URI and discontinuity first seen for
    each. `every`: continuous boundaries too, not only discontinuities. `missed` holds the ranges of
    MSNs whose boundary was never visible (the window moved on further than a reload between two loads).
    """

    def __init__(self, every: bool = False):
        self.every = every
        self.missed: list[tuple[int, int]] = []
        self._segments: dict[
            int, tuple[int, str, bool]
        ] = {}  # msn -> (dsn, absolute URI, discontinuity before it)
        self._done: set[int] = set()
        self._highest: int | None = None

    def update(self, playlist: MediaPlaylist, base_url: str) -> list[Boundary]:
        """The new boundaries of this reload (`base_url`: the playlist's URL, to resolve URIs)."""
        numbered = list(playlist.numbered())
        if not numbered:
            return []
        first = numbered[0][0]
        if self._highest is not None and first > self._highest + 1:
            self.missed.append((self._highest + 1, first))
        for msn, dsn, segment in numbered:
            self._segments.setdefault(
                msn, (dsn, urljoin(base_url, segment.uri), segment.discontinuity > 0)
            )
        found = []
        for msn, _, _ in numbered:
            previous = self._segments.get(msn - 1)
            if msn in self._done or previous is None:
                continue
            self._done.add(msn)
            dsn, uri, discontinuity = self._segments[msn]
            if discontinuity or self.every:
                found.append(Boundary(discontinuity, msn, previous[1], uri, previous[0], dsn))
        self._highest = max(
            numbered[-1][0], self._highest if self._highest is not None else numbered[-1][0]
        )
        keep_from = min(first, self._highest) - 1
        self._segments = {m: v for m, v in self._segments.items() if m >= keep_from}
        self._done = {m for m in self._done if m >= keep_from}
        return found


@dataclass
class Summary:
    """A whole run: every report in order, what could not be seen, and the verdict."""

    url: str
    media_url: str
    started: float
    ended: float = 0.0
    reports: list[SpliceReport] = field(default_factory=list)
    missed: list[tuple[int, int]] = field(default_factory=list)
    reloads: int = 0
    reload_errors: int = 0

    @property
    def ok(self) -> bool:
        return all(r.passed for r in self.reports)

    @property
    def exit_code(self) -> int:
        """0 every boundary within one AAC frame with good continuity counters, else 1."""
        return 0 if self.ok else 1

    def to_json(self) -> dict[str, Any]:
        bridges = [r.bridge for r in self.reports if r.bridge is not None]
        return {
            "type": "summary", "url": self.url, "media_url": self.media_url, "seconds": round(self.ended - self.started, 3),
            "boundaries": len(self.reports), "discontinuities": sum(r.boundary.discontinuity for r in self.reports),
            "over_one_frame": sum(1 for r in self.reports if r.error is None and not r.ok),
            "with_cc_problems": sum(1 for r in self.reports if r.cc_problems),
            "errors": sum(1 for r in self.reports if r.error is not None),
            "largest_hole_ms": _ms(max((b for b in bridges if b > 0), default=None)),
            "largest_overlap_ms": _ms(min((b for b in bridges if b < 0), default=None)),
            "missed_msns": [list(m) for m in self.missed], "reloads": self.reloads, "reload_errors": self.reload_errors,
            "ok": self.ok,
        }  # fmt: skip


# --------------------------------------------------------------------------- the polling shell


async def _get(session: aiohttp.ClientSession, url: str) -> bytes:
    """The body of a 200 answer; InspectError for anything else."""
    try:
        async with session.get(
            url, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        ) as response:
            body = await response.read()
            if response.status != 200:
                raise InspectError(f"GET {url} returned HTTP {response.status}")
            return body
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        raise InspectError(f"GET {url} failed: {_describe(exc)}") from exc


async def _get_playlist(session: aiohttp.ClientSession, url: str) -> MediaPlaylist | MasterPlaylist:
    body = await _get(session, url)
    try:
        return parse_playlist(body.decode("utf-8"))
    except (UnicodeError, PlaylistError) as exc:
        raise InspectError(f"{url} is not an HLS playlist: {exc}") from exc


def pick_variant(master: MasterPlaylist, wanted: str | None) -> str:
    """The URI of the variant named `wanted` (a name such as hi, a RESOLUTION or BANDWIDTH, lowest or
    highest) or at index `wanted` (0 is the first); the first variant when None."""
    variants = master.variants
    if not variants:
        raise InspectError("the master playlist has no variants")
    if wanted is None:
        return variants[0].uri
    if wanted.isdigit():
        if int(wanted) >= len(variants):
            raise InspectError(f"no variant at index {wanted} (the master has {len(variants)})")
        return variants[int(wanted)].uri
    try:
        return choose_variant(master, wanted, random.Random(0)).uri
    except LookupError as exc:
        raise InspectError(str(exc)) from exc


async def follow(
    url: str,
    *,
    clock: Clock,
    session: aiohttp.ClientSession,
    seconds: float = 60.0,
    splices: int | None = None,
    variant: str | None = None,
    every: bool = False,
    stop: asyncio.Event | None = None,
    on_report: Callable[[SpliceReport], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> Summary:
    """Follow the live stream at `url` (a media playlist, or a master: then `variant`, see `pick_variant`)
    for `seconds` of `clock` time, or until `splices` boundaries were reported or `stop` is set,
    reloading every half target duration (until EXT-X-ENDLIST); each new boundary is measured and given to `on_report`.
    Raises InspectError when the stream cannot be read at the start; later reload failures go to
    `on_warning` and the run goes on."""
    warn = on_warning or (lambda text: None)
    playlist = await _get_playlist(session, url)
    media_url = url
    if isinstance(playlist, MasterPlaylist):
        media_url = urljoin(url, pick_variant(playlist, variant))
        playlist = await _get_playlist(session, media_url)
        if not isinstance(playlist, MediaPlaylist):
            raise InspectError(
                f"{media_url} is a master playlist where a media playlist was expected"
            )
    elif variant is not None:
        warn(f"{url} is a media playlist: --variant {variant} ignored")
    summary = Summary(url, media_url, clock.now())
    tracker = BoundaryTracker(every)
    scanned: OrderedDict[str, TsInfo | str] = OrderedDict()

    async def segment(uri: str) -> TsInfo | str:
        if uri not in scanned:
            try:
                data = await _get(session, uri)
            except InspectError as exc:
                scanned[uri] = str(exc)
            else:
                try:
                    scanned[uri] = scan(data)
                except (
                    TsError,
                    IndexError,
                ) as exc:  # IndexError: a packet cut short inside a header
                    scanned[uri] = f"{uri} is not a usable transport stream: {exc}"
            while len(scanned) > SCANNED_KEPT:
                scanned.popitem(last=False)
        return scanned[uri]

    end = summary.started + seconds
    next_load = summary.started
    try:
        while True:
            summary.reloads += 1
            for boundary in tracker.update(playlist, media_url):
                before, after = (
                    await segment(boundary.before_uri),
                    await segment(boundary.after_uri),
                )
                if isinstance(before, str) or isinstance(after, str):
                    report = SpliceReport(
                        boundary, error=before if isinstance(before, str) else after
                    )
                else:
                    report = measure_scanned(before, after, boundary.discontinuity, boundary)
                summary.reports.append(report)
                if on_report is not None:
                    on_report(report)
                if splices is not None and len(summary.reports) >= splices:
                    return summary
            for first, last in tracker.missed[len(summary.missed) :]:
                warn(
                    f"boundaries of MSN {first}..{last} never visible (the window moved on between two reloads)"
                )
            summary.missed = list(tracker.missed)
            if playlist.endlist:  # the stream is over: nothing new will come
                return summary
            next_load = max(next_load + playlist.target_duration / 2, clock.now())
            if next_load >= end or not await clock.sleep(next_load - clock.now(), stop):
                return summary
            try:
                playlist = parse_media_playlist((await _get(session, media_url)).decode("utf-8"))
            except (InspectError, UnicodeError, PlaylistError) as exc:
                summary.reload_errors += 1
                warn(f"reload failed: {exc}")
    finally:
        summary.ended = clock.now()


# --------------------------------------------------------------------------- CLI

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
COLUMNS = f"{'MSN':<10} {'DSN':<9} {'BEFORE':<26} {'AFTER':<26} {'END ms':>7} {'START ms':>8} {'BRIDGE ms':>16} {'OK':<3} CC"


def short_uri(uri: str) -> str:
    """A segment named for the table: `seg_1234.ts`, `house-1/seg_00000.ts`, `slate/seg_00002.ts`."""
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
    ms = _ms(report.bridge)
    kind = " hole" if report.bridge > 0 else " overlap" if report.bridge < 0 else ""
    cc = "ok" if not report.cc_problems else ", ".join(p.text() for p in report.cc_problems)
    return (
        f"{head} {_ms(report.before.end_offset):>+7.1f} {_ms(report.after.start_offset):>+8.1f} {f'{ms:+.1f}{kind}':>16} "
        f"{'yes' if report.ok else 'no':<3} {cc}"
    )


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def summary_line(summary: Summary) -> str:
    """The last line of the table: counts, extremes and the verdict."""
    data = summary.to_json()
    found = f"{_count(data['boundaries'], 'boundary', 'boundaries')} ({_count(data['discontinuities'], 'discontinuity', 'discontinuities')})"
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
        help="variant of a master playlist: a name (hi for hi.m3u8 or hi/index.m3u8), RESOLUTION, BANDWIDTH, "
        "lowest, highest, or an index (0 is the first); default: the first (the rig lists the highest first)",
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
        help="report every boundary, not only discontinuities (continuous ones are measured on absolute timestamps)",
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
    """Run `rig inspect splices` on the wall clock (Ctrl-C ends the run early and still summarises)."""
    return run_until_interrupted(lambda stop: execute(args, SystemClock(), stop=stop))
