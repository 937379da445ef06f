"""The correctness side of `rig bench load`: the project's validating fleet (`rig viewers --head`)
watching the stitched stream under load, and the /cue breaks it is asked to join inside."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from rig.bench.children import pinned
from rig.bench.plan import Plan
from rig.bench.under_load import Rig
from stitcher.errors import RigError

RETRY_OVERLAP = 5.0  # seconds before a cue refused for an overlapping break is asked again


def start_fleet(rig: Rig, plan: Plan, seconds: float, directory: Path, load: list[int]):
    """`rig viewers --head` on the stitched master, through the edge when there is one (what
    viewers get), for `seconds`, joining over the first 80 % of them; (process, its URL, report
    path)."""
    url = f"{rig.edge or rig.stitcher}/{plan.mode}/{plan.channel}/master.m3u8"
    report = directory / "fleet.json"
    argv = [sys.executable, "-m", "rig.cli", "viewers", url, "-n", str(plan.fleet)]
    argv += ["--seconds", f"{seconds:.0f}", "--join-spread", f"{seconds * 0.8:.0f}"]
    argv += ["--head", "--json", str(report), "--progress", "0", "--quiet", "--seed", "1"]
    if load:
        argv = [*pinned(load), *argv]
    with open(directory / "fleet.log", "wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    return process, url, report


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
    another break overlaps it (409) is asked again a few seconds later."""
    url = f"{rig.stitcher}/v1/channels/{plan.channel}/cue"
    while not stop.is_set():
        pause = plan.cue_every
        try:
            asked.append(await asyncio.to_thread(_cue, url, plan.cue_seconds))
        except urllib.error.HTTPError as exc:
            if exc.code != 409:
                print(f"bench: /cue failed: {exc}", flush=True)
            pause = min(pause, RETRY_OVERLAP)
        except (OSError, ValueError, KeyError) as exc:
            print(f"bench: /cue failed: {exc}", flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)


def _cue(url: str, seconds: float) -> str:
    body = json.dumps({"duration": seconds}).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())["eventId"]
