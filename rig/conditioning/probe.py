"""Probing a creative with ffmpeg itself: its streams, and its video's decoded length.

`probe_argv`, `parse_streams` and `interpret_probe` are pure; `probe` runs ffmpeg and says, as a
MediaError, what is wrong with a file that is not usable media (no video, truncated, unreadable).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from origin_emulator.errors import MediaError
from origin_emulator.ffmpeg import ffmpeg_executable

log = logging.getLogger(__name__)

_LAYOUT_CHANNELS = {
    "mono": 1,
    "stereo": 2,
    "2.1": 3,
    "3.0": 3,
    "quad": 4,
    "4.0": 4,
    "5.0": 5,
    "5.1": 6,
    "6.1": 7,
    "7.1": 8,
}


@dataclass(frozen=True)
class Probe:
    """What ffmpeg says about a media file; `duration` is its decoded video length in seconds."""

    duration: float
    header_duration: float | None
    width: int | None
    height: int | None
    frame_rate: float | None
    video_codec: str
    has_audio: bool
    audio_rate: int | None = None
    audio_channels: int | None = None
    audio_codec: str = ""


def probe_argv(source: Path, ffmpeg: str = "ffmpeg") -> list[str]:
    """Decode the first video stream to nowhere: ffmpeg prints the streams, `-progress` the
    length."""
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-progress",
        "pipe:1",
        "-nostats",
        "-i",
        str(source),
        "-map",
        "0:v:0",
        "-f",
        "null",
        "-",
    ]


def _hms(text: str) -> float | None:
    match = re.fullmatch(r"(\d+):(\d\d):(\d\d(?:\.\d+)?)", text.strip())
    if not match:
        return None
    return int(match[1]) * 3600 + int(match[2]) * 60 + float(match[3])


def parse_streams(stderr: str) -> dict:
    """The input's header facts from ffmpeg's banner: duration, first video and first audio
    stream."""
    facts: dict = {"input": False, "header_duration": None, "video": None, "audio": None}
    for line in stderr.splitlines():
        stripped = line.strip()
        if stripped.startswith("Input #0"):
            facts["input"] = True
        elif stripped.startswith("Duration:"):
            facts["header_duration"] = _hms(stripped[len("Duration:") :].split(",")[0])
        elif stripped.startswith("Stream #0:"):
            kind, _, details = stripped.partition(": ")[2].partition(": ")
            if kind == "Video" and facts["video"] is None and "attached pic" not in details:
                size = re.search(r"(?:^|[ ,])(\d{2,5})x(\d{2,5})(?:[ ,]|$)", details)
                fps = re.search(r"([\d.]+) fps", details) or re.search(r"([\d.]+) tbr", details)
                facts["video"] = {
                    "codec": details.split()[0].rstrip(","),
                    "width": int(size[1]) if size else None,
                    "height": int(size[2]) if size else None,
                    "fps": float(fps[1]) if fps else None,
                }
            elif kind == "Audio" and facts["audio"] is None:
                rate = re.search(r"(\d+) Hz", details)
                parts = [p.strip() for p in details.split(",")]
                channels = None
                for part in parts:
                    counted = re.fullmatch(r"(\d+) channels(?: \(.*\))?", part)
                    if counted:
                        channels = int(counted[1])
                    elif part.split("(")[0] in _LAYOUT_CHANNELS:
                        channels = _LAYOUT_CHANNELS[part.split("(")[0]]
                    if channels:
                        break
                facts["audio"] = {
                    "codec": details.split()[0].rstrip(","),
                    "rate": int(rate[1]) if rate else None,
                    "channels": channels,
                }
    return facts


def last_out_time(progress: str) -> float | None:
    """The last `out_time_us` of `-progress` output, in seconds."""
    found = None
    for line in progress.splitlines():
        key, _, value = line.strip().partition("=")
        if key == "out_time_us":
            try:
                found = int(value) / 1_000_000
            except ValueError:
                pass
    return found


def interpret_probe(source: Path, code: int, progress: str, stderr: str) -> Probe:
    """Turn one probe run into a `Probe`, or a MediaError saying what is wrong with the file."""
    facts = parse_streams(stderr)
    lines = [line for line in stderr.strip().splitlines() if line and not line[0].isspace()]
    tail = "\n".join(f"    {line}" for line in lines[-6:])
    if not facts["input"]:
        hint = (
            " (an MP4 without its index: truncated, or still being written?)"
            if "moov atom not found" in stderr
            else ""
        )
        raise MediaError(
            f"{source} is not a media file ffmpeg can read{hint}; ffmpeg said:\n{tail}"
        )
    if facts["video"] is None:
        audio = facts["audio"]
        what = f"only audio ({audio['codec']})" if audio else "no audio or video streams"
        raise MediaError(f"{source} has no video stream ({what}); an ad needs pictures")
    if code != 0:
        raise MediaError(
            f"{source}: ffmpeg cannot decode its video (exit {code}); ffmpeg said:\n{tail}"
        )
    decoded = last_out_time(progress)
    header = facts["header_duration"]
    if decoded is None or decoded < 0.1:
        raise MediaError(
            f"{source}: its video has no duration (decoded {decoded or 0:.3f} s);"
            " an ad needs at least a fraction of a second"
        )
    if "partial file" in stderr or (header and decoded < header - max(1.0, 0.1 * header)):
        raise MediaError(
            f"{source} looks truncated: its header says {header or 0:.2f} s"
            f" but only {decoded:.2f} s of video decode; ffmpeg said:\n{tail}"
        )
    video, audio = facts["video"], facts["audio"]
    return Probe(
        duration=decoded,
        header_duration=header,
        width=video["width"],
        height=video["height"],
        frame_rate=video["fps"],
        video_codec=video["codec"],
        has_audio=audio is not None,
        audio_rate=audio["rate"] if audio else None,
        audio_channels=audio["channels"] if audio else None,
        audio_codec=audio["codec"] if audio else "",
    )


async def probe(source: Path, ffmpeg: str | None = None) -> Probe:
    """Read a media file with ffmpeg itself (streams + decoded video length). Raises MediaError."""
    source = Path(source)
    if not source.is_file():
        raise MediaError(f"{source}: no such file")
    argv = probe_argv(source, ffmpeg or ffmpeg_executable())
    log.info("probing %s", source)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise MediaError(f"cannot start {argv[0]}: {exc}") from None
    try:
        out, err = await process.communicate()
    except asyncio.CancelledError:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    return interpret_probe(
        source, process.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")
    )
