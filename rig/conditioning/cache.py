"""The conditioned-ad cache: content digests, where a conditioning lives, reading its manifest.

`<cache_dir>/ads/<ad_id>/<digest>/` (or `slate/<digest>/`) holds one folder per rung and a
`conditioned.json`; the digest hashes the source's bytes, the slate's and every encode parameter
(docs/architecture.md, "The media cache"), so a URL never changes meaning.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path

from origin_emulator.ffmpeg import frame_rate_expr
from rig.conditioning.command import b_frames_for, rung_plan
from stitcher.catalog import AdRendition, Conditioning
from stitcher.pod import SLATE_ID

log = logging.getLogger(__name__)

CONDITIONING_VERSION = 2  # bump when the command changes: every ad is then conditioned again
MANIFEST = "conditioned.json"
PLAYLIST = "index.m3u8"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def encode_parameters(conditioning: Conditioning, preset: str) -> dict:
    """Everything about a ladder that changes the encoded bytes (not its measured bandwidths as
    such)."""
    return {
        "v": CONDITIONING_VERSION,
        "preset": preset,
        "rungs": [
            dataclasses.astuple(rung_plan(rung, conditioning)) for rung in conditioning.ladder
        ],
        "segment": round(conditioning.segment_duration, 6),
        "fps": frame_rate_expr(conditioning.frame_rate),
        "audio": [conditioning.audio_rate, conditioning.audio_channels],
        "audio_offset": round(conditioning.audio_offset, 4),
        "b_frames": b_frames_for(conditioning),
    }


def content_digest(
    source_sha256: str, slate_sha256: str, conditioning: Conditioning, preset: str
) -> str:
    """The content address of a conditioned ad: source bytes, slate bytes, encode parameters.

    Ladders that encode identically (e.g. two channels whose measured bandwidths differ by a
    hair, so their ladder keys differ) share one conditioned copy.
    """
    body = json.dumps(
        {"source": source_sha256, "slate": slate_sha256, **encode_parameters(conditioning, preset)},
        sort_keys=True,
    )
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def relative_dir(ad_id: str, digest: str) -> Path:
    """`ads/<ad_id>/<digest>` (or `slate/<digest>`) under the cache directory."""
    return Path("slate", digest) if ad_id == SLATE_ID else Path("ads", ad_id, digest)


def load_conditioned(
    directory: Path, ad_id: str, conditioning: Conditioning
) -> list[AdRendition] | None:
    """The renditions of a finished conditioning for this ladder, or None when absent or
    damaged."""
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
        rungs = {entry["rendition"]: entry for entry in manifest["rungs"]}
        renditions = [
            AdRendition(
                ad_id=ad_id,
                ladder_key=conditioning.key,
                rendition=rung.name,
                bandwidth=rung.bandwidth,  # this channel's variant, which the decision maps by
                path=rungs[rung.name]["path"],
                duration=rungs[rung.name]["duration"],
                segments=rungs[rung.name]["segments"],
                extra=rungs[rung.name]["extra"],
            )
            for rung in conditioning.ladder
        ]
    except (OSError, ValueError, TypeError, KeyError) as exc:
        log.warning("conditioned ad %s is damaged (%s); it will be rebuilt", directory, exc)
        return None
    if not all((directory / r.rendition / PLAYLIST).is_file() for r in renditions):
        return None
    return renditions
