"""The SQLite KV on a full disk: the stitcher's break writes fail with a clear 503 and lose nothing
already stored, playlists and reads go on, and once there is room again writes succeed.

The disk is a 1 MiB tmpfs of the test's own, mounted in a mount namespace (`unshare -rm`: nothing
of the machine's filesystems is touched), where `test_inside` runs with the real stitcher stack.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.needs import require

FULL = "SSAI_RIG_DISK_FULL_DIR"  # set inside the namespace: `test_inside` is collected there


def test_a_full_disk_under_the_sqlite_kv(tmp_path):
    require(shutil.which("unshare") is not None, "unshare is not installed (util-linux)")
    disk = tmp_path / "disk"
    disk.mkdir()
    inner = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    inner += [f"{__file__}::test_inside"]
    result = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f'mount -t tmpfs -o size=1m tmpfs {disk} && exec "$@"']
        + ["sh", *inner],
        env={**os.environ, FULL: str(disk)},
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, f"unshare -rm failed or the test in it did:\n{out[-4000:]}"
    assert re.search(r"^1 passed in", result.stdout, re.MULTILINE), out[-4000:]


if os.environ.get(FULL):

    async def test_inside(stitcher_stacks, clock):
        from stitcher.kv import open_kv
        from stitcher.playlist import format_datetime

        disk = Path(os.environ[FULL])
        assert shutil.disk_usage(disk).total <= 1 << 20  # the namespace's tmpfs, not the real disk
        kv = open_kv(f"sqlite://{disk}/kv.db", clock)
        await kv.start()
        try:
            s = await stitcher_stacks(kv)
            first = await s.client.post("/v1/channels/news/cue", json={"duration": 10})
            assert first.status == 201, await first.text()
            kept = (await first.json())["eventId"]
            filler = disk / "filler"
            with open(filler, "wb", buffering=0) as f:
                try:
                    while True:
                        f.write(b"\0" * 16384)
                except OSError:
                    pass  # ENOSPC: the disk is full
            later = {"duration": 10, "start": format_datetime(clock.now() + 120)}
            refused = await s.client.post("/v1/channels/news/cue", json=later)
            assert refused.status == 503, await refused.text()
            assert "full" in (await refused.json())["error"]
            for _ in range(8):  # viewers notice nothing
                clock.advance(0.5)
                for variant in ("hi", "lo"):
                    assert (await s.client.get(f"/ssai/news/{variant}.m3u8")).status == 200
            listed = await s.client.get("/v1/channels/news/breaks")
            assert listed.status == 200
            assert kept in [b["eventId"] for b in (await listed.json())["breaks"]]
            filler.unlink()
            again = await s.client.post("/v1/channels/news/cue", json=later)
            assert again.status == 201, await again.text()
        finally:
            await kv.close()
