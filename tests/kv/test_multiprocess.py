"""The KV across real processes (each its own connection, SystemClock), for both backends.

Children are `python -m tests.kv.child ...`; the test reads their stdout lines through a reader
thread with bounded waits (never sleeps) and kills them with SIGKILL where the test says so.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from stitcher.clock import SystemClock
from stitcher.kv import KVUnavailable, Put, open_kv

ROOT = Path(__file__).resolve().parents[2]
WAIT = 20.0  # seconds: bound of every wait for a child's line


class Child:
    """A child process with line-by-line stdout (via a thread), stdin and a bounded `expect`."""

    def __init__(self, *args: str):
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.kv.child", *args],
            cwd=ROOT,
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def line(self) -> str:
        try:
            line = self.lines.get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError(f"no line from {self.process.args} within {WAIT} s") from None
        if line is None:
            self.process.wait(WAIT)
            raise AssertionError(
                f"child ended (status {self.process.returncode}): {self.process.stderr.read()}"
            )
        return line

    def expect(self, text: str) -> None:
        assert (got := self.line()) == text, got

    def send(self, text: str = "") -> None:
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(WAIT)
        assert self.process.returncode == -signal.SIGKILL

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(WAIT)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            stream.close()


@pytest.fixture
def children():
    started: list[Child] = []

    def start(*args: str) -> Child:
        child = Child(*args)
        started.append(child)
        return child

    yield start
    for child in started:
        child.close()


async def test_put_if_absent_race_has_exactly_one_winner_per_key(kv_url, children):
    racers = [children("race", kv_url, f"p{n}", "200") for n in range(3)]
    for racer in racers:
        racer.expect("ready")
    for racer in racers:
        racer.send("go")
    wins = {f"p{n}": set(json.loads(racer.line())) for n, racer in enumerate(racers)}
    assert set().union(*wins.values()) == set(range(200))
    assert sum(len(won) for won in wins.values()) == 200  # no key won twice
    async with open_kv(kv_url, SystemClock()) as kv:
        stored = await kv.list("race:")
    assert {int(key.split(":")[1]): name for key, name in stored.items()} == {
        i: name for name, won in wins.items() for i in won
    }


async def test_counters_across_processes(kv_url, children):
    workers = [children("incr", kv_url, "250") for _ in range(4)]
    for worker in workers:
        worker.expect("ready")
    for worker in workers:
        worker.send("go")
    for worker in workers:
        worker.expect("done")
    async with open_kv(kv_url, SystemClock()) as kv:
        assert await kv.get("counter") == 1000


async def test_a_reader_in_another_process_sees_a_committed_write(kv_url, children):
    async with open_kv(kv_url, SystemClock()) as kv:
        assert await kv.get("shared") is None  # the connection is open and has read before
        children("write", kv_url, "shared", '{"from": "child"}').expect("written")
        assert await kv.get("shared") == {"from": "child"}
        await kv.put("back", [1, 2])
    async with open_kv(kv_url, SystemClock()) as kv:
        assert await kv.list("") == {"back": [1, 2], "shared": {"from": "child"}}


async def test_a_killed_writer_leaves_no_half_written_state(kv_url, children):
    writer = children("atomic-loop", kv_url)
    while int(writer.line()) < 30:  # it has committed some transactions
        pass
    writer.kill()
    async with open_kv(kv_url, SystemClock()) as kv:
        a = {int(key[2:]) for key in await kv.list("a:")}
        b = {int(key[2:]) for key in await kv.list("b:")}
        assert a == b
        assert len(a) >= 31 and a == set(range(len(a)))
        assert await kv.get("n") == 2 * len(a)
        await kv.atomic([Put("after", 1)])  # still writable
        assert await kv.get("after") == 1


async def test_sqlite_writer_killed_inside_its_transaction(tmp_path, children):
    url = f"sqlite://{tmp_path}/kv.db"
    holder = children("hold", url)
    holder.expect("in-transaction")  # blocked right before COMMIT, holding the write lock
    kv = open_kv(url, SystemClock(), busy_timeout=0.1)
    try:
        assert await kv.get("committed") == 1
        assert await kv.get("t1") is None  # readers never see an uncommitted write
        with pytest.raises(KVUnavailable, match="locked"):
            await kv.put("blocked", 1)  # the lock is held beyond the busy timeout
        holder.kill()
        assert await kv.list("") == {"committed": 1}
        await kv.put("after", 2)
        assert await kv.incr("n") == 1
        assert await kv.list("") == {"after": 2, "committed": 1, "n": 1}
    finally:
        await kv.close()


async def test_many_processes_open_a_new_file_at_once(tmp_path, children):
    """Regression: switching a fresh file to WAL races between processes and must not fail any of
    them."""
    url = f"sqlite://{tmp_path}/fresh.db"
    workers = [children("write", url, f"key{i}", str(i)) for i in range(6)]
    for worker in workers:
        worker.expect("written")
    async with open_kv(url, SystemClock()) as kv:
        assert await kv.list("key") == {f"key{i}": i for i in range(6)}
