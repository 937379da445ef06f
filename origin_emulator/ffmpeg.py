"""Running ffmpeg: find the binary, run a prepared argv, report progress, explain failures.

Side effects: starts and stops subprocesses.
How and why: docs/origin.md, "`origin_emulator.ffmpeg`".
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import shutil
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from fractions import Fraction

from origin_emulator.errors import MediaError
from stitcher.processes import death_signal

log = logging.getLogger(__name__)


def frame_rate_expr(fps: float) -> str:
    """ffmpeg's spelling of a frame rate: `25`, `30000/1001` for the NTSC rates."""
    if abs(fps - round(fps)) < 1e-6:
        return str(round(fps))
    ntsc = fps * 1.001
    if abs(ntsc - round(ntsc)) < 1e-3:
        return f"{round(ntsc) * 1000}/1001"
    return str(Fraction(fps).limit_denominator(1001))


def exact_frame_rate(fps: float) -> Fraction:
    """The frame rate `frame_rate_expr` spells, exactly (`30000/1001` for 29.97)."""
    return Fraction(frame_rate_expr(fps))


ProgressCallback = Callable[[float, float], None]  # (seconds done, seconds total)


def ffmpeg_executable() -> str:
    """`ffmpeg` from PATH when there is one, else the binary shipped by imageio-ffmpeg."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - a dependency of the project
        raise MediaError("no ffmpeg on PATH and imageio-ffmpeg is not installed") from None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        raise MediaError(f"no ffmpeg on PATH and imageio-ffmpeg has none: {exc}") from None


def parse_progress(line: str) -> float | None:
    """Seconds of output written, from one line of `-progress` output (`out_time_us=...`)."""
    key, _, value = line.strip().partition("=")
    if key != "out_time_us":  # ffmpeg also prints out_time_ms (microseconds too): read one of them
        return None
    try:
        micros = int(value)
    except ValueError:
        return None
    return micros / 1_000_000 if micros >= 0 else None


async def start_ffmpeg(argv: Sequence[str], what: str = "ffmpeg") -> asyncio.subprocess.Process:
    """Start a prepared ffmpeg command with stdout and stderr piped (stdin closed); logs the argv.

    Raises MediaError when the binary cannot be started.
    """
    log.info("running %s: %s", what, shlex.join(argv))
    try:
        return await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=death_signal(),
        )
    except OSError as exc:
        raise MediaError(f"{what}: cannot start {argv[0]}: {exc}") from None


async def read_lines(stream: asyncio.StreamReader | None, on_line: Callable[[str], None]) -> None:
    """Pass each non-empty line of a child's output (decoded, stripped) to `on_line` until EOF."""
    assert stream is not None
    async for raw in stream:
        line = raw.decode(errors="replace").rstrip()
        if line:
            on_line(line)


async def stop_process(process: asyncio.subprocess.Process, grace: float = 5.0) -> None:
    """Ask a child to stop (SIGTERM: ffmpeg finishes its files), kill it after `grace` s, reap
    it."""
    if process.returncode is None:
        try:
            process.terminate()
            await asyncio.wait_for(asyncio.shield(process.wait()), grace)
        except ProcessLookupError:
            pass
        except TimeoutError:
            process.kill()
    await process.wait()


async def watch(process: asyncio.subprocess.Process, *readers: Awaitable[None]) -> int:
    """Wait for a child's output readers (to its EOF), then for its exit code."""
    await asyncio.gather(*readers)
    return await process.wait()


async def run_ffmpeg(
    argv: Sequence[str],
    *,
    total_seconds: float = 0.0,
    on_progress: ProgressCallback | None = None,
    what: str = "ffmpeg",
    tail_lines: int = 25,
) -> None:
    """Run ffmpeg to completion. argv[0] is the binary; `-progress pipe:1 -nostats` is added.

    Raises MediaError with the last `tail_lines` lines ffmpeg printed when it exits non-zero.
    Cancelling the caller kills the process.
    """
    process = await start_ffmpeg([argv[0], "-progress", "pipe:1", "-nostats", *argv[1:]], what)
    tail: deque[str] = deque(maxlen=tail_lines)

    def progress(line: str) -> None:
        done = parse_progress(line)
        if done is not None and on_progress is not None:
            on_progress(min(done, total_seconds) if total_seconds else done, total_seconds)

    try:
        code = await watch(
            process, read_lines(process.stdout, progress), read_lines(process.stderr, tail.append)
        )
    except asyncio.CancelledError:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    if code != 0:
        details = "\n".join(f"    {line}" for line in tail)
        raise MediaError(f"{what} failed (exit {code}); ffmpeg said:\n{details}")
    if on_progress is not None and total_seconds:
        on_progress(total_seconds, total_seconds)
