"""One `rig soak` run over a rig it started: validating viewer fleets watch for the whole run while
breaks of every kind come and go (`rig.soak.plan`), late joiners arrive in the middle of each, and
every component's resident memory and open file descriptors are sampled.

At the end: failed requests, violations and stalls per fleet, the late joiners' outcome, every
origin splice matched with the break records made of it (`rig.chaos.audit`), each component's
memory and descriptors at the start (a quarter into the run, when the bounded caches are full) and
at the end against a stated bound, and any component that was restarted meanwhile (a restart
would hide a leak).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from rig import procs
from rig.chaos.audit import BreakAudit
from rig.chaos.components import Processes
from rig.settings import Settings
from rig.soak.plan import Kind
from rig.viewers import Fleet, StreamUnavailable
from stitcher.clock import SystemClock
from stitcher.errors import RigError

__all__ = ["Soak", "Usage", "RSS_GROWTH", "RSS_SLACK_MIB", "FD_SLACK"]

USER_AGENT = "ssai-rig-soak (simulated viewers)"
SAMPLE_EVERY = 10.0  # seconds between two samples of every component
PROGRESS_EVERY = 60.0  # seconds between two progress lines
JOIN_AFTER = 3.0  # seconds into a break that its late joiners arrive
JOINERS_WATCH = 60.0  # seconds a late joiner watches before it leaves
POST_RETRY = 2.0  # seconds before posting again a break the origin or the API refused (overlap)
JUDGE = 8.0  # seconds after its cue appeared that a splice must have its break record
GAP = 4.0  # seconds between one break's end and the next one's post
PREROLL_MARGIN = 10.0  # seconds: an origin splice announced this close is in the way of a /cue
# the bound on growth from the first sample after the warm-up to the last one
RSS_GROWTH = 0.25  # resident memory may grow by a quarter ...
RSS_SLACK_MIB = 16.0  # ... or by 16 MiB, whichever is more
FD_SLACK = 16  # open file descriptors may grow by this many


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class Usage:
    """One component's processes (the role's own and all their descendants) at one moment."""

    pids: list[int]
    rss_mib: float
    fds: int


@dataclass
class Resources:
    """Samples of every component, and the bound their growth is held to: the median of the
    first third of the samples from `baseline_after` on against the median of the last third
    (client connections come and go with the viewers' requests; a leak grows through them)."""

    baseline_after: float
    samples: list[tuple[float, dict[str, Usage]]] = field(default_factory=list)
    restarts: list[dict[str, Any]] = field(default_factory=list)

    def note(self, usage: dict[str, Usage], at: float) -> None:
        if self.samples:
            for role, now in usage.items():
                before = self.samples[-1][1].get(role)
                if before is not None and set(now.pids) != set(before.pids):
                    self.restarts.append(
                        {"role": role, "at": round(at, 1), "before": before.pids, "after": now.pids}
                    )
        self.samples.append((at, usage))

    def latest(self) -> dict[str, Usage]:
        return self.samples[-1][1] if self.samples else {}

    def report(self) -> dict[str, Any]:
        counted = [u for t, u in self.samples if t >= self.baseline_after] or [
            u for _, u in self.samples[-1:]
        ]
        third = max(1, len(counted) // 3)
        first, last = counted[:third], counted[-third:]
        roles = {}
        for role in self.latest():
            start = _median(first, role)
            end = _median(last, role)
            rss_bound = start["rss_mib"] + max(RSS_SLACK_MIB, RSS_GROWTH * start["rss_mib"])
            fd_bound = start["fds"] + FD_SLACK
            roles[role] = {
                "start": start,
                "end": end,
                "peak_rss_mib": round(
                    max(u[role].rss_mib for _, u in self.samples if role in u), 1
                ),
                "peak_fds": max(u[role].fds for _, u in self.samples if role in u),
                "rss_bound_mib": round(rss_bound, 1),
                "fd_bound": fd_bound,
                "pids": self.latest()[role].pids,
                "ok": end["rss_mib"] <= rss_bound and end["fds"] <= fd_bound,
            }
        return {
            "bound": f"end ≤ start + max({RSS_SLACK_MIB:g} MiB, {RSS_GROWTH:.0%}) of resident"
            f" memory and ≤ start + {FD_SLACK} open file descriptors, where start and end are"
            " the medians of the first and the last third of the samples taken from a quarter"
            " of the run on (or from the end of the warm-up, when that is later)",
            "samples": len(self.samples),
            "samples_counted": len(counted),
            "components": roles,
            "restarts": self.restarts,
            "ok": all(r["ok"] for r in roles.values()) and not self.restarts,
        }


def _median(samples: list[dict[str, Usage]], role: str) -> dict[str, float]:
    present = [u[role] for u in samples if role in u]
    return {
        "rss_mib": round(statistics.median(u.rss_mib for u in present), 1),
        "fds": statistics.median(u.fds for u in present),
    }


class Soak:
    """The run over the rig whose `rig up` process is `rig_pid`."""

    def __init__(
        self,
        settings: Settings,
        rig_pid: int,
        plan: list[tuple[float, Kind]],
        *,
        channel: str,
        viewers: int,
        seconds: float,
        warm_up: float,
        joiners: int = 4,
        head: bool = True,
        progress: Callable[[str], None] = print,
    ):
        self.settings, self.plan, self.channel = settings, plan, channel
        self.viewers, self.seconds, self.warm_up = viewers, seconds, warm_up
        self.joiners, self.head, self.progress = joiners, head, progress
        # growth counts from a quarter of the run on (after the warm-up): by then the bounded
        # caches (the origin's segments, the stitcher's renders and ad playlists) are full
        self.baseline_after = max(warm_up, seconds / 4)
        self.processes = Processes(rig_pid)
        self.segment = settings.media.segment_seconds
        s = settings
        self.origin = f"http://{s.origin.host}:{s.origin.port}"
        self.stitcher = f"http://{s.stitcher.host}:{s.stitcher.port}"
        self.watch_base = s.edge.base_url if s.edge.enabled else self.stitcher
        self.roles = ["origin", "media", "stitcher", "monitor"]
        self.roles += [r for r, on in (("redis", s.redis.enabled), ("edge", s.edge.enabled)) if on]
        self.fleets: dict[str, Fleet] = {}
        self.breaks: list[dict[str, Any]] = []
        self.joiners_sent: set[tuple[str, str]] = set()  # (mode, viewer) of every late joiner
        self.resources = Resources(self.baseline_after)
        self.audit = BreakAudit(self.origin, [channel], s.stitcher.kv_url)

    # ---------------------------------------------------------------- the run

    async def run(self) -> dict[str, Any]:
        clock = SystemClock()
        stop = asyncio.Event()
        async with (
            aiohttp.ClientSession() as control,
            aiohttp.ClientSession(
                headers={"User-Agent": USER_AGENT},
                connector=aiohttp.TCPConnector(limit=0),
            ) as viewing,
        ):
            modes = ("ssai", "sgai")
            for k, mode in enumerate(modes):
                url = f"{self.watch_base}/{mode}/{self.channel}/master.m3u8"
                count = self.viewers // len(modes) + (k < self.viewers % len(modes))
                self.fleets[mode] = Fleet(
                    viewing,
                    clock,
                    url,
                    count,
                    join_spread=min(30.0, self.warm_up),
                    head=self.head,
                    seed=k,
                )
            begun = time.time()
            self.progress(
                f"soak: {self.viewers} viewers ({', '.join(modes)}) on"
                f" {self.watch_base}/.../{self.channel} for {self.seconds / 60:g} min,"
                f" {len(self.plan)} breaks"
            )
            for fleet in self.fleets.values():  # a stream that cannot be read: say so now
                try:
                    await fleet.probe()
                except StreamUnavailable as exc:
                    raise RigError(f"soak: the viewers cannot watch: {exc}") from None
            watching = {m: asyncio.create_task(f.run(stop)) for m, f in self.fleets.items()}
            tasks = list(watching.values())
            tasks.append(asyncio.create_task(self.audit.watch(control, stop)))
            tasks.append(asyncio.create_task(self._sample(begun, stop)))
            breaks = [asyncio.create_task(self._breaks(begun, control))]
            try:
                await self._until(begun, stop)
                await self._judgeable(begun)
            finally:
                stop.set()
                for task in breaks:
                    task.cancel()
                await asyncio.gather(*breaks, return_exceptions=True)
                await asyncio.gather(*tasks, return_exceptions=True)
                self._note_usage(time.time() - begun)
            died = {
                mode: repr(task.exception())
                for mode, task in watching.items()
                if task.done() and not task.cancelled() and task.exception() is not None
            }
            return self._report(begun, time.time(), died)

    async def _until(self, begun: float, stop: asyncio.Event) -> None:
        """Until the run's end, a progress line a minute."""
        while (left := begun + self.seconds - time.time()) > 0:
            await asyncio.sleep(min(PROGRESS_EVERY, left))
            self.progress(self._status(time.time() - begun))

    async def _judgeable(self, begun: float) -> None:
        """Keep the audit watching until every splice announced during the run can be judged."""
        end = begun + self.seconds
        recent = [s.announced for s in self.audit.splices.values() if end - JUDGE < s.announced]
        if recent:
            await asyncio.sleep(max(0.0, max(recent) + JUDGE - time.time()))

    def _status(self, elapsed: float) -> str:
        totals = [f.report()["totals"] for f in self.fleets.values()]
        rss = ", ".join(f"{r} {u.rss_mib:.0f}" for r, u in self.resources.latest().items())
        return (
            f"soak: {elapsed / 60:5.1f}/{self.seconds / 60:g} min:"
            f" {sum(t['watching'] for t in totals)} watching,"
            f" {sum(t['fetch_errors'] for t in totals)} failed,"
            f" {sum(t['violations'] for t in totals)} violations,"
            f" {sum(t['stalls'] for t in totals)} stalls,"
            f" {sum('start' in b for b in self.breaks)} breaks; RSS MiB {rss}"
        )

    # ---------------------------------------------------------------- resources

    def _usage(self) -> dict[str, Usage]:
        """Per role: its processes and their workers (what a restart changes; not helpers that
        come and go, as nginx's cache loader does a minute after the start), and the memory and
        descriptors of them and all their descendants."""
        usage = {}
        for role in self.roles:
            own = self.processes.pids(role)
            if role in ("stitcher", "media"):
                own += self.processes.pids(f"{role}-worker")
            every = procs.family(own)
            usage[role] = Usage(sorted(own), procs.rss_mib(every), procs.open_fds(every))
        return usage

    def _note_usage(self, elapsed: float) -> None:
        self.resources.note(self._usage(), elapsed)

    async def _sample(self, begun: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._note_usage(time.time() - begun)
            try:
                await asyncio.wait_for(stop.wait(), SAMPLE_EVERY)
            except TimeoutError:
                pass

    # ---------------------------------------------------------------- breaks

    async def _breaks(self, begun: float, session: aiohttp.ClientSession) -> None:
        """The planned breaks in turn, each at its offset but not before the one before has
        ended (two breaks of the run never compete for the same slots); each one's late joiners
        watch on while the next begins."""
        watching: list[asyncio.Task] = []
        not_before = 0.0
        try:
            for offset, kind in self.plan:
                await asyncio.sleep(
                    max(0.0, begun + offset - time.time(), not_before - time.time())
                )
                outcome: dict[str, Any] = {
                    "kind": kind.name,
                    "via": kind.via,
                    "offset": round(time.time() - begun, 1),
                }
                self.breaks.append(outcome)
                joined = await self._break(kind, outcome, session)
                not_before = outcome.get("over", time.time()) + GAP
                if joined:
                    watching.append(asyncio.create_task(self._leave(joined)))
        finally:
            for task in watching:
                task.cancel()

    async def _leave(self, joined: dict[str, list[str]]) -> None:
        await asyncio.sleep(JOINERS_WATCH)
        for mode, names in joined.items():
            self.fleets[mode].remove(len(names))

    async def _break(
        self, kind: Kind, outcome: dict[str, Any], session: aiohttp.ClientSession
    ) -> dict[str, list[str]]:
        """Make one break of `kind`, end it early or cancel it as the kind says, and send late
        joiners into it (returned, by mode)."""
        if kind.via == "api":
            await self._clear_of_origin_splices(kind, session)
        posted = await self._post(kind, session, deadline=time.time() + 60.0)
        if posted is None:
            outcome["problem"] = "refused for 60 s (it would overlap another break)"
            self.progress(f"soak: break {kind.name} not posted: {outcome['problem']}")
            return {}
        outcome.update(posted)
        outcome["over"] = posted["end"]
        self.progress(
            f"soak: break {kind.name} ({kind.via}) {posted['id']} at"
            f" {datetime.fromtimestamp(posted['start']).strftime('%H:%M:%S')}"
        )
        if kind.cancel:
            outcome["ended"] = await self._end(kind, posted["id"], session)
            outcome["over"] = time.time()
            return {}
        await asyncio.sleep(max(0.0, posted["start"] + JOIN_AFTER - time.time()))
        each = max(1, self.joiners // len(self.fleets))
        joined = {mode: fleet.add(each, after=0.0) for mode, fleet in self.fleets.items()}
        self.joiners_sent.update((mode, name) for mode, names in joined.items() for name in names)
        outcome["joiners"] = sum(len(names) for names in joined.values())
        if kind.end_after is not None:
            await asyncio.sleep(max(0.0, posted["start"] + kind.end_after - time.time()))
            outcome["ended"] = await self._end(kind, posted["id"], session)
            outcome["over"] = min(posted["end"], time.time() + 2 * self.segment)
        return joined

    async def _clear_of_origin_splices(self, kind: Kind, session: aiohttp.ClientSession) -> None:
        """Wait until no splice the origin announced (its schedule's too) falls within the span
        a /cue posted now would take: the monitor would refuse that splice's record then (the
        break store holds one break per slot), and the audit would count it lost."""
        url = f"{self.origin}/control/{self.channel}/splices"
        span = kind.seconds + 4 * self.segment
        for _ in range(60):
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                    splices = (await response.json())["splices"]
            except (TimeoutError, aiohttp.ClientError, ValueError, KeyError):
                splices = []
            now = time.time()
            ends = [
                _epoch(s["start"]) + float(s["duration"])
                for s in splices
                if s.get("cancelled") is None
                and _epoch(s["start"]) < now + span + PREROLL_MARGIN
                and _epoch(s["start"]) + float(s["duration"]) > now
            ]
            if not ends:
                return
            await asyncio.sleep(max(1.0, min(max(ends) - now, 10.0)))

    async def _post(
        self, kind: Kind, session: aiohttp.ClientSession, deadline: float
    ) -> dict[str, Any] | None:
        """POST the break (the origin's splice, or the stitcher's /cue); a 409 (it would overlap
        another break) is tried again until `deadline`. Its id, start and end, or None."""
        if kind.via == "origin":
            url = f"{self.origin}/control/{self.channel}/splice"
            body: dict[str, Any] = {"duration": kind.seconds}
            body.update({"format": kind.format, "command": kind.command})
            if kind.cancel:
                body["preroll"] = 8.0
            token = self.settings.origin.token
        else:
            url = f"{self.stitcher}/v1/channels/{self.channel}/cue"
            body, token = {"duration": kind.seconds}, self.settings.stitcher.token
        headers = {"Authorization": f"Bearer {token}"} if token else None
        while time.time() < deadline:
            try:
                async with session.post(
                    url, json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=5)
                ) as response:
                    if response.status == 201:
                        answer = await response.json()
                        if kind.via == "origin":
                            start = _epoch(answer["start"])
                            return {
                                "id": str(answer["id"]),
                                "start": start,
                                "end": start + float(answer["duration"]),
                            }
                        return {
                            "id": answer["eventId"],
                            "start": _epoch(answer["adStart"]),
                            "end": _epoch(answer["endTime"]),
                        }
                    if response.status != 409:
                        text = await response.text()
                        raise RuntimeError(f"POST {url}: HTTP {response.status}: {text[:200]}")
            except (TimeoutError, aiohttp.ClientError):
                pass
            await asyncio.sleep(POST_RETRY)
        return None

    async def _end(self, kind: Kind, event: str, session: aiohttp.ClientSession) -> int | None:
        """DELETE the break: cancelled before it starts, or back to network now. The status."""
        if kind.via == "origin":
            url = f"{self.origin}/control/{self.channel}/splice/{event}"
            token = self.settings.origin.token
        else:
            url = f"{self.stitcher}/v1/channels/{self.channel}/breaks/{event}"
            token = self.settings.stitcher.token
        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            async with session.delete(
                url, headers=headers, timeout=aiohttp.ClientTimeout(total=5)
            ) as response:
                return response.status
        except (TimeoutError, aiohttp.ClientError):
            return None

    # ---------------------------------------------------------------- the report

    def _report(self, begun: float, ended: float, died: dict[str, str]) -> dict[str, Any]:
        splices = self.audit.settle(begun, ended)
        fleets = {mode: fleet.report() for mode, fleet in self.fleets.items()}
        totals = {mode: report["totals"] for mode, report in fleets.items()}
        # the late joiners sent into the breaks (a viewer of the fleet that happened to join
        # during a break counts in the fleet's own report, not here)
        late = [
            {
                "viewer": f"{mode}/{v['id']}",
                "joined_at": v["joined_at"],
                "in_break": bool(v["first_playlist_in_break"]),
                "first_segment": v["first_segment"],
                "ok": not (v["stalls"] or v["violations"] or v["fetch_errors"]),
            }
            for mode, report in fleets.items()
            for v in report["viewers"]
            if (mode, v["id"]) in self.joiners_sent
        ]
        in_break = sum(item["in_break"] for item in late)
        failed = sum(t["fetch_errors"] for t in totals.values())
        violations = sum(t["violations"] for t in totals.values())
        stalls = sum(t["stalls"] for t in totals.values())
        lost = [s.id for s in splices if not s.records]
        duplicated = [s.id for s in splices if len(s.records) > 1]
        made = [b for b in self.breaks if "start" in b]
        unposted = [b["kind"] for b in self.breaks if "problem" in b]
        unposted += [k.name for _, k in self.plan[len(self.breaks) :]]  # the run ended first
        resources = self.resources.report()
        examples = [e for report in fleets.values() for e in report["examples"]][:10]
        errors = [
            f"{t - begun:+.1f} s {viewer}: {message}"
            for fleet in self.fleets.values()
            for t, viewer, message in fleet.errors
        ][:10]
        joiners = len(self.joiners_sent)
        unwatched = [m for m, t in totals.items() if not t["playlists_fetched"]]
        return {
            "ok": not (failed or violations or stalls or lost or duplicated or unposted)
            and not (died or unwatched)
            and not self.audit.unexplained
            and resources["ok"]
            and len(late) == joiners
            and (in_break > 0 or not joiners)  # joining in a break was tried at all
            and all(item["ok"] for item in late),
            "fleets_died": died,
            "fleets_unwatched": unwatched,
            "joiners_sent": joiners,
            "seconds": round(ended - begun, 1),
            "viewers": self.viewers,
            "failed_requests": failed,
            "violations": violations,
            "stalls": stalls,
            "planned": len(self.plan),
            "made": len(made),
            "not_made": unposted,
            "breaks": self.breaks,
            "splices": {
                "announced": len(splices),
                "lost": lost,
                "duplicated": duplicated,
                "unexplained": self.audit.unexplained,
            },
            "late_joiners": {
                "count": len(late),
                "in_break": in_break,  # their first playlist showed the break (ads or its tag)
                "ok": sum(item["ok"] for item in late),
                "not_ok": [item for item in late if not item["ok"]][:10],
            },
            "fleets": totals,
            "resources": resources,
            "errors": errors,
            "violation_examples": examples,
        }
