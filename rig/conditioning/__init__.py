"""Ad conditioning: transcode any creative to a channel's ladder as HLS VOD of whole segments.

An ad splices into a live channel only if it matches the channel exactly (docs/architecture.md,
"Conditioned ads"). `probe` reads the creative, `command` builds the ffmpeg command, `verify`
checks what it wrote, `cache` addresses and reads the result, `run` ties them (`condition`).
"""

from rig.conditioning.cache import (
    CONDITIONING_VERSION,
    content_digest,
    encode_parameters,
    file_sha256,
    load_conditioned,
    relative_dir,
)
from rig.conditioning.command import (
    RungPlan,
    audio_layout,
    b_frames_for,
    conditioning_argv,
    frames_per_segment,
    rung_plan,
    segment_count,
)
from rig.conditioning.probe import Probe, interpret_probe, parse_streams, probe, probe_argv
from rig.conditioning.run import condition, run_watched
from rig.conditioning.verify import chain_rendition, describe_rendition

__all__ = [
    "CONDITIONING_VERSION",
    "Probe",
    "RungPlan",
    "audio_layout",
    "b_frames_for",
    "chain_rendition",
    "condition",
    "conditioning_argv",
    "content_digest",
    "describe_rendition",
    "encode_parameters",
    "file_sha256",
    "frames_per_segment",
    "interpret_probe",
    "load_conditioned",
    "parse_streams",
    "probe",
    "probe_argv",
    "relative_dir",
    "rung_plan",
    "run_watched",
    "segment_count",
]
