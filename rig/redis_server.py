"""A private, throw-away `redis-server` for tests and benchmarks.

Side effects: one child process, a temporary directory (its log is `redis.log` there). The waits are
about a real OS process, so they use the monotonic clock rather than a project `Clock`.
How and why: docs/rig.md, "`rig.redis_server`".
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from stitcher.errors import RigError

__all__ = [
    "RedisServer",
    "RedisServerError",
    "RedisServerMissing",
    "redis_server_argv",
    "start_redis",
    "start_redis_sync",
    "running_redis",
    "find_redis_server",
]

HOST = "127.0.0.1"
START_TIMEOUT = 10.0  # seconds until the server must answer
STOP_TIMEOUT = 5.0  # seconds for SIGTERM before SIGKILL
PORT_ATTEMPTS = 3  # a free port can be taken between choosing it and binding it: try again


class RedisServerError(RigError):
    """A private redis-server could not be started."""


class RedisServerMissing(RedisServerError):
    """The redis-server binary is not installed."""


def find_redis_server(binary: str = "redis-server") -> str:
    """The path of `binary`; `RedisServerMissing` if it is not on PATH."""
    found = shutil.which(binary)
    if found is None:
        raise RedisServerMissing(
            f"{binary} not found on PATH: install it (Debian/Ubuntu: apt-get install redis-server) "
            "or point the tool at an existing server with a redis:// URL"
        )
    return found


def redis_server_argv(
    binary: str, port: int, directory: Path, persistent: bool = False, host: str = HOST
) -> list[str]:
    """The command line of a private server on `host`:`port` (pure). Throw-away by default;
    `persistent`: an append-only file in `directory` (fsync every second), so a restarted server
    still has every break record (the rig's own KV, `rig up --kv redis`)."""
    return [
        binary,
        "--port",
        str(port),
        "--bind",
        host,
        "--save",
        "",
        "--appendonly",
        "yes" if persistent else "no",
        *(("--appendfsync", "everysec") if persistent else ()),
        "--dir",
        str(directory),
        "--daemonize",
        "no",
        "--protected-mode",
        "yes",
        "--loglevel",
        "warning",
    ]


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _serving_pid(port: int) -> int | None:
    """The process id of the Redis server answering on loopback `port` (None: nothing answers).

    Checking the pid, not just PING, tells our server from another one already on the port.
    """
    try:
        with socket.create_connection((HOST, port), timeout=0.5) as sock:
            sock.sendall(b"INFO server\r\n")
            data = b""
            while b"process_id:" not in data or not data.endswith(b"\r\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    for line in data.decode(errors="replace").splitlines():
        if line.startswith("process_id:"):
            return int(line.split(":", 1)[1])
    return None


class RedisServer:
    """A running private redis-server (see the module docstring)."""

    def __init__(self, process: subprocess.Popen, port: int, directory: Path, owns_directory: bool):
        self.process = process
        self.port = port
        self.directory = directory
        self._owns_directory = owns_directory

    @property
    def url(self) -> str:
        """`redis://127.0.0.1:PORT/0`."""
        return self.url_for(0)

    def url_for(self, db: int) -> str:
        """The URL of database `db` on this server."""
        return f"redis://{HOST}:{self.port}/{db}"

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        """The server's log so far (for error messages)."""
        try:
            return (self.directory / "redis.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM (then SIGKILL after STOP_TIMEOUT), wait, remove the directory if ours
        (idempotent)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> RedisServer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.stop)


def _launch(
    binary: str, port: int, directory: Path, owns: bool, timeout: float, persistent: bool
) -> RedisServer:
    with open(directory / "redis.log", "ab") as log:
        process = subprocess.Popen(
            redis_server_argv(binary, port, directory, persistent),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = RedisServer(
        process, port, directory, owns_directory=False
    )  # a failed try keeps the directory
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _serving_pid(port) == process.pid:
            server._owns_directory = owns
            return server
        if process.poll() is not None:
            break
        time.sleep(0.02)
    server.stop()
    raise RedisServerError(
        f"redis-server on port {port} did not answer within {timeout:g} s "
        f"(exit status {process.poll()}):\n{server.log()[-2000:]}"
    )


def start_redis_sync(
    port: int | None = None,
    directory: str | Path | None = None,
    *,
    binary: str = "redis-server",
    timeout: float = START_TIMEOUT,
    persistent: bool = False,
) -> RedisServer:
    """Start a private redis-server (blocking until it answers, at most `timeout` s);
    `persistent`: with an append-only file in `directory`, so a server started again over it has
    every key (`redis_server_argv`)."""
    path = find_redis_server(binary)
    owns = directory is None
    workdir = Path(tempfile.mkdtemp(prefix="rig-redis-")) if owns else Path(directory)
    workdir.mkdir(parents=True, exist_ok=True)
    attempts = 1 if port is not None else PORT_ATTEMPTS
    try:
        for attempt in range(attempts):
            try:
                return _launch(
                    path,
                    port if port is not None else free_port(),
                    workdir,
                    owns,
                    timeout,
                    persistent,
                )
            except RedisServerError:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")
    except BaseException:
        if owns:
            shutil.rmtree(workdir, ignore_errors=True)
        raise


async def start_redis(
    port: int | None = None,
    directory: str | Path | None = None,
    *,
    binary: str = "redis-server",
    timeout: float = START_TIMEOUT,
    persistent: bool = False,
) -> RedisServer:
    """Start a private redis-server without blocking the event loop; stop it with `.stop()`."""
    return await asyncio.to_thread(
        start_redis_sync, port, directory, binary=binary, timeout=timeout, persistent=persistent
    )


@contextlib.contextmanager
def running_redis(
    port: int | None = None, directory: str | Path | None = None, *, binary: str = "redis-server"
) -> Iterator[RedisServer]:
    """A private redis-server for the duration of a `with` block (sync: pytest session fixtures)."""
    server = start_redis_sync(port, directory, binary=binary)
    try:
        yield server
    finally:
        server.stop()
