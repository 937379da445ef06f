"""One `rig chaos` run over a rig it started: validating viewer fleets watch while each fault is
injected in its own phase, around an ad break the origin announces for it.

A phase: wait until every component answers; post a splice at the origin (a real SCTE-35 cue);
inject the fault at its moment of the break (`rig.chaos.faults`); wait until the component is back
and the break is over; count what the viewers met meanwhile (failed requests, violations of the
project's validator, stalls). At the end every splice the origin announced is matched with the
break records the monitor made of it (`rig.chaos.audit`), and each splice is charged to the phase
it was announced in.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from rig.chaos.audit import BreakAudit, Splice
from rig.chaos.components import Endpoints, Processes
from rig.chaos.faults import CUE, RECORDED, SPLICE, Fault
from rig.settings import Settings
from rig.viewers import Fleet, StreamUnavailable
from stitcher.clock import SystemClock
from stitcher.errors import RigError

__all__ = ["Chaos", "Phase"]

BREAK_SECONDS = 10.0  # the break each phase posts (default)
CUE_DELAY = 0.3  # seconds after the splice is posted that a CUE fault strikes
READY_TIMEOUT = 90.0  # seconds a component may take to answer again
WARM_UP = 8.0  # seconds the fleets watch before the first phase
RETRY_POST = 2.0  # seconds before posting again a splice the origin refused (it would overlap)
USER_AGENT = "ssai-rig-chaos (simulated viewers)"
JUDGE = 8.0  # seconds after its cue appeared that a splice must have its break record


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class Phase:
    """One fault's outcome."""

    fault: Fault
    started: float = 0.0  # epoch seconds
    ended: float = 0.0
    injected: dict[str, list[int]] = field(default_factory=dict)  # role -> pids signalled
    recovery: float | None = None  # seconds from the fault until every component answered
    failed: int = 0
    violations: int = 0
    stalls: int = 0
    errors: list[str] = field(default_factory=list)  # the first failed requests
    examples: list[dict] = field(default_factory=list)  # the first violations
    splices: list[Splice] = field(default_factory=list)
    problem: str | None = None  # the phase could not run as planned

    @property
    def lost(self) -> int:
        return sum(not s.records for s in self.splices)

    @property
    def duplicated(self) -> int:
        return sum(len(s.records) > 1 for s in self.splices)

    @property
    def ok(self) -> bool:
        return (
            self.problem is None
            and self.violations == 0
            and self.lost == 0
            and self.duplicated == 0
            and (self.failed == 0 or not self.fault.zero_failures)
        )

    def to_dict(self) -> dict[str, Any]:
        f = self.fault
        return {
            "fault": f.name,
            "what": f.what,
            "signal": f.signal.name if f.roles else None,
            "origin_fault": f.origin,
            "hold": f.hold or None,
            "when": f.when,
            "target_failed_requests": 0 if f.zero_failures else None,
            "ok": self.ok,
            "failed_requests": self.failed,
            "violations": self.violations,
            "stalls": self.stalls,
            "breaks": len(self.splices),
            "lost": self.lost,
            "duplicated": self.duplicated,
            "recovery_seconds": round(self.recovery, 2) if self.recovery is not None else None,
            "injected": self.injected,
            "problem": self.problem,
            "errors": self.errors,
            "violation_examples": self.examples,
            "splices": [
                {"channel": s.channel, "id": s.id, "start": s.start, "records": s.records}
                for s in self.splices
            ],
        }


class Chaos:
    """The faults of one run, over the rig whose `rig up` process is `rig_pid`."""

    def __init__(
        self,
        settings: Settings,
        rig_pid: int,
        faults: list[Fault],
        *,
        channel: str,
        viewers: int,
        modes: tuple[str, ...] = ("ssai", "sgai"),
        break_seconds: float = BREAK_SECONDS,
        progress: Callable[[str], None] = print,
        kv_disk: Path | None = None,
    ):
        self.settings, self.faults, self.channel = settings, faults, channel
        self.break_seconds = break_seconds
        self.viewers, self.modes, self.progress = viewers, modes, progress
        self.kv_disk = kv_disk  # the SQLite KV's directory (its own tmpfs), seen from here
        self.processes = Processes(rig_pid)
        self.endpoints = Endpoints(settings)
        s = settings
        self.origin = f"http://{s.origin.host}:{s.origin.port}"
        self.stitcher = f"http://{s.stitcher.host}:{s.stitcher.port}"
        self.watch_base = s.edge.base_url if s.edge.enabled else self.stitcher
        self.roles = ["origin", "media", "media-worker", "stitcher", "stitcher-worker", "monitor"]
        self.roles += [r for r, on in (("redis", s.redis.enabled), ("edge", s.edge.enabled)) if on]
        self.fleets: dict[str, Fleet] = {}
        self.phases: list[Phase] = []
        self.unexplained: list[dict] = []
        self._stopped: list[int] = []  # SIGSTOPped, to SIGCONT whatever happens

    # ---------------------------------------------------------------- the run

    async def run(self) -> list[Phase]:
        clock = SystemClock()
        stop = asyncio.Event()
        async with (
            aiohttp.ClientSession() as control,
            aiohttp.ClientSession(headers={"User-Agent": USER_AGENT}) as viewing,
        ):
            per_mode = max(1, self.viewers // len(self.modes))
            for k, mode in enumerate(self.modes):
                url = f"{self.watch_base}/{mode}/{self.channel}/master.m3u8"
                self.fleets[mode] = Fleet(viewing, clock, url, per_mode, join_spread=4.0, seed=k)
            # a KV on the rig's own disk is in its mount namespace: read through the stitcher
            api = self.stitcher if self.kv_disk is not None else None
            for fleet in self.fleets.values():  # a stream that cannot be read: say so now
                try:
                    await fleet.probe()
                except StreamUnavailable as exc:
                    raise RigError(f"chaos: the viewers cannot watch: {exc}") from None
            audit = BreakAudit(self.origin, [self.channel], self.settings.stitcher.kv_url, api=api)
            begun = time.time()
            watching = [asyncio.create_task(f.run(stop)) for f in self.fleets.values()]
            watching.append(asyncio.create_task(audit.watch(control, stop)))
            try:
                self.progress(
                    f"chaos: {per_mode * len(self.modes)} viewers ({', '.join(self.modes)}) on "
                    f"{self.watch_base}/.../{self.channel}; {len(self.faults)} faults"
                )
                await asyncio.sleep(WARM_UP)
                for number, fault in enumerate(self.faults, 1):
                    phase = await self._phase(fault, control)
                    self.phases.append(phase)
                    self.progress(f"[{number}/{len(self.faults)}] {self._line(phase)}")
                await self._judgeable(audit)
            finally:
                stop.set()
                ended = await asyncio.gather(*watching, return_exceptions=True)
                self._resume_all()
            failures = [e for e in ended if isinstance(e, Exception)]
            if failures:  # viewers or the audit stopped: nothing after that was watched
                raise RigError(f"chaos: the watch stopped: {failures[0]!r}")
            splices = audit.settle(begun, time.time())
            self.unexplained = audit.unexplained
            for phase in self.phases:
                phase.splices = [s for s in splices if phase.started <= s.announced < phase.ended]
        return self.phases

    async def _judgeable(self, audit: BreakAudit) -> None:
        """Keep the audit watching until every splice announced during the phases is old enough
        to have its record (one announced as the last phase ended is not lost yet)."""
        if not self.phases:
            return
        last = self.phases[-1].ended
        recent = [s.announced for s in audit.splices.values() if last - JUDGE < s.announced < last]
        if recent:
            await asyncio.sleep(max(0.0, max(recent) + JUDGE - time.time()))

    def _line(self, phase: Phase) -> str:
        recovery = f"{phase.recovery:.1f} s" if phase.recovery is not None else "-"
        verdict = "ok" if phase.ok else "FAILED"
        extra = f" ({phase.problem})" if phase.problem else ""
        return (
            f"{phase.fault.name}: {verdict}{extra}: {phase.failed} failed requests, "
            f"{phase.violations} violations, {phase.stalls} stalls, back in {recovery}"
        )

    # ---------------------------------------------------------------- one phase

    async def _phase(self, fault: Fault, session: aiohttp.ClientSession) -> Phase:
        phase = Phase(fault, started=time.time())
        await self._ready(session, time.monotonic() + READY_TIMEOUT)
        before = self._counts()
        error_mark = phase.started
        splice = await self._post_splice(session)
        if splice is None:
            phase.problem = "the origin accepted no splice"
        else:
            start = _epoch(splice["start"])
            end = start + float(splice["duration"])
            await self._moment(fault, splice, start, session)
            phase.injected, struck = await self._inject(fault, session)
            if fault.roles or fault.origin or fault.disk:
                phase.recovery = await self._recovered(fault, phase.injected, struck, session)
                if phase.recovery is None:
                    phase.problem = f"not back within {READY_TIMEOUT:g} s"
            # the phase is over once the break is, and once the window has moved past what
            # was served while the fault lasted (the next fault is judged on its own)
            window = self.settings.origin.window_segments * self.settings.media.segment_seconds
            over = end + self.settings.media.segment_seconds * 2
            if phase.recovery is not None:
                over = max(over, time.time() + window)
            await asyncio.sleep(max(0.0, over - time.time()))
        after = self._counts()
        phase.ended = time.time()
        phase.failed = after[0] - before[0]
        phase.violations = after[1] - before[1]
        phase.stalls = after[2] - before[2]
        phase.errors = [
            f"{t - phase.started:+.1f} s {viewer}: {message}"
            for fleet in self.fleets.values()
            for t, viewer, message in fleet.errors
            if error_mark <= t
        ][:10]
        phase.examples = [
            v.to_dict()
            for fleet in self.fleets.values()
            for v in fleet.checker.violations[before[3].get(fleet.url, 0) :]
        ][:10]
        return phase

    def _counts(self) -> tuple[int, int, int, dict[str, int]]:
        failed = violations = stalls = 0
        marks = {}
        for fleet in self.fleets.values():
            totals = fleet.report()["totals"]
            failed += totals["fetch_errors"]
            violations += totals["violations"]
            stalls += totals["stalls"]
            marks[fleet.url] = len(fleet.checker.violations)
        return failed, violations, stalls, marks

    async def _ready(self, session: aiohttp.ClientSession, deadline: float) -> None:
        while True:
            waiting = [r for r in self.roles if not await self._up(r, session)]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise RigError(f"chaos: {', '.join(waiting)} did not come back")
            await asyncio.sleep(0.2)

    async def _up(self, role: str, session: aiohttp.ClientSession) -> bool:
        pids = self.processes.pids(role)
        return (
            bool(pids)
            and self.processes.alive(pids)
            and await self.endpoints.answers(role, session)
        )

    async def _post_splice(self, session: aiohttp.ClientSession) -> dict | None:
        """POST a splice of `break_seconds` (with the channel's preroll); the origin refuses one
        that would overlap its scheduled breaks (409): try again a little later."""
        url = f"{self.origin}/control/{self.channel}/splice"
        headers = {"Authorization": f"Bearer {self.settings.origin.token}"}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                async with session.post(
                    url,
                    json={"duration": self.break_seconds},
                    headers=headers if self.settings.origin.token else None,
                    timeout=aiohttp.ClientTimeout(total=5),
                ) as response:
                    if response.status == 201:
                        return await response.json()
                    if response.status != 409:
                        raise RigError(f"chaos: POST {url}: HTTP {response.status}")
            except (TimeoutError, aiohttp.ClientError):
                pass
            await asyncio.sleep(RETRY_POST)
        return None

    async def _moment(
        self, fault: Fault, splice: dict, start: float, session: aiohttp.ClientSession
    ) -> None:
        """Wait for the fault's moment of the break."""
        if fault.when == CUE:
            await asyncio.sleep(CUE_DELAY)
        elif fault.when == SPLICE:
            await asyncio.sleep(max(0.0, start - time.time()))
        elif fault.when == RECORDED:
            url = f"{self.stitcher}/v1/channels/{self.channel}/breaks"
            while time.time() < start:
                try:
                    async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as r:
                        body = await r.json() if r.status == 200 else {"breaks": []}
                except (TimeoutError, aiohttp.ClientError, ValueError):
                    body = {"breaks": []}
                if any(abs(_epoch(b["startTime"]) - start) <= 1.0 for b in body["breaks"]):
                    return
                await asyncio.sleep(0.1)

    async def _inject(
        self, fault: Fault, session: aiohttp.ClientSession
    ) -> tuple[dict[str, list[int]], float]:
        """Signal the processes of every role of the fault at once (one worker of a worker role);
        a SIGSTOP is followed by SIGCONT after `hold` seconds; an origin fault is switched on for
        `hold` seconds and waited out. Returns the pids and when."""
        if fault.origin is not None:
            struck = time.monotonic()
            await self._origin_fault(fault, session)
            await asyncio.sleep(fault.hold)
            return {}, struck
        if fault.disk:
            struck = time.monotonic()
            await self._disk_full(fault.hold)
            return {}, struck
        victims = {}
        for role in fault.roles:
            pids = self.processes.pids(role)
            victims[role] = pids[:1] if role.endswith("-worker") else pids
        struck = time.monotonic()
        for pids in victims.values():
            for pid in pids:
                _signal(pid, fault.signal)
        if fault.signal == signal.SIGSTOP:
            self._stopped = [p for pids in victims.values() for p in pids]
            await asyncio.sleep(fault.hold)
            self._resume_all()
        return victims, struck

    async def _disk_full(self, seconds: float) -> None:
        """Fill the KV's disk to the last byte for `seconds`, then free it."""
        if self.kv_disk is None:
            raise RigError("chaos: the KV has no disk of its own (--kv sqlite)")
        filler = self.kv_disk / "filler"
        await asyncio.to_thread(_fill, filler)
        try:
            await asyncio.sleep(seconds)
        finally:
            filler.unlink(missing_ok=True)

    async def _origin_fault(self, fault: Fault, session: aiohttp.ClientSession) -> None:
        url = f"{self.origin}/control/{self.channel}/fault"
        token = self.settings.origin.token
        async with session.post(
            url,
            json={"fault": fault.origin, "seconds": fault.hold},
            headers={"Authorization": f"Bearer {token}"} if token else None,
            timeout=aiohttp.ClientTimeout(total=5),
        ) as response:
            if response.status != 201:
                raise RigError(
                    f"chaos: POST {url}: HTTP {response.status}: {await response.text()}"
                )

    def _resume_all(self) -> None:
        for pid in self._stopped:
            _signal(pid, signal.SIGCONT)
        self._stopped = []

    async def _recovered(
        self,
        fault: Fault,
        victims: dict[str, list[int]],
        struck: float,
        session: aiohttp.ClientSession,
    ) -> float | None:
        """Seconds from the fault until each role it hit runs again (other processes, for a
        signal that ends them) and every component answers; None after READY_TIMEOUT."""
        deadline = struck + READY_TIMEOUT
        ends = fault.signal != signal.SIGSTOP
        while time.monotonic() < deadline:
            replaced = all(
                not ends or not set(victims[role]) & set(self.processes.pids(role))
                for role in victims
            )
            if replaced and all([await self._up(r, session) for r in self.roles]):
                return time.monotonic() - struck
            await asyncio.sleep(0.1)
        return None


def _fill(path: Path) -> None:
    """Write to `path` until its filesystem has no room left (ENOSPC)."""
    chunk = b"\0" * 65536
    with open(path, "wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
        try:  # the last bytes a page short of a chunk
            while True:
                out.write(b"\0" * 512)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
