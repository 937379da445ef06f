"""The live source of a channel (`origin.live`): ffmpeg encoding in real time, published as it goes.

Side effects: starts ffmpeg, reads and deletes files under the channel's directory.
How and why: docs/origin.md, "`origin_emulator.live_source`".
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import shutil
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from origin_emulator.channel import LiveChannel
from origin_emulator.config import MediaSettings
from origin_emulator.content.text import find_font
from origin_emulator.encoder import (
    RUN_NAME,
    accept,
    complete,
    encoder_lag,
    expired,
    live_argv,
    live_timeline,
    live_window,
    parse_segment_list,
    run_directory,
)
from origin_emulator.errors import MediaError
from origin_emulator.ffmpeg import ffmpeg_executable, read_lines, start_ffmpeg, stop_process
from origin_emulator.timeline import Timeline
from stitcher.clock import Clock
from stitcher.errors import NotFound
from stitcher.processes import Backoff

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1  # how often the segment lists are read
LAUNCH_LEAD = 0.3  # ffmpeg is started this long before its first segment's boundary
MAX_LAG_SEGMENTS = 3  # a run this many segments behind the clock is restarted


@dataclass
class _Run:
    start: int
    directory: Path
    finished: bool
    offsets: dict[str, int] = field(default_factory=dict)  # rung -> bytes of its list already read
    listed: dict[str, set[int]] = field(
        default_factory=dict
    )  # rung -> accepted segment numbers (not expired)
    exhausted: bool = False  # finished and read to the end


class LiveEncoding:
    """What the encoder of one channel has written: complete segments by number, read from the
    lists."""

    def __init__(self, directory: Path, rungs: tuple[str, ...], timeline: Timeline, fps: int):
        self.directory = directory
        self.rungs = rungs
        self.timeline = timeline
        self.fps = fps
        self.runs: dict[int, _Run] = {}
        self.segments: dict[int, Path] = {}  # segment number -> its run's directory
        self.numbers: list[int] = []  # sorted keys of `segments`
        if directory.is_dir():
            for path in sorted(directory.iterdir()):
                match = RUN_NAME.fullmatch(path.name)
                if match and path.is_dir():
                    self.runs[int(match.group(1))] = _Run(int(match.group(1)), path, finished=True)

    def begin(self, start: int) -> Path:
        """A new run starts at segment `start`: make (empty) its directory and follow its lists."""
        directory = run_directory(self.directory, start)
        shutil.rmtree(directory, ignore_errors=True)
        for rung in self.rungs:
            (directory / rung).mkdir(parents=True, exist_ok=True)
        self.runs[start] = _Run(start, directory, finished=False)
        return directory

    def finish(self, start: int) -> None:
        """The run's ffmpeg has exited: every segment it listed is closed."""
        if start in self.runs:
            self.runs[start].finished = True
            self._read(self.runs[start])

    def newest(self, start: int) -> int | None:
        """The newest complete segment of a run."""
        run = self.runs.get(start)
        found = complete(run.listed, self.rungs) if run else set()
        return max(found) if found else None

    def window(self, now: float) -> range:
        return live_window(self.timeline, self.numbers, now)

    def path(self, rung: str, n: int) -> Path | None:
        directory = self.segments.get(n)
        return directory / rung / f"seg_{n}.ts" if directory is not None else None

    def refresh(self, now: float, margin: float) -> None:
        """Read new list lines of every run, publish segments complete in every rung, delete expired
        files."""
        for run in list(self.runs.values()):
            if not run.exhausted:
                self._read(run)
        for n in [n for n in self.numbers if expired(self.timeline, n, now, margin)]:
            directory = self.segments.pop(n)
            for rung in self.rungs:
                (directory / rung / f"seg_{n}.ts").unlink(missing_ok=True)
        self.numbers = sorted(self.segments)
        for run in list(self.runs.values()):
            for numbers in run.listed.values():
                numbers -= {n for n in numbers if expired(self.timeline, n, now, margin)}
            newest = max((max(s) for s in run.listed.values() if s), default=run.start)
            if run.finished and expired(self.timeline, newest, now, margin):
                shutil.rmtree(run.directory, ignore_errors=True)
                del self.runs[run.start]

    def _read(self, run: _Run) -> None:
        segment_seconds = self.timeline.durations[0]
        for rung in self.rungs:
            path = run.directory / f"{rung}.csv"
            offset = run.offsets.get(rung, 0)
            try:
                with open(path, "rb") as handle:
                    handle.seek(offset)
                    data = handle.read()
            except FileNotFoundError:
                continue
            whole = data[: data.rfind(b"\n") + 1]  # a line still being written is read next time
            listed, _ = parse_segment_list(whole.decode(errors="replace"))
            run.offsets[rung] = offset + len(whole)
            numbers = run.listed.setdefault(rung, set())
            numbers.update(
                n for n in (accept(s, segment_seconds, self.fps) for s in listed) if n is not None
            )
        run.exhausted = run.finished  # a finished run's lists never change again
        for n in complete(run.listed, self.rungs) - self.segments.keys():
            # ffmpeg lists a segment just before it closes the file; it opens the next one after
            if run.finished or all(
                (run.directory / rung / f"seg_{n + 1}.ts").exists() for rung in self.rungs
            ):
                self.segments[n] = run.directory
                bisect.insort(self.numbers, n)


@dataclass
class EncodedChannel(LiveChannel):
    """A channel of the origin whose segments come from a live ffmpeg encoder (see the module
    doc)."""

    media_settings: MediaSettings = field(default_factory=MediaSettings)
    directory: Path = Path()
    ffmpeg: str | None = None  # the binary (default: `origin_emulator.ffmpeg.ffmpeg_executable()`)
    restarts: int = field(default=0, init=False)
    last_exit: str = field(default="", init=False)
    stderr: deque = field(
        default_factory=lambda: deque(maxlen=20), init=False, repr=False
    )  # the run's last lines

    @cached_property
    def timeline(self) -> Timeline:
        return live_timeline(self.epoch, self.media_settings.segment_seconds, self.window)

    @cached_property
    def encoding(self) -> LiveEncoding:
        rungs = tuple(r.rendition.name for r in self.content.renditions)
        return LiveEncoding(self.directory, rungs, self.timeline, self.media_settings.fps)

    @property
    def source(self) -> str:
        return "live"

    def window_range(self, now: float) -> range:
        return self.encoding.window(now)

    def check_segment(self, variant: str, n: int, now: float) -> None:
        self.rendition(variant)
        if self.encoding.path(variant, n) is None or not self.timeline.available(n, now):
            raise NotFound(f"segment {n} of {self.name}/{variant} is not available at this time")

    def segment(self, variant: str, n: int) -> bytes:
        path = self.encoding.path(variant, n)
        try:
            if path is None:
                raise FileNotFoundError(n)
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"segment {n} of {self.name}/{variant} is no longer available") from None

    def status(self, now: float) -> dict:
        return {**super().status(now), "restarts": self.restarts, "last_exit": self.last_exit}

    def background(self, clock: Clock, stop: asyncio.Event) -> Awaitable[None] | None:
        return self._encode(clock, stop)

    async def _encode(self, clock: Clock, stop: asyncio.Event) -> None:
        await asyncio.gather(self._publish(clock, stop), self._supervise(clock, stop))

    # ------------------------------------------------------------------ background loops

    async def _publish(self, clock: Clock, stop: asyncio.Event) -> None:
        margin = 2 * self.timeline.duration(0)
        while True:
            try:
                self.encoding.refresh(clock.now(), margin)
            except OSError as exc:
                log.error("%s: cannot read or clean the live segments: %s", self.name, exc)
            if not await clock.sleep(POLL_SECONDS, stop):
                return

    async def _supervise(self, clock: Clock, stop: asyncio.Event) -> None:
        timeline = self.timeline
        ffmpeg = self.ffmpeg or ffmpeg_executable()
        font = find_font()
        if font is None:
            log.warning(
                "%s: no TrueType font found; the live picture has no burned-in clock", self.name
            )
        backoff = Backoff()
        while not stop.is_set():
            start = max(1, timeline.first_at_or_after(clock.now() + LAUNCH_LEAD))
            if not await clock.sleep(timeline.start(start) - LAUNCH_LEAD - clock.now(), stop):
                return
            began = clock.now()
            try:
                self.encoding.begin(start)
                argv = live_argv(
                    self.config, self.media_settings, self.directory, start, ffmpeg, font
                )
                self.last_exit = await self._run(argv, start, clock, stop)
            except (MediaError, OSError) as exc:  # cannot start the binary, or write its directory
                self.last_exit = str(exc)
            finally:
                self.encoding.finish(start)
            if stop.is_set():
                return
            self.restarts += 1
            pause = backoff.pause(clock.now() - began)
            log.warning(
                "%s: live encoder %s; restarting in %.0f s%s",
                self.name,
                self.last_exit,
                pause,
                "".join(f"\n    {line}" for line in self.stderr),
            )
            if not await clock.sleep(pause, stop):
                return

    async def _run(self, argv: list[str], start: int, clock: Clock, stop: asyncio.Event) -> str:
        """One run of ffmpeg until it exits, falls behind or `stop` is set; returns what
        happened."""
        process = await start_ffmpeg(argv, f"live encoder of {self.name}")
        self.stderr.clear()

        def warn(line: str) -> None:
            self.stderr.append(line)
            log.info("%s ffmpeg: %s", self.name, line)

        readers = asyncio.gather(
            read_lines(process.stdout, lambda line: None), read_lines(process.stderr, warn)
        )
        try:
            while process.returncode is None:
                lag = encoder_lag(self.timeline, start, self.encoding.newest(start), clock.now())
                if lag > MAX_LAG_SEGMENTS * self.timeline.duration(start):
                    return f"fell {lag:.1f} s behind the clock"
                if not await clock.sleep(POLL_SECONDS, stop):
                    return "stopped"
            return f"exited with code {process.returncode}"
        finally:
            await stop_process(process)
            await readers
