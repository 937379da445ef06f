"""The live source's pure core: the ffmpeg command, its segment lists, and which segments to
publish.

Side effects: none.
How and why: docs/origin.md, "`origin_emulator.encoder`".
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from origin_emulator.config import ChannelConfig, MediaSettings
from origin_emulator.content import ContentRecipe, encode_args, filter_graph
from origin_emulator.timeline import Timeline

LIVE_FIRST_PTS = 126_000  # ffmpeg's MPEG-TS mux delay (1.4 s): PTS of segment 0's first frame
MIN_SEGMENTS = 3  # a run is published once it holds this many segments (3 target durations)
SEGMENT_NAME = re.compile(r"seg_(\d+)\.ts")
RUN_NAME = re.compile(r"run-(\d+)")


def live_timeline(epoch: float, segment_seconds: float, window: int) -> Timeline:
    """The live source's timeline: segment n starts at epoch + n × segment; n's first PTS as ffmpeg
    writes it."""
    return Timeline(
        epoch=epoch, durations=(segment_seconds,), first_pts=(LIVE_FIRST_PTS,), window=window
    )


# --------------------------------------------------------------------------- the command


def run_directory(out_dir: Path, start_number: int) -> Path:
    """Where the run of ffmpeg that starts at segment `start_number` writes."""
    return out_dir / f"run-{start_number}"


def live_caption(segment_seconds: float, start_number: int) -> str:
    """drawtext text: the wall clock (UTC, when the frame is drawn) and the frame's segment
    number."""
    return (
        r"LIVE  %{gmtime\:%Y-%m-%d %H\\\:%M\\\:%S.%1N} UTC"
        rf"  seg %{{eif\:floor(t/{segment_seconds:g})+{start_number}\:d}}"
    )


def live_argv(
    channel: ChannelConfig,
    media: MediaSettings,
    out_dir: Path,
    start_number: int,
    ffmpeg: str = "ffmpeg",
    font: str | None = None,
) -> list[str]:
    """The ffmpeg command of one live run: every rung into `run-<start>/<rung>/seg_<n>.ts` with the
    list `run-<start>/<rung>.csv`. Pure: builds the argument list only.

    The graph is the loop render's (`origin_emulator.content.filter_graph`) paced to the wall clock,
    with the wall clock burned in; encoding is the loop's (`encode_args`) with x264's zero-latency
    tuning (no look-ahead, no B-frames). The segment muxer keeps one MPEG-TS muxer per rung
    (continuity counters run on across segments; PAT/PMT start every segment) and flags the run's
    first packets as a discontinuity.
    """
    if start_number < 1:
        raise ValueError(
            "a live run starts at segment 1 or later (segment 0's audio priming would shift its"
            " timestamps)"
        )
    recipe = ContentRecipe.for_channel(channel, media)
    seconds = f"{media.segment_seconds:g}"
    offset = f"{round(start_number * media.segment_seconds * 1_000_000)}us"
    directory = run_directory(out_dir, start_number)
    graph = filter_graph(recipe, font, live_caption(media.segment_seconds, start_number), live=True)
    argv = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-y",
        "-loglevel",
        "warning",
        "-filter_complex",
        graph,
    ]
    for i, rung in enumerate(recipe.ladder):
        argv += encode_args(recipe, i, tune="zerolatency")
        argv += [
            "-output_ts_offset", offset,
            "-f", "segment", "-segment_time", seconds,
            "-segment_time_delta", f"{0.5 / media.fps:.6f}", "-segment_format", "mpegts",
            "-segment_format_options", "mpegts_flags=+initial_discontinuity",
            "-individual_header_trailer", "0", "-reset_timestamps", "0",
            "-segment_start_number", str(start_number),
            "-segment_list", str(directory / f"{rung.name}.csv"), "-segment_list_type", "csv",
            str(directory / rung.name / "seg_%d.ts"),
        ]  # fmt: skip
    return argv


# --------------------------------------------------------------------------- the segment lists


@dataclass(frozen=True)
class ListedSegment:
    """One line of a segment list: the file and the output time (s) its last frame ends."""

    name: str
    start: float
    end: float

    @property
    def number(self) -> int | None:
        match = SEGMENT_NAME.fullmatch(self.name)
        return int(match.group(1)) if match else None


def parse_segment_list(text: str) -> tuple[list[ListedSegment], int]:
    """The complete lines of (the rest of) a CSV segment list, and how many characters they span.

    A line still being written (no newline yet) is left for the next read; unreadable lines are
    skipped.
    """
    end = text.rfind("\n") + 1
    listed = []
    for row in csv.reader(io.StringIO(text[:end])):
        if len(row) != 3:
            continue
        try:
            listed.append(ListedSegment(row[0], float(row[1]), float(row[2])))
        except ValueError:
            continue
    return listed, end


def accept(listed: ListedSegment, segment_seconds: float, fps: int) -> int | None:
    """The segment number of a listed segment, when it is a whole segment whose end time agrees with
    its number (`end = (n + 1) × segment`); else None (the short last segment of a stopped run)."""
    n = listed.number
    if n is None or abs(listed.end - (n + 1) * segment_seconds) > 0.5 / fps:
        return None
    return n


def complete(listed: Mapping[str, Iterable[int]], rungs: Sequence[str]) -> set[int]:
    """The segments listed (accepted) in every rung."""
    sets = [set(listed.get(rung, ())) for rung in rungs]
    return set.intersection(*sets) if sets else set()


# --------------------------------------------------------------------------- publishing


def live_window(
    timeline: Timeline, encoded: Sequence[int], now: float, minimum: int = MIN_SEGMENTS
) -> range:
    """The live window at `now` from the complete segments `encoded` (ascending); empty when none.

    Only segments the clock has finished count. The newest unbroken run holding at least
    `min(minimum, window)` of them gives the window (its newest `window`); a run that ended more
    than a window's duration ago is stale (the encoder has stopped: nothing is published).
    """
    due = timeline.last_published(now)
    need = max(1, min(minimum, timeline.window))
    last = first = None
    for n in reversed(encoded):
        if n > due:
            continue
        if first is not None and n == first - 1:
            first = n
            continue
        if last is not None and last - first + 1 >= need:
            break
        last = first = n
    if (
        last is None
        or last - first + 1 < need
        or now - timeline.end(last) > timeline.window_seconds
    ):
        return range(0)
    return range(max(first, last - timeline.window + 1), last + 1)


def expired(timeline: Timeline, n: int, now: float, margin: float) -> bool:
    """Segment n may be deleted: it is past its R12 availability (`Timeline.available`) by `margin`
    s."""
    return (
        now
        > timeline.end(n + timeline.window)
        + timeline.duration(n)
        + timeline.window_seconds
        + margin
    )


def encoder_lag(timeline: Timeline, run_start: int, newest: int | None, now: float) -> float:
    """Seconds a run is behind: from the end of its newest complete segment (or its start) to `now`,
    less one segment (the one being encoded). About 0 for a healthy encoder."""
    since = timeline.end(newest) if newest is not None else timeline.start(run_start)
    return now - since - timeline.duration(run_start)
