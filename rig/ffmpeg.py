"""Running ffmpeg: find the binary, run a prepared argv, report progress, explain failures.

Commands are built elsewhere by pure functions (`rig.media.content_argv`); this module only
runs them. A failure becomes a `MediaError` carrying ffmpeg's own last lines of output.

Side effects: starts subprocesses.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import shutil
from collections import deque
from typing import Callable, Sequence

from rig.errors import MediaError

log = logging.getLogger(__name__)

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
    command = [argv[0], "-progress", "pipe:1", "-nostats", *argv[1:]]
    log.info("running %s: %s", what, shlex.join(command))
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise MediaError(f"{what}: cannot start {argv[0]}: {exc}") from None
    tail: deque[str] = deque(maxlen=tail_lines)

    async def read_progress() -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            done = parse_progress(raw.decode(errors="replace"))
            if done is not None and on_progress is not None:
                on_progress(min(done, total_seconds) if total_seconds else done, total_seconds)

    async def read_errors() -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            line = raw.decode(errors="replace").rstrip()
            if line:
                tail.append(line)

    try:
        await asyncio.gather(read_progress(), read_errors())
        code = await process.wait()
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
