"""The SQLite KV on a full disk: the stitcher's break writes fail with a clear 503 and lose nothing
already stored, playlists and reads go on, and once there is room again writes succeed.

The disk is a 1 MiB tmpfs of the test's own, mounted in a mount namespace (`unshare -rm`: nothing
of the machine's filesystems is touched), where `test_inside` runs with the real stitcher stack.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.needs import in_namespace

FULL = "SSAI_RIG_DISK_FULL_DIR"  # set inside the namespace: `test_inside` is collected there


def test_a_full_disk_under_the_sqlite_kv(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    setup = f"mount -t tmpfs -o size=1m tmpfs {disk}"
    assert in_namespace("-rm", setup, f"{__file__}::test_inside", {FULL: str(disk)}) == 1


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
