"""Real players judge the splices: GStreamer and ffmpeg play the SSAI stream of a real `rig up`
across /cue breaks on the wall clock, and every warning they print fails the test unless it is
listed below as proven-harmless chatter, with the reason.

- GStreamer 1.22 `playbin3` (hlsdemux2, tsdemux, libav decoders, synchronised fakesinks) plays
  `/ssai/news/master.m3u8` through a break: no WARNING/ERROR line in its debug log (`GST_DEBUG=*:2`)
  or on its bus, no re-buffering, and the position (the video sink's buffer PTS, printed by
  `gst-launch-1.0 -v` as `last-message`) advances with the wall clock within `GST_DRIFT`.
- ffmpeg reads `/ssai/news/hi.m3u8` across two breaks: no warning but the timeline resets that an
  EXT-X-DISCONTINUITY brings (at most one per discontinuity crossed), and the file it wrote has
  one continuous timeline: every DTS step is one frame, within less than one AAC frame.

What tsdemux needs to stay quiet (read in GStreamer 1.22's source and checked against the rig):
mpegtspacketizer.c warns "PID 0x%04x section discontinuity (last vs got)" when a PSI packet's
continuity counter is not the previous one + 1 (mod 16) on that PID. hlsdemux2 marks the first
buffer after an EXT-X-DISCONTINUITY (and after a variant switch) DISCONT, and tsdemux then drains
and, in push mode, `mpegts_packetizer_clear()`s every PID's state (mpegtsbase.c, "Got DISCONT
buffer, flushing"): counters may jump at a discontinuity. Between the consecutive segments of one
discontinuity sequence (an ad's own segments, content to content) the PAT (0x0000) and PMT
(0x1000) counters must run on from segment to segment. A PES PID's counter that jumps on a packet
that starts a PES is recovered silently (tsdemux.c pushes the pending PES first); a jump inside a
PES is an element warning ("CONTINUITY: Mismatch"). ffmpeg ignores EXT-X-DISCONTINUITY
("Skip ('#EXT-X-DISCONTINUITY')"): its mpegts demuxer checks every PES PID's counter across every
segment boundary, splices included, and marks the packet "corrupt" unless the counters chain or
the first packet after the jump sets the adaptation field's discontinuity_indicator.

Without gst-launch-1.0 (and its plugins) or ffmpeg these tests skip with the reason - except in CI
(`CI=true`), where they fail: `.ci/run` installs them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from origin_emulator.ffmpeg import ffmpeg_executable
from tests.conftest import SMALL_CONFIG
from tests.needs import require as need_tool
from tests.test_realtime import rig_up
from tests.test_realtime_stitcher import fetch

SEGMENT = 2.0  # the small config's segment duration
GST_DRIFT = 0.5  # seconds: how far GStreamer's position may drift from the wall clock over a run
VIDEO_FRAME = 3600  # 90 kHz ticks: one picture at 25 fps
AAC_FRAME = 1920  # 90 kHz ticks: 1024 samples at 48 kHz
GST_ELEMENTS = {  # element -> the Debian package that has it
    "playbin3": "gstreamer1.0-plugins-base",
    # core elements (libgstreamer1.0-0, a dependency of the tools)
    "fakesink": "gstreamer1.0-tools",
    "souphttpsrc": "gstreamer1.0-plugins-good",
    "hlsdemux2": "gstreamer1.0-plugins-good",
    "aacparse": "gstreamer1.0-plugins-good",
    "tsdemux": "gstreamer1.0-plugins-bad",
    "h264parse": "gstreamer1.0-plugins-bad",
    "avdec_h264": "gstreamer1.0-libav",
    "avdec_aac": "gstreamer1.0-libav",
}

# GStreamer debug lines at WARNING or above that say nothing about the stream, each with its reason.
GST_HARMLESS = [
    (
        "structure",
        re.compile(r"No value transform to serialize field 'session' of type 'GstSoupSession'"),
        "`gst-launch-1.0 -v` prints every context message's structure; souphttpsrc's shared "
        "GstSoupSession has no string form. A side effect of -v's printing, at start-up.",
    ),
]

# ffmpeg warnings that a correct stream may bring, each with its reason (and its bound, below).
FF_KEEPALIVE = re.compile(
    r"keepalive request failed for '[^']+' with error: '[^']+' when opening url, retrying with new"
    r" connection"
)
FF_TS_DISCONTINUITY = re.compile(
    r"timestamp discontinuity \(stream id=\d+\): (-?\d+), new offset= (-?\d+)"
)
FF_OUT_OF_ORDER = re.compile(r"DTS (\d+) < (\d+) out of order")


# --------------------------------------------------------------------------- what the tests need


def require(condition: bool, missing: str) -> None:
    need_tool(condition, missing, "CI must run the real-player tests (.ci/run installs them)")


def require_gstreamer() -> None:
    require(
        shutil.which("gst-launch-1.0") is not None and shutil.which("gst-inspect-1.0") is not None,
        "GStreamer is not installed (apt-get install gstreamer1.0-tools): GStreamer tests not run",
    )
    for element, package in GST_ELEMENTS.items():
        found = (
            subprocess.run(
                ["gst-inspect-1.0", "--exists", element], capture_output=True, timeout=60
            ).returncode
            == 0
        )
        require(
            found,
            f"the GStreamer element {element} is missing (apt-get install {package}): GStreamer"
            " tests not run",
        )


def small_config_without_scheduled_breaks(
    folder: Path, segment_seconds: float | None = None
) -> Path:
    """The small test config with its scheduled break switched off: the only breaks are the test's
    own. With `segment_seconds`, its 4-segment loop is cut into segments of that duration instead of
    2 s."""
    config = SMALL_CONFIG.read_text()
    media = "\nloop_seconds = 8\nsegment_seconds = 2\n"
    assert "\nbreak_every = 60\n" in config and media in config, (
        "the small config changed: adapt the real-player tests"
    )
    config = config.replace("\nbreak_every = 60\n", "\nbreak_every = 0\n")
    if segment_seconds is not None:
        config = config.replace(
            media,
            f"\nloop_seconds = {round(4 * segment_seconds, 6)}\n"
            f"segment_seconds = {segment_seconds}\n",
        )
    path = folder / "small-no-scheduled-breaks.toml"
    path.write_text(config)
    return path


@pytest.fixture(scope="module")
def players_rig(tmp_path_factory, small_content):
    """`rig up --headless` on free ports, small config minus its scheduled break (one house ad)."""
    config = small_config_without_scheduled_breaks(tmp_path_factory.mktemp("players-config"))
    with rig_up(config, tmp_path_factory.mktemp("players-rig-state")) as (api, _):
        yield api


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).isoformat()


def schedule_breaks(
    api: str,
    durations: list[float],
    lead: float = 6.0,
    gap: float = 6.0,
    not_before: float = 0.0,
    segment: float = SEGMENT,
) -> list[dict]:
    """/cue breaks of `durations`, the first about `lead` s ahead (and not before `not_before`),
    each next one `gap` s of content after the previous; the stitcher snaps them to the segment grid
    (`segment` s), so a refused start is retried a segment later."""
    records: list[dict] = []
    start = max(time.time() + lead, not_before)
    for duration in durations:
        for attempt in range(6):
            try:
                body = {"duration": duration, "start": iso(start + attempt * segment)}
                records.append(json.loads(fetch(f"{api}/v1/channels/news/cue", "POST", body)[1]))
                break
            except urllib.error.HTTPError as exc:
                assert exc.code in (400, 409), exc.read()  # 400: too close to now; 409: overlaps
        else:
            pytest.fail(f"no free slot for a {duration} s /cue break after {iso(start)}")
        start = epoch(records[-1]["endTime"]) + gap
    return records


def pods(records: list[dict]) -> list[str]:
    return [
        f"{r['eventId']} {r['adStart']}..{r['endTime']}: "
        + " + ".join(f"{i['id']} {i['duration']:g} s" for i in r["decision"]["items"])
        for r in records
    ]


def source_of(url: str) -> str:
    """What a segment URL plays: `content`, or the ad or slate rendition it belongs to."""
    match = re.search(r"/((?:ads/[^/]+|slate)/[^/]+/[^/]+)/[^/]+$", url)
    return match.group(1) if match else "content"


def boundaries(urls: list[str]) -> int:
    """How many EXT-X-DISCONTINUITY boundaries a player crossed playing `urls` in order (the
    stitcher marks every splice, change of ad and return)."""
    kinds = [source_of(u) for u in urls]
    return sum(1 for a, b in zip(kinds, kinds[1:]) if a != b)


# ------------------------------------------------------------------------ GStreamer: what it prints


@dataclasses.dataclass(frozen=True)
class GstLine:
    time: float  # seconds since gst-launch started (GStreamer's own clock in the log)
    level: str
    category: str
    where: str
    message: str


GST_LINE = re.compile(
    r"^(\d+):(\d\d):(\d\d\.\d+)\s+\d+\s+0x[0-9a-f]+\s+([A-Z]+)\s+(\S+)\s+(\S+?:\d+:[^:\s]+:)(?:<[^>]*>)?\s?(.*)$"
)


def parse_gst_log(text: str) -> list[GstLine]:
    """GStreamer debug lines (GST_DEBUG_NO_COLOR=1); a line that does not start a record continues
    the last."""
    lines: list[GstLine] = []
    for raw in text.splitlines():
        m = GST_LINE.match(raw)
        if m:
            h, mi, s, level, category, where, message = m.groups()
            lines.append(
                GstLine(int(h) * 3600 + int(mi) * 60 + float(s), level, category, where, message)
            )
        elif lines and raw.strip():
            last = lines[-1]
            lines[-1] = dataclasses.replace(last, message=last.message + "\n" + raw)
    return lines


def harmless_gst(line: GstLine) -> str | None:
    for category, pattern, reason in GST_HARMLESS:
        if line.category == category and pattern.search(line.message):
            return reason
    return None


def gst_by_segment(lines: list[GstLine]) -> list[dict]:
    """Walk the log in order: each segment hlsdemux2 starts (`Stream URI now`), whether tsdemux was
    flushed for it (a DISCONT buffer), and the WARNING/ERROR lines logged while it was read (those
    about its first packets are about the boundary from the segment before)."""
    segments: list[dict] = [{"uri": "(start-up)", "flushed": False, "warnings": []}]
    for line in lines:
        if line.category == "hlsdemux2" and line.message.startswith("Stream URI now "):
            uri = line.message.removeprefix("Stream URI now ").strip()
            if segments[-1]["uri"] != uri:  # (logged twice for the first segment)
                segments.append({"uri": uri, "flushed": False, "warnings": []})
        elif line.category == "mpegtsbase" and "Got DISCONT buffer, flushing" in line.message:
            segments[-1]["flushed"] = True
        elif line.level in ("WARN", "ERROR") and harmless_gst(line) is None:
            segments[-1]["warnings"].append(f"{line.category}: {line.message}")
    return segments


def short(uri: str) -> str:
    """A segment URI as the reports show it: `hi/seg_N.ts`, or `ads/<id>/<digest>/<rung>/seg_N.ts`,
    `slate/...`."""
    if uri.startswith("("):
        return uri
    source = source_of(uri)
    return (
        "/".join(uri.split("/")[-2:])
        if source == "content"
        else f"{source}/{uri.rsplit('/', 1)[-1]}"
    )


SINK_BUFFER = re.compile(
    r"GstFakeSink:vsink: last-message = chain .*?pts: (\d+):(\d\d):(\d\d\.\d+)"
)


class GstPlayer:
    """`gst-launch-1.0 -v playbin3` with synchronised fakesinks (so it plays at wall-clock speed) as
    a real process; stdout lines are timestamped as they arrive, the debug log goes to a file."""

    def __init__(self, uri: str, log: Path, debug: str = "*:2,hlsdemux2:5,mpegtsbase:5"):
        self.log = log
        argv = [
            "gst-launch-1.0",
            "-v",
            "playbin3",
            f"uri={uri}",
            "video-sink=fakesink name=vsink sync=true silent=false",
            "audio-sink=fakesink name=asink sync=true silent=false",
        ]
        env = {
            **os.environ,
            "GST_DEBUG": debug,
            "GST_DEBUG_NO_COLOR": "1",
            "GST_DEBUG_FILE": str(log),
        }
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.positions: list[
            tuple[float, float]
        ] = []  # (wall seconds since start, video buffer PTS)
        self.lines: list[tuple[float, str]] = []  # every other stdout line, with its wall time
        self._reader = threading.Thread(target=self._read, name="gst-stdout", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        pending = b""
        while chunk := self.process.stdout.read1(65536):
            pending += chunk
            *complete, pending = re.split(rb"[\r\n]", pending)
            wall = time.monotonic() - self.started
            for raw in complete:
                line = raw.decode(errors="replace")
                m = SINK_BUFFER.search(line)
                if m:
                    self.positions.append(
                        (wall, int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)))
                    )
                elif (
                    line.strip()
                    and "last-message" not in line
                    and not line.lstrip().startswith("buffering...")
                ):
                    self.lines.append((round(wall, 3), line[:400]))

    def stop(self) -> int | None:
        """SIGINT (gst-launch stops its pipeline), bounded; returns its exit code if it had ended
        already."""
        ended = self.process.poll()
        if ended is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._reader.join(5)
        return ended


def drift(positions: list[tuple[float, float]], playing: float = 0.0) -> dict:
    """How the position kept to the wall clock from the first buffer after `playing` (when the
    pipeline went to PLAYING): the spread of (PTS - wall), the longest wall time between two
    buffers, and backward steps of the PTS."""
    positions = [(w, p) for w, p in positions if w >= playing]
    if len(positions) < 2:
        return {"buffers": len(positions)}
    w0, p0 = positions[0]
    offsets = [(p - p0) - (w - w0) for w, p in positions]
    walls = [w for w, _ in positions]
    return {
        "buffers": len(positions),
        "seconds": round(walls[-1] - w0, 2),
        "media": round(positions[-1][1] - p0, 2),
        "behind": round(-min(offsets), 3),  # the most the position fell behind the wall clock
        "ahead": round(max(offsets), 3),
        "longestGap": round(max(b - a for a, b in zip(walls, walls[1:])), 3),
        "backwards": [
            (round(w, 2), round(a, 3), round(p, 3))
            for (_, a), (w, p) in zip(positions, positions[1:])
            if p < a - 0.001
        ],
    }


# --------------------------------------------------------------------------- ffmpeg: what it prints


def ffmpeg_warnings(stderr: str) -> list[str]:
    """Lines at warning level or above of an ffmpeg run with `-loglevel level+verbose`, each with
    the last two segments the HLS demuxer had requested by then (`  @ before -> after`: ffmpeg
    reports a packet of a segment once it has the first bytes of the next)."""
    opened: list[str] = []
    found = []
    for line in re.split(r"[\r\n]", stderr):
        if m := re.search(r"HLS request for url '([^']+)'", line):
            opened.append(short(m.group(1)))
        elif re.search(r"\[(warning|error|fatal|panic)\] ", line):
            found.append(line + "  @ " + " -> ".join(opened[-2:]))
    return found


def judge_ffmpeg(warnings: list[str], crossed: int) -> tuple[list[str], dict]:
    """Split ffmpeg's warnings into failures and the documented, bounded ones. ffmpeg ignores
    EXT-X-DISCONTINUITY and reads the segments as one MPEG-TS: a segment that starts a new
    timeline (as RFC 8216 allows after the tag) is one jump of the timestamps, which ffmpeg handles
    and says so, at most once per discontinuity crossed:
    - `timestamp discontinuity (stream id=N): delta, new offset= X` (fftools, AVFMT_TS_DISCONT):
      the timestamps jumped by more than -dts_delta_threshold (10 s), or back; ffmpeg moves what
      follows onto the stream's next expected DTS, so its output stays one timeline (checked
      separately, frame by frame, in the file it writes).
    - `DTS a < b out of order` (libavformat, printed by the mpegts and the hls context): the new
      timeline starts below where the last one ended - every pod item starts its own at the
      same time; the same jump, seen by the demuxer.
    - `keepalive request failed for '...' ... retrying with new connection`: the HLS demuxer tries
      its keep-alive connection for a segment on another host (ads come from the media server,
      content from the origin), fails, reconnects. Connection handling, never the stream.
    Everything else fails, e.g. `Packet corrupt` / `corrupt input packet` (a continuity counter
    jumped without the discontinuity_indicator) or `Non-monotonic DTS` (the muxer: audio steps
    back at a splice - sound overlapping itself)."""
    failures, resets, out_of_order, keepalive = [], [], set(), 0
    for line in warnings:
        if FF_KEEPALIVE.search(line):
            keepalive += 1
        elif m := FF_TS_DISCONTINUITY.search(line):
            resets.append(int(m.group(1)))
        elif m := FF_OUT_OF_ORDER.search(line):
            out_of_order.add(m.groups())
        else:
            failures.append(line)
    if len(resets) > crossed:
        failures.append(
            f"{len(resets)} timestamp resets (deltas {resets} µs) but only {crossed}"
            " discontinuities crossed"
        )
    if len(out_of_order) > crossed:
        failures.append(
            f"{len(out_of_order)} backward DTS jumps {sorted(out_of_order)} but only {crossed}"
            " discontinuities crossed"
        )
    return failures, {
        "keepalive": keepalive,
        "timestampResets": resets,
        "backwardJumps": sorted(out_of_order),
    }


def frame_steps(ffmpeg: str, path: Path) -> dict[str, list[int]]:
    """Every DTS step (90 kHz ticks) of each stream of a written MPEG-TS file (ffmpeg's
    framecrc)."""
    listing = subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-i", str(path),
                              "-c", "copy", "-f", "framecrc", "-"],
                             capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    last: dict[str, int] = {}
    steps: dict[str, list[int]] = {}
    for line in listing.stdout.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        stream, dts = (part.strip() for part in line.split(",")[:2])
        if stream in last:
            steps.setdefault(stream, []).append(int(dts) - last[stream])
        last[stream] = int(dts)
    return steps


def timeline_faults(steps: dict[str, list[int]]) -> dict[str, list[str]]:
    """Steps that are not one frame within less than one AAC frame (21.3 ms): a hole, an overlap or
    a step back in what the player would present. Stream 0 is video (one picture per packet), 1 is
    AAC audio (one frame per packet)."""
    faults: dict[str, list[str]] = {}
    for stream, nominal in (("0", VIDEO_FRAME), ("1", AAC_FRAME)):
        for k, step in enumerate(steps.get(stream, [])):
            if step <= 0 or abs(step - nominal) >= AAC_FRAME:
                faults.setdefault(stream, []).append(
                    f"packet {k + 1}: step {step} ticks ({(step - nominal) / 90:+.1f} ms)"
                )
    return faults


def off_nominal(steps: dict[str, list[int]]) -> dict[str, list[str]]:
    nominal = {"0": VIDEO_FRAME, "1": AAC_FRAME}
    return {
        s: [f"{(x - nominal[s]) / 90:+.1f} ms" for x in xs if x != nominal.get(s)]
        for s, xs in steps.items()
        if s in nominal
    }


# --------------------------------------------------------------------------- the tests


@pytest.mark.realtime
def test_gstreamer_plays_the_ssai_stream_through_a_break_quietly_on_the_wall_clock(
    players_rig, tmp_path
):
    require_gstreamer()
    api = players_rig
    (record,) = schedule_breaks(api, [12], lead=8)
    end = epoch(record["endTime"])
    log = tmp_path / "gst.log"
    player = GstPlayer(f"{api}/ssai/news/master.m3u8", log)
    # playbin3 joins ~3 segments behind live: it plays the break's end ~8 s after endTime; then 2
    # more segments
    stop_at = min(time.time() + 60, end + 8 + 2 * SEGMENT)
    try:
        while time.time() < stop_at and player.process.poll() is None:
            time.sleep(0.25)
    finally:
        ended = player.stop()
    lines = parse_gst_log(log.read_text(errors="replace") if log.exists() else "")
    segments = gst_by_segment(lines)
    playing = next(
        (w for w, line in player.lines if line.startswith("Setting pipeline to PLAYING")), 0.0
    )
    timing = drift(player.positions, playing)
    bus = [
        f"{w:7.2f} s  {line}" for w, line in player.lines if re.match(r"(WARNING|ERROR)\b", line)
    ]
    rebuffering = [
        f"{w:7.2f} s  {line}"
        for w, line in player.lines
        if line.startswith("Buffering, setting pipeline to PAUSED")
    ]
    harmless = Counter(
        reason
        for line in lines
        if line.level in ("WARN", "ERROR") and (reason := harmless_gst(line))
    )
    report = {
        "break": pods([record]),
        "segments": [
            f"{'DISCONT ' if s['flushed'] else '        '}{short(s['uri'])}"
            + "".join(f"\n            ! {w}" for w in s["warnings"])
            for s in segments
        ],
        "busWarnings": bus,
        "rebuffering": rebuffering,
        "position": timing,
        "harmlessFiltered": dict(harmless),
    }
    print("\n=== GStreamer playbin3 through a break ===\n" + json.dumps(report, indent=1))
    assert ended is None, f"gst-launch-1.0 ended by itself (exit {ended}): " + "\n".join(
        line for _, line in player.lines[-30:]
    )
    uris = [s["uri"] for s in segments[1:]]
    ads = [k for k, u in enumerate(uris) if "/ads/" in u or "/slate/" in u]
    assert ads and "/ads/" in "".join(uris[k] for k in ads), (
        f"GStreamer never played an ad segment: {report['segments']}"
    )
    assert (
        source_of(uris[0]) == "content"
        and source_of(uris[-1]) == "content"
        and ads[-1] < len(uris) - 1
    ), report["segments"]
    # every splice, change of ad and return is a discontinuity: hlsdemux2 must have flushed tsdemux
    # there
    for before, after in zip(segments[1:], segments[2:]):
        if source_of(before["uri"]) != source_of(after["uri"]):
            assert after["flushed"], (
                f"no DISCONT flush at {short(before['uri'])} -> {short(after['uri'])}"
            )
    warned = [
        f"{short(b['uri'])} -> {short(a['uri'])}: " + "; ".join(a["warnings"])
        for b, a in zip(segments, segments[1:])
        if a["warnings"]
    ]
    assert not warned and not segments[0]["warnings"], (
        "GStreamer warned while playing the break:\n" + "\n".join(segments[0]["warnings"] + warned)
    )
    assert not bus, bus
    assert not rebuffering, rebuffering
    assert timing["buffers"] >= 20 * timing.get("seconds", 60), (
        timing
    )  # pictures reached the sink all along (-v prints most of them)
    assert timing["behind"] <= GST_DRIFT and timing["ahead"] <= GST_DRIFT, timing
    assert timing["longestGap"] < GST_DRIFT and not timing["backwards"], timing


@pytest.mark.realtime
def test_ffmpeg_reads_the_ssai_stream_across_two_breaks_with_one_timeline(players_rig, tmp_path):
    api = players_rig
    ffmpeg = ffmpeg_executable()
    records = schedule_breaks(api, [10, 12], lead=8, gap=4)
    first, last = epoch(records[0]["adStart"]), epoch(records[-1]["endTime"])
    time.sleep(
        max(0.0, first - 2 - time.time())
    )  # (< 10 s) ffmpeg joins 3 segments behind live: content first
    seconds = (
        round(last - first) + 10 + 6
    )  # the content before the first break, both breaks, content after the last
    out = tmp_path / "out.ts"
    started = time.monotonic()
    result = subprocess.run(
        [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "level+verbose",
         "-i", f"{api}/ssai/news/hi.m3u8", "-t", str(seconds),
         "-c", "copy", "-f", "mpegts", "-y", str(out)],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    wall = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    opened = re.findall(r"HLS request for url '([^']+)'", result.stderr)
    crossed = boundaries(opened)
    failures, bounded = judge_ffmpeg(ffmpeg_warnings(result.stderr), crossed)
    steps = frame_steps(ffmpeg, out)
    faults = timeline_faults(steps)
    print("\n=== ffmpeg across two breaks ===\n" + json.dumps({
        "breaks": pods(records), "segments": [short(u) for u in opened],
        "discontinuitiesCrossed": crossed, "mediaSeconds": seconds, "wallSeconds": round(wall, 1),
        "documented": bounded, "failures": failures,
        "offNominalSteps": off_nominal(steps), "timelineFaults": faults,
    }, indent=1))  # fmt: skip
    kinds = [source_of(u) for u in opened]
    assert kinds and kinds[0] == "content" and kinds[-1] == "content", kinds
    assert sum(1 for a, b in zip(kinds, kinds[1:]) if a == "content" and b != "content") == 2, (
        f"ffmpeg did not play both breaks: {kinds}"
    )
    assert not failures, "ffmpeg warned reading the SSAI stream:\n" + "\n".join(failures)
    assert not faults, f"the timeline ffmpeg wrote has holes, overlaps or steps back: {faults}"
    assert (
        len(steps.get("0", [])) >= (seconds - 1) * 25
        and len(steps.get("1", [])) >= (seconds - 1) * 48000 / 1024
    ), {k: len(v) for k, v in steps.items()}
    assert seconds - 10 <= wall <= seconds + 4, (
        wall
    )  # ffmpeg joins 3 segments behind live, then reads at the live edge's pace


# -------------------------------------------------------- the judges themselves, on recorded output


GST_RECORDED = (
    "0:00:00.013200726  8781 0x5590b3d1fb90 WARN               structure"
    " gststructure.c:2093:priv_gst_structure_append_to_gstring: No value transform to serialize"
    " field 'session' of type 'GstSoupSession'\n"
    "0:00:12.068906446  9700 0x7f9f4804e5e0 DEBUG              hlsdemux2"
    " gsthlsdemux.c:2455:gst_hls_demux_stream_update_fragment_info:<hlsstream-variant> Stream URI"
    " now http://127.0.0.1:18082/ads/house-1/a06288a4db619f8e/hi/seg_00000.ts\n"
    "0:00:12.071372166  9700 0x7f9f4804e5e0 DEBUG             mpegtsbase"
    " mpegtsbase.c:1515:mpegts_base_chain:<tsdemux1> Got DISCONT buffer, flushing\n"
    "0:00:14.075502034  9700 0x7f9f4804e5e0 DEBUG              hlsdemux2"
    " gsthlsdemux.c:2455:gst_hls_demux_stream_update_fragment_info:<hlsstream-variant> Stream URI"
    " now http://127.0.0.1:18082/ads/house-1/a06288a4db619f8e/hi/seg_00001.ts\n"
    "0:00:14.076960170  9700 0x7f9f4804e5e0 WARN        mpegtspacketizer"
    " mpegtspacketizer.c:1019:mpegts_packetizer_push_section: PID 0x0000"
    " section discontinuity (0 vs 0)\n"
    "0:00:14.077001969  9700 0x7f9f4804e5e0 WARN        mpegtspacketizer"
    " mpegtspacketizer.c:1019:mpegts_packetizer_push_section: PID 0x1000"
    " section discontinuity (0 vs 0)\n"
)


def test_the_gstreamer_judge_places_warnings_at_segment_boundaries():
    """Lines recorded from GStreamer 1.22 against the rig (one ad's own segments 0 -> 1)."""
    segments = gst_by_segment(parse_gst_log(GST_RECORDED))
    assert [(short(s["uri"]), s["flushed"], s["warnings"]) for s in segments] == [
        ("(start-up)", False, []),  # the -v serialisation chatter is filtered
        ("ads/house-1/a06288a4db619f8e/hi/seg_00000.ts", True, []),
        ("ads/house-1/a06288a4db619f8e/hi/seg_00001.ts", False, [
            "mpegtspacketizer: PID 0x0000 section discontinuity (0 vs 0)",
            "mpegtspacketizer: PID 0x1000 section discontinuity (0 vs 0)"]),
    ]  # fmt: skip


def test_the_ffmpeg_judge_bounds_timeline_resets_by_the_discontinuities():
    """Lines recorded from ffmpeg 9 reading the rig's SSAI stream across one break (content, five ad
    segments, one slate segment, content: three discontinuities); the last one from a plain HLS
    discontinuity between two ffmpeg-made clips whose first clip's sound outlasts its picture."""
    recorded = [
        "[in#0/hls @ 0x55e5966c20c0] [warning] keepalive request failed for"
        " 'http://127.0.0.1:18082/ads/house-1/x/hi/seg_00000.ts' with error: 'Invalid argument'"
        " when opening url, retrying with new connection",
        "[mpegts @ 0x55e5966cf880] [warning] Packet corrupt (stream = 0, dts = 302400).",
        "[in#0/hls @ 0x55e5966c1d80] [warning] corrupt input packet in stream 0",
        "[vist#0:0/h264 @ 0x55e596765940] [warning] timestamp discontinuity (stream id=0):"
        " 14034156089, new offset= -14034156089",
        "[mpegts @ 0x55e5966cf880] [warning] DTS 8590060592 < 8590956992 out of order",
        "[in#0/hls @ 0x55e5966c20c0] [warning] DTS 8590060592 < 8590956992 out of order",
        "[vist#0:0/h264 @ 0x55e596765940] [warning] timestamp discontinuity (stream id=0):"
        " -10000000, new offset= -14024156089",
        "[vist#0:0/h264 @ 0x55e596765940] [warning] timestamp discontinuity (stream id=0):"
        " -14024156089, new offset= 0",
        "[aost#0:1/copy @ 0x55a5b4bbb180] [warning] Non-monotonic DTS; previous: 360960, current:"
        " 360000; changing to 360961. This may result in incorrect timestamps in the output file.",
    ]
    failures, bounded = judge_ffmpeg(recorded, crossed=3)
    assert failures == [recorded[1], recorded[2], recorded[8]]
    assert bounded == {
        "keepalive": 1,
        "timestampResets": [14034156089, -10000000, -14024156089],
        "backwardJumps": [("8590060592", "8590956992")],
    }
    failures, _ = judge_ffmpeg(recorded[3:8], crossed=2)
    assert failures == [
        "3 timestamp resets (deltas [14034156089, -10000000, -14024156089] µs) but only 2"
        " discontinuities crossed"
    ]
    urls = ["http://o/news/hi/seg_1.ts", "http://m/ads/house-1/d/hi/seg_00000.ts", "http://m/ads/house-1/d/hi/seg_00001.ts",
            "http://m/slate/s/hi/seg_00000.ts", "http://o/news/hi/seg_7.ts"]  # fmt: skip
    assert boundaries(urls) == 3
    assert timeline_faults({"0": [3600, 3600], "1": [1920, 1440, 2400, 3839]}) == {}
    assert timeline_faults({"0": [3600, 0], "1": [3840, -960]}) == {
        "0": ["packet 2: step 0 ticks (-40.0 ms)"],
        "1": ["packet 1: step 3840 ticks (+21.3 ms)",
              "packet 2: step -960 ticks (-32.0 ms)"]}  # fmt: skip
