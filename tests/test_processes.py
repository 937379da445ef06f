"""`stitcher.processes`: the restart pause, and what a server process sets up for many connections
(checked in a fresh interpreter: both are process-wide)."""

from __future__ import annotations

import json
import subprocess
import sys

from stitcher.processes import SERVER_GC, Backoff


def test_the_pause_doubles_up_to_its_limit_and_starts_over_after_a_steady_run():
    backoff = Backoff(first=1.0, limit=4.0, steady=60.0)
    assert [backoff.pause(0.5) for _ in range(4)] == [1.0, 2.0, 4.0, 4.0]
    assert backoff.pause(120.0) == 1.0


def test_a_server_freezes_what_it_made_at_start_and_collects_cycles_less_often():
    probe = (
        "import gc, json, resource\n"
        "from stitcher.processes import more_files, server_gc\n"
        "more_files(); server_gc()\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "print(json.dumps([gc.get_threshold(), gc.get_freeze_count(), soft == hard]))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    threshold, frozen, raised = json.loads(out.stdout)
    assert tuple(threshold) == SERVER_GC and SERVER_GC[0] > gc_default()[0]
    assert frozen > 1000  # the modules and objects made before serving
    assert raised


def gc_default() -> tuple[int, int, int]:
    out = subprocess.run(
        [sys.executable, "-c", "import gc; print(*gc.get_threshold())"],
        capture_output=True,
        text=True,
        check=True,
    )
    a, b, c = (int(v) for v in out.stdout.split())
    return a, b, c
