"""The processes `rig bench load` and `rig chaos` start (a rig, the baselines, a second
stitcher): started in their own session with their output in a log, on free ports, waited for
until they answer, stopped (the whole process group) afterwards; and the small HTTP reads made of
them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

from stitcher.errors import RigError

__all__ = ["http_get", "answers", "wait_for", "started", "pinned", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a GET; an HTTP error status is an answer, not an exception."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def answers(url: str) -> bool:
    """Does `url` answer 200 now?"""
    try:
        return http_get(url, 2.0)[0] == 200
    except OSError:
        return False


def wait_for(
    urls: list[str],
    seconds: float,
    process: subprocess.Popen | None = None,
    log: Path | None = None,
) -> None:
    """Until every URL answers 200; RigError if `process` exits first (with its log's end) or
    `seconds` pass."""
    deadline = time.monotonic() + seconds
    while not all(answers(u) for u in urls):
        if process is not None and process.poll() is not None:
            tail = log.read_text(errors="replace")[-1500:] if log else ""
            raise RigError(f"{process.args[0]} exited ({process.returncode}) at start:\n{tail}")
        if time.monotonic() > deadline:
            raise RigError(f"no answer from {', '.join(urls)} in {seconds:.0f} s")
        time.sleep(0.2)


def pinned(cores: list[int]) -> list[str]:
    """The `taskset` prefix of a command that must run on `cores` (none: anywhere)."""
    return ["taskset", "-c", ",".join(map(str, cores))] if cores else []


@contextlib.contextmanager
def started(
    argv: list[str],
    log: Path,
    ready: list[str],
    seconds: float = 15.0,
    env: Mapping[str, str] | None = None,
) -> Iterator[subprocess.Popen]:
    """`argv` in a session of its own, output appended to `log`, ready once every URL in `ready`
    answers 200; SIGTERM to its process group afterwards (SIGKILL after 30 s)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
    try:
        wait_for(ready, seconds, process, log)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
