"""The load generator of `rig bench load`: Debian's `wrk`, driven by a Lua script that makes each
connection a viewer (a playlist reload every few seconds, first at a random phase) and writes
wrk's figures as JSON.

How and why: docs/performance.md, "How the load is made".
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rig.children import pinned
from stitcher.errors import RigError
from stitcher.processes import more_files

__all__ = ["Pacing", "WrkResult", "find_wrk", "run_wrk", "wrk_version", "SCRIPT"]

# Percentiles written for the CDF (wrk keeps every latency in a microsecond histogram).
CDF_POINTS = [*range(1, 100), 99.5, 99.9, 99.99]

# One Lua state per wrk thread; `delay()` is asked before every request of every connection of
# the thread, the first `conns` times for the connections' first requests. wrk opens every
# connection at once; a viewer's first request waits `Pacing.start` for the others to be
# accepted (no audience connects in one millisecond), then its random phase.
SCRIPT = r"""
local conns, low, high, start, calls = 0, 0, 0, 0, 0

function init(args)
    conns = tonumber(args[1])
    low, high, start = tonumber(args[2]), tonumber(args[3]), tonumber(args[5])
    math.randomseed(tonumber(args[4]))
end

function delay()
    calls = calls + 1
    if high <= 0 then return 0 end
    if calls <= conns then return start + math.random(0, high) end
    return math.random(low, high)
end

local function us(v) return string.format("%.1f", v) end

function done(summary, latency, requests)
    local points = {}
    for _, p in ipairs({CDF_LIST}) do
        points[#points + 1] = string.format("[%s, %s]", us(latency:percentile(p)), p / 100)
    end
    points[#points + 1] = string.format("[%s, 1.0]", us(latency.max))
    local e = summary.errors
    local out = io.open(os.getenv("RIG_WRK_REPORT"), "w")
    out:write(string.format(
        '{"requests": %d, "duration_us": %d, "bytes": %d, "latency_us": {"p50": %s, "p95": %s,'
        .. ' "p99": %s, "max": %s, "mean": %s}, "cdf_us": [%s], "errors": {"connect": %d,'
        .. ' "read": %d, "write": %d, "status": %d, "timeout": %d}}',
        summary.requests, summary.duration, summary.bytes, us(latency:percentile(50)),
        us(latency:percentile(95)), us(latency:percentile(99)), us(latency.max),
        us(latency.mean), table.concat(points, ", "), e.connect, e.read, e.write, e.status,
        e.timeout))
    out:close()
end
""".replace("CDF_LIST", ", ".join(str(p) for p in CDF_POINTS))


@dataclass(frozen=True)
class Pacing:
    """How each connection paces its requests: every `low`..`high` seconds (uniform), the first
    `start` + a random delay in [0, high] after connecting; `Pacing()` (0, 0) is a closed loop (as
    fast as answered)."""

    low: float = 0.0
    high: float = 0.0
    start: float = 1.0  # seconds before the first requests (while the connections are accepted)

    @property
    def closed(self) -> bool:
        return self.high <= 0


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured (latencies in milliseconds)."""

    connections: int
    seconds: float
    requests: int
    latency_ms: dict[str, float]  # p50 p95 p99 max mean
    cdf: list[tuple[float, float]]  # (latency ms, fraction of answers at most that slow)
    errors: dict[str, int]  # connect read write status timeout

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors_total(self) -> int:
        return sum(self.errors.values())

    @classmethod
    def parse(cls, text: str, connections: int) -> WrkResult:
        data = json.loads(text)
        ms = {k: round(v / 1000, 3) for k, v in data["latency_us"].items()}
        cdf = [(round(us / 1000, 3), fraction) for us, fraction in data["cdf_us"]]
        return cls(
            connections,
            data["duration_us"] / 1e6,
            data["requests"],
            ms,
            cdf,
            {k: int(v) for k, v in data["errors"].items()},
        )


def find_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RigError("wrk is not installed (Debian: apt-get install wrk): it makes the load")
    return found


async def wrk_version() -> str:
    process = await asyncio.create_subprocess_exec(
        find_wrk(), "--version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await process.communicate()
    words = out.decode(errors="replace").split()
    return words[1] if len(words) > 1 else "?"


async def run_wrk(
    url: str,
    connections: int,
    seconds: float,
    pacing: Pacing = Pacing(),
    timeout: float = 2.0,
    cores: list[int] | None = None,
    seed: int = 1,
) -> WrkResult:
    """Run wrk (one thread) against `url` and return its figures. `cores`: pin wrk there."""
    with tempfile.TemporaryDirectory(prefix="rig-wrk-") as directory:
        script, report = Path(directory) / "viewers.lua", Path(directory) / "report.json"
        script.write_text(SCRIPT)
        argv = [
            find_wrk(),
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            f"--timeout={max(1, round(timeout))}s",
            "-s",
            str(script),
            url,
            "--",
            str(connections),
            str(round(pacing.low * 1000)),
            str(round(pacing.high * 1000)),
            str(seed),
            str(round(pacing.start * 1000)),
        ]
        argv = [*pinned(cores or []), *argv]
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "RIG_WRK_REPORT": str(report)},
            preexec_fn=more_files,
        )
        out, _ = await process.communicate()
        if process.returncode != 0 or not report.exists():
            raise RigError(
                f"wrk failed (exit {process.returncode}) against {url}: "
                + out.decode(errors="replace").strip()[-500:]
            )
        return WrkResult.parse(report.read_text(), connections)
