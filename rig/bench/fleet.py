"""The correctness side of `rig bench load`: the project's validating fleet (`rig viewers --head`)
watching the stitched stream under load, and the /cue breaks it is asked to join inside."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rig.bench.plan import Plan
from rig.bench.under_load import Rig
from rig.children import pinned
from stitcher.errors import RigError

RETRY_OVERLAP = 5.0  # seconds before a refused cue is asked again (when the plan can't be read)
RETRY_AFTER_PLANNED = 1.0  # ... and before it is asked to start after the planned breaks


@dataclass(frozen=True)
class Joining:
    """When the fleet's viewers join: each at a uniformly random moment of the `spread` seconds
    after `started` (`time.monotonic()`), and watching to the end (`rig viewers --join-spread`)."""

    started: float
    spread: float
    viewers: int

    def average(self, start: float, end: float) -> float:
        """The expected number of the fleet's viewers watching, on average, from `start` to `end`
        (monotonic instants)."""
        if end <= start:
            return 0.0
        return self.viewers * (self._joined_for(end) - self._joined_for(start)) / (end - start)

    def _joined_for(self, at: float) -> float:
        """The integral, from the start to `at`, of the share of viewers that had joined."""
        t = max(0.0, at - self.started)
        if self.spread <= 0:
            return t
        return t * t / (2 * self.spread) if t <= self.spread else self.spread / 2 + t - self.spread


def start_fleet(rig: Rig, plan: Plan, seconds: float, directory: Path, load: list[int]):
    """`rig viewers --head` on the stitched master, through the edge when there is one (what
    viewers get), for `seconds`, joining over the first 80 % of them; (process, its URL, report
    path, when its viewers join)."""
    url = f"{rig.edge or rig.stitcher}/{plan.mode}/{plan.channel}/master.m3u8"
    report = directory / "fleet.json"
    argv = [sys.executable, "-m", "rig.cli", "viewers", url, "-n", str(plan.fleet)]
    argv += ["--seconds", f"{seconds:.0f}", "--join-spread", f"{seconds * 0.8:.0f}"]
    argv += ["--head", "--json", str(report), "--progress", "0", "--quiet", "--seed", "1"]
    if load:
        argv = [*pinned(load), *argv]
    with open(directory / "fleet.log", "wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    return process, url, report, Joining(time.monotonic(), round(seconds * 0.8), plan.fleet)


def fleet_result(process: subprocess.Popen, url: str, report: Path, viewers: int) -> dict:
    code = process.wait()
    try:
        data = json.loads(report.read_text())
    except (OSError, ValueError):
        log = (report.parent / "fleet.log").read_text(errors="replace")[-800:]
        raise RigError(f"the validating fleet wrote no report (exit {code}):\n{log}") from None
    totals = data["totals"]
    return {
        "url": url,
        "viewers": viewers,
        "seconds": data["seconds"],
        "playlists": totals["playlists_fetched"],
        "violations": totals["violations"],
        "violations_by_rule": totals["violations_by_rule"],
        "stalls": totals["stalls"],
        "late_joiners": totals["late_joiners"],
        "late_joiners_clean": totals["late_joiners_ok"],
        "depletion": totals["segments_skipped"],
        "fetch_errors": totals["fetch_errors"],
        "breaks": totals["breaks"],
        "exit": code,
    }


async def ask_for_breaks(rig: Rig, plan: Plan, stop: asyncio.Event, asked: list[str]) -> None:
    """A /cue break on the fleet's channel now and every `cue_every` seconds (besides the
    channel's own SCTE-35 schedule), so that viewers join inside breaks. A cue refused because
    another break overlaps it (409) is asked again a second later, to start a second after the last
    break the channel has planned ends: a cue is never lost to the schedule's breaks."""
    base = f"{rig.stitcher}/v1/channels/{plan.channel}"
    start: str | None = None  # of the cue asked next: None, now
    while not stop.is_set():
        pause = plan.cue_every
        try:
            asked.append(await asyncio.to_thread(_cue, f"{base}/cue", plan.cue_seconds, start))
            start = None
        except urllib.error.HTTPError as exc:
            start = None
            if exc.code == 409:
                with contextlib.suppress(OSError, ValueError, KeyError):
                    start = await asyncio.to_thread(_after_planned, f"{base}/breaks")
            else:
                print(f"bench: /cue failed: {exc}", flush=True)
            pause = RETRY_AFTER_PLANNED if start is not None else min(pause, RETRY_OVERLAP)
        except (OSError, ValueError, KeyError) as exc:
            print(f"bench: /cue failed: {exc}", flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)


def _cue(url: str, seconds: float, start: str | None) -> str:
    fields = {"duration": seconds, **({"start": start} if start else {})}
    request = urllib.request.Request(
        url,
        data=json.dumps(fields).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())["eventId"]


def _after_planned(url: str) -> str:
    """A second after the end of the last upcoming or active break (GET /breaks), ISO-8601."""
    with urllib.request.urlopen(url, timeout=5) as response:
        ends = [_instant(b["endTime"]) for b in json.loads(response.read())["breaks"]]
    return datetime.fromtimestamp(max([*ends, time.time()]) + 1.0, UTC).isoformat()


def _instant(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
