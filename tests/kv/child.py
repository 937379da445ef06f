"""A KV client process for the multi-process tests: `python -m tests.kv.child MODE URL [ARGS]`.

It opens the store by URL with a SystemClock and talks to the test over stdout (one line per event,
flushed) and stdin (a line to go on). Modes:

- `race NAME N`: print "ready", wait for a line, put_if_absent race:0..N-1 -> print the won indices
  (JSON).
- `incr N`: print "ready", wait for a line, incr "counter" N times, print "done".
- `write KEY JSON`: put KEY, print "written".
- `atomic-loop`: forever atomic([Put(a:i), Put(b:i), Incr(n, 2)]), printing i after each commit.
- `hold` (sqlite): put "committed", then start atomic([Put t1, Put t2, Incr n]) whose before_commit
  hook prints "in-transaction" and blocks reading stdin (the test kills the process there).
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading

from stitcher.clock import SystemClock
from stitcher.kv import Incr, Put, open_kv


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def main(mode: str, url: str, args: list[str]) -> None:
    options = {}
    armed = threading.Event()
    if mode == "hold":

        def hook() -> None:
            if armed.is_set():
                say("in-transaction")
                sys.stdin.readline()

        options["before_commit"] = hook
    if url.startswith("sqlite:") and mode in ("race", "incr", "atomic-loop"):
        # writers contending for one lock on a loaded machine: SQLite's busy handler backs off
        # unevenly and can starve one of them past the default 5 s; the test is about atomicity
        options["busy_timeout"] = 60.0
    kv = open_kv(url, SystemClock(), **options)
    try:
        await kv.ping()
        if mode == "race":
            name, count = args[0], int(args[1])
            say("ready")
            sys.stdin.readline()
            won = [i for i in range(count) if await kv.put_if_absent(f"race:{i}", name)]
            say(json.dumps(won))
        elif mode == "incr":
            say("ready")
            sys.stdin.readline()
            for _ in range(int(args[0])):
                await kv.incr("counter")
            say("done")
        elif mode == "write":
            await kv.put(args[0], json.loads(args[1]))
            say("written")
        elif mode == "atomic-loop":
            for i in range(1_000_000):
                await kv.atomic([Put(f"a:{i}", i), Put(f"b:{i}", i), Incr("n", 2)])
                say(str(i))
        elif mode == "hold":
            await kv.put("committed", 1)
            armed.set()
            await kv.atomic([Put("t1", 1), Put("t2", 2), Incr("n")])
            say("committed-after-release")
        else:
            raise SystemExit(f"unknown mode {mode}")
    finally:
        await kv.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
