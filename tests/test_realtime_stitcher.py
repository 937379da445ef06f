"""Bounded real-time end-to-end tests of the stitcher: the real rig (`rig up --headless`) on the
wall clock.

(ffmpeg and GStreamer reading the SSAI stream across breaks are in tests/test_players.py.)
- `stitcher serve --workers 2` beside it: two processes on one port, over the same KV, answer
  identically, and /metrics sums both.
- `rig up` restarts a component that dies (the stitcher, SIGKILLed) and refuses a port in use
  clearly.
- `rig up` in a pseudo-terminal opens the TUI over the running rig; `q` stops everything.
The small config (tiny renditions, one 10 s house ad and the slate) keeps the set-up short.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from stitcher.playlist import parse_media_playlist
from tests.conftest import SMALL_CONFIG
from tests.test_realtime import free_port, rig_up, wait_for

pytestmark = pytest.mark.realtime
BIN = Path(sys.executable).parent


def fetch(url: str, method: str = "GET", body: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(
        url, method=method, data=json.dumps(body).encode() if body is not None else None
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, response.read().decode()


@pytest.fixture(scope="module")
def running_rig(tmp_path_factory, small_content):
    """`rig up --headless` on free ports: origin, media server, stitcher and monitor (one house
    ad)."""
    with rig_up(SMALL_CONFIG, tmp_path_factory.mktemp("rig-state")) as (api, env):
        yield api, env


def test_two_workers_on_one_port_answer_identically(running_rig, tmp_path):
    api, env = running_rig
    port = free_port()
    process = subprocess.Popen(
        [
            str(BIN / "stitcher"),
            "serve",
            "--config",
            str(SMALL_CONFIG),
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/healthz", process, 30)
        pids, lines_by_msn = set(), {}
        for _ in range(
            40
        ):  # a fresh connection each time: the kernel spreads them over the workers
            pids.add(json.loads(fetch(f"{base}/healthz")[1])["pid"])
            playlist = parse_media_playlist(fetch(f"{base}/ssai/news/hi.m3u8")[1])
            for msn, disc, segment in playlist.numbered():
                fact = (segment.uri, segment.extinf, disc, segment.program_date_time)
                assert lines_by_msn.setdefault(msn, fact) == fact, msn
            if len(pids) == 2 and len(lines_by_msn) > 8:
                break
            time.sleep(0.25)
        assert len(pids) == 2, pids
        metrics = fetch(f"{base}/metrics")[1]
        served = sum(
            float(m)
            for m in re.findall(
                r'stitcher_requests_total\{route="/healthz",status="200"\} ([0-9.]+)', metrics
            )
        )
        assert served >= 2
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert process.returncode == 0


def test_a_crashed_component_is_restarted_and_reported(running_rig):
    api, _ = running_rig
    first = json.loads(fetch(f"{api}/healthz")[1])["pid"]
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # bounded: the supervisor restarts it after a 1 s pause
        try:
            second = json.loads(fetch(f"{api}/healthz")[1])["pid"]
            if second != first:
                break
        except OSError:
            pass
        time.sleep(0.2)
    else:
        pytest.fail("the stitcher was not restarted")
    assert fetch(f"{api}/ssai/news/hi.m3u8")[0] == 200


def test_a_port_in_use_is_a_clear_error(tmp_path, small_content):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "RIG_STATE_DIR": str(tmp_path)}
        result = subprocess.run(
            [
                str(BIN / "rig"),
                "up",
                "--headless",
                "--config",
                str(SMALL_CONFIG),
                "--stitcher-port",
                str(port),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert (
        f"stitcher cannot listen on 127.0.0.1:{port}" in result.stderr
        and "--stitcher-port" in result.stderr
    )


# What the TUI's first screen shows once its first poll is in: the app's title, the live-windows
# panel of the first channel, and the status line's verdict on the stitcher.
FIRST_SCREEN = ("ssai-rig", "Live windows", "news/hi", "stitcher ok")
# Terminal control sequences: CSI (cursor moves, colours), OSC (titles, links), character-set
# designations, other ESC pairs.
ESCAPES = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()*+][ -~]|\x1b[ -~]"
)


def terminal_text(output: bytes) -> str:
    """What a pseudo-terminal was sent, without its control sequences."""
    return ESCAPES.sub(b"", output).decode(errors="replace")


def read_pty(fd: int, timeout: float) -> bytes | None:
    """What the terminal sends within `timeout` s (b"" if nothing), or None once it is closed."""
    if not select.select([fd], [], [], timeout)[0]:
        return b""
    try:
        return os.read(fd, 65536) or None
    except OSError:  # EIO: every process on the terminal's other side is gone
        return None


def reap(pid: int, fd: int, seconds: float) -> int | None:
    """The wait status of child `pid` once it ends within `seconds` (else None), draining its
    terminal meanwhile (a process writing to a full terminal would never get to exit)."""
    deadline = time.monotonic() + seconds
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() >= deadline:
            return None
        if read_pty(fd, 0.1) is None:
            time.sleep(0.1)  # the terminal is closed: nothing to drain, the process is ending


def test_rig_up_opens_the_tui_in_a_terminal_and_q_stops_everything(tmp_path, small_content):
    """`rig up` in a real pseudo-terminal: the TUI draws its panels over the running rig (its first
    screen, read back from the terminal without escape sequences), `q` quits, and no component is
    left running."""
    import pty

    ports = {name: free_port() for name in ("ORIGIN", "ADS", "STITCHER")}
    env = {
        **os.environ,
        "RIG_STATE_DIR": str(tmp_path),
        "RIG_ADS_HOUSE_COUNT": "1",
        "TERM": "xterm-256color",
        "COLUMNS": "140",
        "LINES": "44",
        **{f"RIG_{k}_PORT": str(v) for k, v in ports.items()},
    }
    pid, fd = pty.fork()
    if pid == 0:  # the child: rig up on the terminal (never back into pytest)
        try:
            os.execve(
                str(BIN / "rig"), [str(BIN / "rig"), "up", "--config", str(SMALL_CONFIG)], env
            )
        finally:
            os._exit(127)
    status = None
    try:
        output, screen, deadline = b"", "", time.monotonic() + 120
        while not all(text in screen for text in FIRST_SCREEN):
            assert time.monotonic() < deadline, (
                f"no TUI screen within 120 s; the terminal showed {screen[-2000:]!r}"
            )
            chunk = read_pty(fd, 0.5)
            assert chunk is not None, (
                f"rig up left the terminal before drawing the TUI; it showed {screen[-2000:]!r}"
            )
            if chunk:
                output += chunk
                screen = terminal_text(output)
        os.write(fd, b"q")
        status = reap(pid, fd, 30)
        assert status is not None, "rig up did not stop within 30 s of q"
    finally:
        if status is None:  # a failure above: stop the rig as Ctrl-C would, then for certain
            os.kill(pid, signal.SIGTERM)
            if reap(pid, fd, 30) is None:
                os.kill(pid, signal.SIGKILL)
                reap(pid, fd, 10)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    left = subprocess.run(
        ["pgrep", "-f", f"--port {ports['STITCHER']}"], capture_output=True, text=True
    ).stdout.split()
    assert not left, left
