"""Running the rig's components as supervised processes (what `rig up` does after the media build).

Side effects: processes, log files, HTTP GETs to health URLs.
How and why: docs/rig.md, "`rig.supervisor`".
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from rig.edge import EdgePaths, edge_argv, find_nginx, write_conf
from rig.redis_server import find_redis_server, redis_server_argv
from rig.settings import Settings
from stitcher.errors import RigError
from stitcher.processes import Backoff, death_signal

BIN = Path(sys.executable).parent
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Component:
    name: str
    argv: tuple[str, ...]
    health: str | None = None  # a URL that answers 200 once the component is ready
    port: tuple[str, int] | None = None  # (host, port) it listens on: checked free before starting


def components(settings: Settings, config: Path | None) -> list[Component]:
    """The rig's processes for these settings (`config` is passed on so they read the same file)."""
    extra = ("--config", str(config)) if config else ()
    o, a, s = settings.origin, settings.ads, settings.stitcher
    parts = [
        Component(
            "origin",
            (
                str(BIN / "origin-emulator"),
                "serve",
                "--host",
                o.host,
                "--port",
                str(o.port),
                *(("--live",) if o.live else ()),
                *extra,
            ),
            f"http://{o.host}:{o.port}/healthz",
            (o.host, o.port),
        ),
        Component(
            "media",
            # a parent holding the port for one worker, as for the stitcher: a media server that
            # dies costs the players nothing (connections wait in the backlog)
            (
                str(BIN / "rig"),
                "media",
                "serve",
                "--host",
                a.host,
                "--port",
                str(a.port),
                "--workers",
                "1",
                *extra,
            ),
            f"http://{a.host}:{a.port}/healthz",
            (a.host, a.port),
        ),
        Component(
            "stitcher",
            # always a parent holding the port for its workers (one by default): a worker that
            # dies is replaced while connections wait in the backlog instead of being refused
            (
                str(BIN / "stitcher"),
                "serve",
                "--host",
                s.host,
                "--port",
                str(s.port),
                "--workers",
                str(s.workers),
                *extra,
            ),
            f"http://{s.host}:{s.port}/healthz",
            (s.host, s.port),
        ),
        Component("monitor", (str(BIN / "stitcher"), "monitor", *extra)),
    ]
    if settings.redis.enabled:  # the KV comes first: the stitcher and the monitor open it
        r = settings.redis
        directory = settings.state_dir / "redis"
        argv = redis_server_argv(
            find_redis_server(), r.port, directory, persistent=True, host=r.host
        )
        parts.insert(
            2, Component("redis", tuple(argv), f"tcp://{r.host}:{r.port}", (r.host, r.port))
        )
    if settings.edge.enabled:  # last: it proxies to the stitcher and the media server
        e = settings.edge
        argv = edge_argv(find_nginx(), EdgePaths(settings.state_dir))
        parts.append(Component("edge", argv, f"{e.base_url}/edge/healthz", (e.host, e.port)))
    return parts


def prepare(settings: Settings) -> None:
    """Write what the components of `components(settings, ...)` expect on disk: the edge's
    config and directories, the redis-server's directory."""
    if settings.redis.enabled:
        (settings.state_dir / "redis").mkdir(parents=True, exist_ok=True)
    if settings.edge.enabled:
        s, a = settings.stitcher, settings.ads
        write_conf(settings.edge, (s.host, s.port), (a.host, a.port), EdgePaths(settings.state_dir))


def check_free(component: Component) -> None:
    """A clear error before starting anything when a component's port is taken."""
    if component.port is None:
        return
    host, port = component.port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(
            socket.SOL_SOCKET, socket.SO_REUSEADDR, 1
        )  # as the servers do: TIME_WAIT is no obstacle, a listener is
        try:
            probe.bind((host, port))
        except OSError as exc:
            variable = f"RIG_{'ADS' if component.name == 'media' else component.name.upper()}_PORT"
            raise RigError(
                f"{component.name} cannot listen on {host}:{port}: {exc.strerror or exc} (another "
                f"rig running? use --{component.name}-port or {variable})"
            ) from None


async def answers(health: str, session: aiohttp.ClientSession) -> bool:
    """Is the component ready: `http://...` answers 200, `tcp://host:port` (a redis-server) answers
    PING (it accepts connections while it still loads its file, and answers -LOADING then)."""
    try:
        if health.startswith("tcp://"):
            host, _, port = health.removeprefix("tcp://").rpartition(":")
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 1)
            try:
                writer.write(b"PING\r\n")
                return (await asyncio.wait_for(reader.readline(), 1)).startswith(b"+PONG")
            finally:
                writer.close()
        async with session.get(health, timeout=aiohttp.ClientTimeout(total=1)) as response:
            return response.status == 200
    except (TimeoutError, OSError, aiohttp.ClientError):
        return False


@dataclass
class Running:
    component: Component
    process: asyncio.subprocess.Process | None = None
    started: float = 0.0
    restarts: int = 0
    backoff: Backoff = field(default_factory=Backoff)
    state: str = "starting"  # starting | running | restarting | stopped
    last_exit: str = ""
    log: Path = field(default_factory=Path)


@dataclass(frozen=True)
class Status:
    """One component as the TUI shows it."""

    name: str
    state: str
    pid: int | None
    restarts: int
    last_exit: str


def tail(path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Supervisor:
    def __init__(
        self,
        parts: list[Component],
        env: dict[str, str],
        log_dir: Path,
        on_event: Callable[[str], None] = print,
    ):
        self.env, self.log_dir, self.on_event = env, log_dir, on_event
        self.running = [Running(c, log=log_dir / f"{c.name}.log") for c in parts]

    def status(self) -> list[Status]:
        return [
            Status(
                r.component.name,
                r.state,
                r.process.pid if r.process else None,
                r.restarts,
                r.last_exit,
            )
            for r in self.running
        ]

    async def _spawn(self, run: Running) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(run.log, "ab") as log:
            log.write(
                f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting: "
                f"{' '.join(run.component.argv)}\n".encode()
            )
            log.flush()
            run.process = await asyncio.create_subprocess_exec(
                *run.component.argv,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=death_signal(),
            )
        run.started = time.monotonic()

    async def _ready(self, run: Running, session: aiohttp.ClientSession, deadline: float) -> None:
        while run.component.health:
            if run.process.returncode is not None:
                raise RigError(
                    f"{run.component.name} exited with {run.process.returncode} while starting; "
                    f"its log ({run.log}) ends:\n{tail(run.log)}"
                )
            if await answers(run.component.health, session):
                break
            if time.monotonic() > deadline:
                raise RigError(
                    f"{run.component.name} did not answer {run.component.health} within "
                    f"{START_TIMEOUT:g} s; its log ({run.log}) ends:\n{tail(run.log)}"
                )
            await asyncio.sleep(0.1)
        run.state = "running"

    async def start(self) -> None:
        """Start every component and wait until each is ready; on failure stop what started and
        raise."""
        for run in self.running:
            check_free(run.component)
        try:
            async with aiohttp.ClientSession() as session:
                for run in self.running:  # in order: each one is ready before the next needs it
                    await self._spawn(run)
                    await self._ready(run, session, time.monotonic() + START_TIMEOUT)
        except BaseException:
            await self.stop()
            raise

    async def watch(self, stop: asyncio.Event) -> None:
        """Restart components that exit, until `stop` is set."""
        while not stop.is_set():
            for run in self.running:
                if run.process is None or run.process.returncode is None or run.state == "stopped":
                    continue
                code = run.process.returncode
                pause = run.backoff.pause(time.monotonic() - run.started)
                run.last_exit = (
                    f"exit {code}" if code >= 0 else f"killed by {signal.Signals(-code).name}"
                )
                run.state, run.restarts = "restarting", run.restarts + 1
                last = tail(run.log, 1)
                self.on_event(
                    f"{run.component.name} stopped ({run.last_exit}{': ' + last if last else ''}); "
                    f"restarting in {pause:g} s (log: {run.log})"
                )
                try:
                    await asyncio.wait_for(stop.wait(), pause)
                    return
                except TimeoutError:
                    pass
                await self._spawn(run)
                run.state = "running"
                self.on_event(
                    f"{run.component.name} restarted (pid {run.process.pid}, restart "
                    f"{run.restarts})"
                )
            try:
                await asyncio.wait_for(stop.wait(), 0.5)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        """SIGTERM every component, then SIGKILL what is still there after STOP_TIMEOUT."""
        alive = [r for r in self.running if r.process is not None and r.process.returncode is None]
        for run in alive:
            run.state = "stopped"
            try:
                os.killpg(run.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for run in alive:
            try:
                await asyncio.wait_for(run.process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                os.killpg(run.process.pid, signal.SIGKILL)
                await run.process.wait()
        for run in self.running:
            run.state = "stopped"
