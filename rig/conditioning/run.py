"""Running a conditioning: `condition` turns a creative into a channel's ladder, once per content.

It hashes the source and the slate, returns the cached renditions when that digest was built
before, and otherwise probes, encodes (`run_watched`: ffmpeg, killed when it stalls), chains,
verifies and writes the playlists and the manifest in a temporary directory renamed into place.
Side effects: runs ffmpeg, reads the source, writes the cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from pathlib import Path

from origin_emulator.errors import MediaError
from origin_emulator.ffmpeg import ProgressCallback, ffmpeg_executable, run_ffmpeg
from rig.conditioning.cache import (
    MANIFEST,
    PLAYLIST,
    content_digest,
    encode_parameters,
    file_sha256,
    load_conditioned,
    relative_dir,
)
from rig.conditioning.command import conditioning_argv, segment_count
from rig.conditioning.probe import Probe, probe
from rig.conditioning.verify import chain_rendition, describe_rendition
from stitcher.catalog import AdRendition, Conditioning


async def run_watched(
    argv: list[str],
    total: float,
    on_progress: ProgressCallback | None,
    what: str,
    stall_seconds: float = 60.0,
) -> None:
    """`run_ffmpeg`, killed with a MediaError when its output stops advancing for `stall_seconds`.

    A filtergraph that waits on a branch nobody pulls makes ffmpeg spin forever without output;
    the command is built to avoid that, and this is the safety net.
    """
    loop = asyncio.get_running_loop()
    last = {"done": -1.0, "at": loop.time()}

    def progress(done: float, total_seconds: float) -> None:
        if done > last["done"]:
            last.update(done=done, at=loop.time())
        if on_progress is not None:
            on_progress(done, total_seconds)

    task = asyncio.ensure_future(
        run_ffmpeg(argv, total_seconds=total, on_progress=progress, what=what)
    )
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=min(5.0, stall_seconds))
            if not task.done() and loop.time() - last["at"] > stall_seconds:
                task.cancel()  # kills the process
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                raise MediaError(
                    f"{what}: ffmpeg made no progress for {stall_seconds:g} s"
                    f" (stuck at {max(last['done'], 0):.1f} of {total:g} s); killed it"
                )
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    task.result()


async def condition(
    source: Path,
    ad_id: str,
    conditioning: Conditioning,
    cache_dir: Path,
    slate: Path,
    on_progress: ProgressCallback | None = None,
    *,
    preset: str = "veryfast",
    ffmpeg: str | None = None,
    source_probe: Probe | None = None,
) -> list[AdRendition]:
    """Condition `source` for every rung of `conditioning`; the renditions (top rung first).

    Cached by content: when the same source (bytes), slate and ladder were conditioned before,
    nothing is rendered and `on_progress` is not called. Raises MediaError for a file that is
    not usable media, leaving nothing behind. `source_probe` skips probing when the caller did.
    """
    source, slate, cache_dir = Path(source), Path(slate), Path(cache_dir)
    if not source.is_file():
        raise MediaError(f"{source}: no such file")
    if not slate.is_file():
        raise MediaError(f"slate {slate}: no such file (render it first)")
    source_hash, slate_hash = await asyncio.to_thread(
        lambda: (file_sha256(source), file_sha256(slate))
    )
    digest = content_digest(source_hash, slate_hash, conditioning, preset)
    relative = relative_dir(ad_id, digest)
    final = cache_dir / relative
    cached = load_conditioned(final, ad_id, conditioning)
    if cached is not None:
        return cached
    info = source_probe or await probe(source, ffmpeg)
    segments = segment_count(info.duration, conditioning)
    total = segments * conditioning.segment_duration
    work = final.with_name(f".{final.name}.building-{os.getpid()}")
    created = [
        p
        for p in (final.parent, *final.parent.parents)
        if p != cache_dir and cache_dir in p.parents and not p.exists()
    ]
    shutil.rmtree(work, ignore_errors=True)
    try:
        for rung in conditioning.ladder:
            (work / rung.name).mkdir(parents=True, exist_ok=True)
        argv = conditioning_argv(
            source,
            slate,
            info.duration,
            info.has_audio,
            conditioning,
            work,
            ffmpeg or ffmpeg_executable(),
            preset,
        )
        await run_watched(
            argv,
            total,
            on_progress,
            f"conditioning of {ad_id} ({source.name}) for ladder {conditioning.key}",
        )
        rungs = []
        for rung in conditioning.ladder:
            await asyncio.to_thread(chain_rendition, work / rung.name)
            playlist, facts = await asyncio.to_thread(
                describe_rendition, work / rung.name, rung, conditioning, segments
            )
            (work / rung.name / PLAYLIST).write_text(playlist.render())
            rungs.append(
                {
                    "rendition": rung.name,
                    "path": f"/{relative.as_posix()}/{rung.name}/{PLAYLIST}",
                    "duration": round(playlist.duration, 6),
                    "segments": len(playlist.segments),
                    "extra": {
                        **facts,
                        "creative_duration": round(info.duration, 6),
                        "source_sha256": source_hash,
                        "digest": digest,
                    },
                }
            )
        manifest = {
            "ad_id": ad_id,
            "digest": digest,
            "source": str(source),
            "encode": encode_parameters(conditioning, preset),
            "rungs": rungs,
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=1))
        try:
            os.rename(work, final)
        except OSError:
            # nobody else finished it either
            if load_conditioned(final, ad_id, conditioning) is None:
                raise
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        for directory in created:  # directories this call made, deepest first, if still empty
            try:
                directory.rmdir()
            except OSError:
                pass
        raise
    loaded = load_conditioned(final, ad_id, conditioning)
    if loaded is None:
        raise MediaError(f"{final}: conditioning finished but the result cannot be read back")
    return loaded
