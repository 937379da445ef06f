"""Ad conditioning and the ad library: pure commands, real ffmpeg renders on the small ladder,
catalog.

Creatives are made with ffmpeg deliberately unlike the channel (640x480, 30 fps, 44.1 kHz mono)
and conditioned to the small test ladder (hi 320x180, lo 192x108, 2 s segments, 25 fps).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re
import subprocess
from pathlib import Path

import pytest

from origin_emulator.errors import MediaError
from origin_emulator.ffmpeg import ffmpeg_executable, frame_rate_expr
from rig.ads import (
    AdError,
    check_ad_id,
    condition_library,
    conditioning_for_media,
    creative_argv,
    distinct_conditionings,
    ensure_house_ads,
    house_recipes,
    interchangeable,
    register_ad,
    render_creative,
    sized_for,
    slate_recipe,
)
from rig.channels import emulator_channel
from rig.conditioning import (
    audio_layout,
    condition,
    conditioning_argv,
    content_digest,
    frames_per_segment,
    interpret_probe,
    parse_streams,
    probe,
    rung_plan,
    segment_count,
)
from stitcher.catalog import Catalog, Conditioning, Rung
from stitcher.playlist import parse_media_playlist
from stitcher.ts import CLOCK, scan

AUDIO_FRAME = 1024 / 48000
RED = (255, 0, 0)


# --------------------------------------------------------------------------- helpers


def make_creative(
    path: Path,
    seconds: float,
    colour: str = "red",
    tone: int = 1000,
    audio: bool = True,
    faststart: bool = False,
) -> Path:
    """A creative unlike the channel: 640x480 (4:3) at 30 fps, 44.1 kHz mono."""
    argv = [
        ffmpeg_executable(),
        "-hide_banner",
        "-nostdin",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"color=c={colour}:s=640x480:r=30:d={seconds}",
    ]
    if audio:
        argv += [
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={tone}:sample_rate=44100:duration={seconds}",
            "-c:a",
            "aac",
            "-ac",
            "1",
        ]
    argv += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    argv += ["-movflags", "+faststart"] if faststart else []
    subprocess.run([*argv, str(path)], check=True, capture_output=True)
    return path


def ffmpeg_text(*args: str) -> str:
    """ffmpeg's stderr (stream banner) for an input, without decoding it."""
    done = subprocess.run(
        [ffmpeg_executable(), "-hide_banner", "-nostdin", *args], capture_output=True, text=True
    )
    return done.stderr


def decoded_frames(source: str) -> dict:
    """Decode video and audio of an input (e.g. an HLS playlist): frame count, sample count, first
    times."""
    done = subprocess.run(
        [ffmpeg_executable(), "-hide_banner", "-nostdin", "-i", source,
         "-map", "0:v", "-map", "0:a", "-f", "framecrc", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    video, samples, first = 0, 0, {}
    tb = {0: 1 / 25, 1: 1 / 48000}
    for line in done.stdout.splitlines():
        if line.startswith("#tb"):
            index, _, value = line[4:].partition(":")
            num, den = value.strip().split("/")
            tb[int(index)] = int(num) / int(den)
        if line.startswith("#") or not line.strip():
            continue
        stream, _, pts, duration, *_ = [f.strip() for f in line.split(",")]
        first.setdefault(int(stream), int(pts) * tb[int(stream)])
        if stream == "0":
            video += 1
        else:
            samples += int(duration)
    return {
        "video_frames": video,
        "audio_samples": samples,
        "video_start": first[0],
        "audio_start": first[1],
    }


def thumbnail(source: str, at: float, size: str = "8:8") -> bytes:
    """The frame `at` seconds into an input, decoded to RGB (shrunk to 8x8 by default: cheap to
    compare)."""
    scale = ["-vf", f"scale={size}"] if size else []
    done = subprocess.run(
        [ffmpeg_executable(), "-hide_banner", "-nostdin", "-i", source,
         "-ss", f"{at}", "-frames:v", "1", *scale, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    )  # fmt: skip
    return done.stdout


def average_colour(source: str, at: float) -> tuple[int, int, int]:
    """The mean RGB of the frame `at` seconds into an input."""
    data = thumbnail(source, at)
    assert len(data) == 8 * 8 * 3
    return tuple(round(sum(data[i::3]) / 64) for i in range(3))


def distance(a, b) -> float:
    return math.dist(a, b)


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def conditioning(small_settings, small_content) -> Conditioning:
    """The small channel's conditioning, exactly as `rig up` writes it to the catalog."""
    return emulator_channel(small_settings.channels[0], small_content, small_settings).conditioning


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ads")


@pytest.fixture(scope="module")
def settings(small_settings, work):
    """The small settings with a private media cache (creatives, ads and slate go there)."""
    return dataclasses.replace(
        small_settings, media=dataclasses.replace(small_settings.media, cache_dir=work / "cache")
    )


@pytest.fixture(scope="module")
def slate(settings) -> Path:
    recipe = sized_for(settings.media, slate_recipe(settings.ads.slate_seconds))
    return asyncio.run(
        render_creative(recipe, settings.media.cache_dir, preset=settings.media.preset)
    )


@pytest.fixture(scope="module")
def conditioned(work, settings, conditioning, slate):
    """A 5 s and a 3.3 s creative conditioned to the small ladder (real ffmpeg)."""
    results = {}
    for name, seconds in (("five", 5.0), ("short", 3.3)):
        source = make_creative(work / f"{name}.mp4", seconds)
        renditions = asyncio.run(
            condition(
                source, name, conditioning, settings.media.cache_dir, slate, preset="ultrafast"
            )
        )
        results[name] = (seconds, renditions)
    return results


def on_disk(settings, rendition) -> Path:
    return settings.media.cache_dir / rendition.path.lstrip("/")


# --------------------------------------------------------------------------- pure parts


def test_conditioning_argv_is_pure_and_complete(conditioning, tmp_path):
    args = (
        Path("/in/ad.mp4"),
        Path("/c/slate.mp4"),
        5.0,
        True,
        conditioning,
        tmp_path,
        "ffmpeg",
        "ultrafast",
    )
    argv = conditioning_argv(*args)
    assert argv == conditioning_argv(*args)
    joined = " ".join(argv)
    assert argv[:6] == ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-i", "/in/ad.mp4"]
    assert "-stream_loop -1 -i /c/slate.mp4" in joined  # slate looped: any padding length works
    graph = argv[argv.index("-filter_complex") + 1]
    assert "concat=n=2:v=1:a=1" in graph  # slate after the creative, inside the graph
    assert "aresample=48000:async=1:first_pts=0" in graph
    assert "channel_layouts=stereo" in graph
    # 5 s -> 3 segments: 125 frames of creative + 25 of slate; audio cut to each picture
    assert "tpad=stop_mode=clone:stop=50,trim=end_frame=125," in graph
    assert "apad,atrim=end_sample=240000," in graph
    assert "trim=end_frame=25," in graph and "apad,atrim=end_sample=48000," in graph
    # the sound laid against the picture as the channel's interleave asks
    # (origin_emulator.interleave)
    assert f"[ja]{audio_layout(conditioning, 150).audio_filters()},asplit=2" in graph
    assert (
        "scale=320:180:force_original_aspect_ratio=decrease,pad=320:180:(ow-iw)/2:(oh-ih)/2"
        in graph
    )  # letterbox
    assert "scale=192:108:force_original_aspect_ratio=decrease" in graph
    assert "split=2" in graph and "asplit=2" in graph  # one process, every rung
    assert joined.count("-c:v libx264") == 2 and joined.count("-profile:v main") == 2
    assert joined.count("-force_key_frames expr:eq(mod(n,50),0)") == 2
    assert "-g 50 -keyint_min 50 -sc_threshold 0" in joined
    assert "-ar 48000 -ac 2" in joined
    assert (
        str(tmp_path / "hi" / "seg_%05d.ts") in argv
        and str(tmp_path / "lo" / "seg_%05d.ts") in argv
    )
    assert "anullsrc" not in joined
    silent = " ".join(
        conditioning_argv(Path("a.mp4"), Path("s.mp4"), 5.0, False, conditioning, tmp_path)
    )
    assert "-f lavfi -i anullsrc=r=48000:cl=stereo" in silent and "[2:a]aresample" in silent
    # whole segments already: no slate input at all (an unused looped input would never end)
    exact = conditioning_argv(Path("a.mp4"), Path("s.mp4"), 4.0, False, conditioning, tmp_path)
    assert (
        "s.mp4" not in exact
        and "concat" not in " ".join(exact)
        and "[1:a]aresample" in " ".join(exact)
    )
    assert "trim=end_frame=100," in " ".join(exact) and "atrim=end_sample=192000," in " ".join(
        exact
    )


def test_segment_arithmetic(conditioning):
    assert frames_per_segment(conditioning) == 50
    assert [
        segment_count(s, conditioning) for s in (0.5, 2.0, 2.01, 2.05, 3.3, 5.0, 6.0, 10.0, 10.02)
    ] == [1, 1, 1, 2, 2, 3, 3, 5, 5]
    ntsc = dataclasses.replace(conditioning, frame_rate=29.97, segment_duration=2.002)
    assert frame_rate_expr(29.97) == "30000/1001" and frame_rate_expr(25.0) == "25"
    assert frames_per_segment(ntsc) == 60
    with pytest.raises(MediaError, match="not a whole number of frames"):
        frames_per_segment(dataclasses.replace(conditioning, segment_duration=2.01))


def test_rung_plan_leaves_room_for_audio():
    big = rung_plan(Rung("540p", 2_352_256, 960, 540), Conditioning((), 2.0, 25.0))
    assert big.audio_kbps == 128 and 1800 <= big.video_kbps <= 2000 and big.level == "3.1"
    small = rung_plan(Rung("lo", 292_528, 192, 108), Conditioning((), 2.0, 25.0))
    assert small.audio_kbps == 48 and small.video_kbps + small.audio_kbps < 292
    assert (
        rung_plan(Rung("1080p", 6_000_000, 1920, 1080), Conditioning((), 2.0, 25.0)).level == "4.0"
    )


PROBE_STDERR = (  # what ffmpeg -i prints for a small MP4 (each stream on one line)
    "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'ad.mp4':\n"
    "  Duration: 00:00:05.00, start: 0.000000, bitrate: 83 kb/s\n"
    "  Stream #0:0[0x1](und): Video: h264 (Constrained Baseline) (avc1 / 0x31637661),"
    " yuv420p(progressive), 640x480 [SAR 1:1 DAR 4:3], 5 kb/s, 30 fps, 30 tbr, 15360 tbn"
    " (default)\n"
    "  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, mono, fltp, 69 kb/s"
    " (default)\n"
)


def test_probe_output_is_read_purely():
    facts = parse_streams(PROBE_STDERR)
    assert facts["header_duration"] == 5.0
    assert facts["video"] == {"codec": "h264", "width": 640, "height": 480, "fps": 30.0}
    assert facts["audio"] == {"codec": "aac", "rate": 44100, "channels": 1}
    info = interpret_probe(
        Path("ad.mp4"), 0, "out_time_us=4966667\nout_time_us=5000000\nprogress=end\n", PROBE_STDERR
    )
    assert info.duration == 5.0 and info.has_audio and info.audio_channels == 1
    audio_only = PROBE_STDERR.replace("Video: h264", "Data: bin_data")
    with pytest.raises(MediaError, match="no video stream"):
        interpret_probe(Path("ad.mp4"), 1, "", audio_only)
    with pytest.raises(MediaError, match="truncated"):
        interpret_probe(Path("ad.mp4"), 0, "out_time_us=1400000\n", PROBE_STDERR)
    with pytest.raises(MediaError, match="no duration"):
        interpret_probe(Path("ad.mp4"), 0, "out_time_us=0\n", PROBE_STDERR)
    with pytest.raises(MediaError, match="(?s)not a media file.*Invalid data"):
        interpret_probe(
            Path("x.mp4"),
            1,
            "",
            "[in#0 @ 0x1] moov atom not found\nError opening input: Invalid data found when "
            "processing input\n",
        )


def test_ad_ids():
    for good in ("spring-sale", "a", "ad-2026"):
        check_ad_id(good)
    for bad in ("Spring", "a b", "../x", "", "-x", "ad_1", "slate", "x" * 65):
        with pytest.raises(AdError):
            check_ad_id(bad)


def test_distinct_conditionings_share_a_ladder(small_settings, small_content):
    one = emulator_channel(small_settings.channels[0], small_content, small_settings)
    two = dataclasses.replace(one, slug="other")
    three = dataclasses.replace(one, slug="third", segment_duration=4.0)
    found = distinct_conditionings([one, two, three])
    assert [c.key for c in found] == [one.conditioning.key, three.conditioning.key]
    assert conditioning_for_media(small_settings.media).ladder[0].name == "hi"
    near = dataclasses.replace(
        one.conditioning,
        ladder=tuple(
            dataclasses.replace(r, bandwidth=round(r.bandwidth * 1.03)) for r in one.ladder
        ),
    )
    far = dataclasses.replace(
        one.conditioning,
        ladder=tuple(dataclasses.replace(r, bandwidth=r.bandwidth * 2) for r in one.ladder),
    )
    assert interchangeable(one.conditioning, near) and not interchangeable(one.conditioning, far)
    assert not interchangeable(one.conditioning, three.conditioning)  # another segment duration


# --------------------------------------------------------------------------- real conditioning


@pytest.mark.parametrize("name", ["five", "short"])
def test_conditioned_ad_matches_the_channel(conditioned, conditioning, settings, name):
    seconds, renditions = conditioned[name]
    expected_segments = math.ceil(seconds / 2)
    assert [r.rendition for r in renditions] == ["hi", "lo"]
    for rendition, rung in zip(renditions, conditioning.ladder):
        assert re.fullmatch(rf"/ads/{name}/[0-9a-f]{{16}}/{rung.name}/index\.m3u8", rendition.path)
        assert rendition.ladder_key == conditioning.key
        assert (
            rendition.segments == expected_segments
            and rendition.duration == expected_segments * 2.0
        )
        assert rendition.bandwidth == rung.bandwidth and rendition.extra[
            "creative_duration"
        ] == pytest.approx(seconds, abs=0.04)
        playlist_path = on_disk(settings, rendition)
        playlist = parse_media_playlist(playlist_path.read_text())
        assert (
            playlist.playlist_type == "VOD" and playlist.endlist and playlist.target_duration == 2
        )
        assert [s.extinf for s in playlist.segments] == ["2.000"] * expected_segments
        # every segment: one closed GOP of exactly 2 s at 25 fps, consecutive timestamps
        starts, audio_frames = [], 0
        for segment in playlist.segments:
            info = scan((playlist_path.parent / segment.uri).read_bytes())
            video, audio = info.stream("video"), info.stream("audio")
            assert video.frames == 50
            assert audio.sample_rate == 48000 and audio.channels == 2
            starts.append(video.first_pts)
            audio_frames += audio.frames
        assert [b - a for a, b in zip(starts, starts[1:])] == [2 * CLOCK] * (expected_segments - 1)
        assert abs(audio_frames * AUDIO_FRAME - expected_segments * 2.0) <= AUDIO_FRAME
        # read back as HLS by ffmpeg itself: the rung's picture, frame rate and audio layout
        banner = ffmpeg_text("-i", str(playlist_path))
        assert re.search(rf"Video: h264 .*, {rung.width}x{rung.height}\b.*, 25 fps", banner), banner
        assert re.search(r"Audio: aac \(LC\).*, 48000 Hz, stereo", banner), banner
        decoded = decoded_frames(str(playlist_path))
        video_seconds = decoded["video_frames"] / 25
        audio_seconds = decoded["audio_samples"] / 48000
        assert video_seconds == expected_segments * 2.0
        assert abs(audio_seconds - video_seconds) <= AUDIO_FRAME  # nothing drifts after a splice
        assert abs(decoded["audio_start"] - decoded["video_start"]) <= AUDIO_FRAME + 0.04


@pytest.mark.parametrize("name, creative_at, slate_at", [("five", 1.0, 5.5), ("short", 3.0, 3.8)])
def test_padding_is_slate(conditioned, settings, slate, name, creative_at, slate_at):
    _, renditions = conditioned[name]
    playlist = str(on_disk(settings, renditions[0]))
    slate_colour = average_colour(str(slate), 1.0)
    # the creative: 4:3 red fitted into 16:9 with black bars (1/8 of the width each side)
    assert distance(average_colour(playlist, creative_at), (191, 0, 0)) < 25
    frame = thumbnail(playlist, creative_at, size="")  # 320x180 as encoded
    pixel = lambda x, y: tuple(frame[(y * 320 + x) * 3 : (y * 320 + x) * 3 + 3])  # noqa: E731
    assert (
        distance(pixel(10, 90), (0, 0, 0)) < 30
        and distance(pixel(160, 90), RED) < 40
        and distance(pixel(309, 90), (0, 0, 0)) < 30
    )
    padded = average_colour(playlist, slate_at)
    assert distance(padded, slate_colour) < 25, (padded, slate_colour)
    assert distance(padded, RED) > 150


async def test_conditioning_is_cached_by_content(work, settings, conditioning, slate, conditioned):
    _, first = conditioned["five"]
    source = work / "five.mp4"
    stamps = {
        p: p.stat().st_mtime_ns for p in files_under(on_disk(settings, first[0]).parent.parent)
    }
    calls = []
    again = await condition(
        source,
        "five",
        conditioning,
        settings.media.cache_dir,
        slate,
        lambda d, t: calls.append(d),
        preset="ultrafast",
    )
    assert again == first and calls == []  # nothing rendered
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    changed = make_creative(work / "five-changed.mp4", 2.0, colour="blue")
    source_copy = work / "five-copy.mp4"
    source_copy.write_bytes(changed.read_bytes())
    redone = await condition(
        source_copy,
        "five",
        conditioning,
        settings.media.cache_dir,
        slate,
        lambda d, t: calls.append(d),
        preset="ultrafast",
    )
    assert calls  # a changed file is conditioned again...
    assert (
        redone[0].path != first[0].path and redone[0].segments == 1
    )  # ...under a new, content-addressed path
    assert on_disk(settings, first[0]).is_file()  # the old one stays for players still in a break
    # a ladder that encodes identically (bandwidths measured a hair apart: another ladder key)
    # shares the conditioned copy; a different x264 preset does not
    twin = dataclasses.replace(
        conditioning,
        ladder=tuple(
            dataclasses.replace(r, bandwidth=r.bandwidth + 900) for r in conditioning.ladder
        ),
    )
    assert twin.key != conditioning.key
    calls.clear()
    shared = await condition(
        source,
        "five",
        twin,
        settings.media.cache_dir,
        slate,
        lambda d, t: calls.append(d),
        preset="ultrafast",
    )
    assert calls == [] and [r.path for r in shared] == [r.path for r in first]
    assert [(r.ladder_key, r.bandwidth) for r in shared] == [
        (twin.key, r.bandwidth) for r in twin.ladder
    ]
    assert content_digest("a", "b", conditioning, "ultrafast") != content_digest(
        "a", "b", conditioning, "veryfast"
    )


# --------------------------------------------------------------------------- the library


@pytest.fixture
def catalog(tmp_path, small_settings, small_content):
    catalog = Catalog(tmp_path / "channels.db")
    catalog.put_channel(emulator_channel(small_settings.channels[0], small_content, small_settings))
    yield catalog
    catalog.close()


@pytest.fixture
def fresh_settings(settings, tmp_path):
    """Settings with an empty media cache of their own (sharing nothing with other tests)."""
    return dataclasses.replace(
        settings, media=dataclasses.replace(settings.media, cache_dir=tmp_path / "cache")
    )


def _broken(kind: str, tmp_path: Path) -> Path:
    if kind == "text":
        path = tmp_path / "notes.mp4"
        path.write_text("this is not a video\n" * 20)
    elif kind == "truncated":
        whole = make_creative(tmp_path / "whole.mp4", 5.0, faststart=True)
        path = tmp_path / "truncated.mp4"
        path.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 5])
    elif kind == "truncated-index":
        whole = make_creative(tmp_path / "whole.mp4", 5.0)
        path = tmp_path / "truncated-index.mp4"
        path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    else:
        path = tmp_path / "tone.m4a"
        subprocess.run(
            [
                ffmpeg_executable(),
                "-hide_banner",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "sine=duration=3",
                "-c:a",
                "aac",
                str(path),
            ],
            check=True,
            capture_output=True,
        )
    return path


@pytest.mark.parametrize(
    "kind, message",
    [
        ("text", "not a media file ffmpeg can read"),
        ("truncated", "looks truncated"),
        ("truncated-index", "moov atom not found"),
        ("audio-only", "no video stream"),
    ],
)
async def test_broken_inputs_are_refused_cleanly(kind, message, tmp_path, catalog, fresh_settings):
    source = _broken(kind, tmp_path)
    with pytest.raises(MediaError, match=message):
        await register_ad(catalog, source, "broken", "Broken", fresh_settings)
    assert files_under(fresh_settings.media.cache_dir / "ads") == []
    assert (
        catalog.ads() == [] and catalog.ad_renditions(catalog.channels()[0].conditioning.key) == []
    )


async def test_register_ad_conditions_and_registers_in_one_go(
    tmp_path, catalog, fresh_settings, conditioning
):
    source = make_creative(tmp_path / "spot.mp4", 3.3)
    with pytest.raises(AdError, match="reserved"):
        await register_ad(catalog, source, "slate", None, fresh_settings)
    with pytest.raises(AdError, match="no such file"):
        await register_ad(catalog, tmp_path / "missing.mp4", "spot", None, fresh_settings)
    news = catalog.channels()[0]  # a second channel: the same ladder, bandwidths measured 2 % apart
    twin = dataclasses.replace(
        news,
        slug="sports",
        ladder=tuple(
            dataclasses.replace(r, bandwidth=round(r.bandwidth * 1.02)) for r in news.ladder
        ),
    )
    catalog.put_channel(twin)
    labels = set()
    ad = await register_ad(
        catalog,
        source,
        "spot",
        "Spring sale",
        fresh_settings,
        lambda label, done, total: labels.add(label),
    )
    assert {label for label in labels if label.startswith("spot")} == {
        f"spot ({conditioning.key})"
    }  # one encode serves both
    shared = catalog.ad_renditions(twin.conditioning.key, "spot")
    assert sorted(r.path for r in shared) == sorted(
        r.path for r in catalog.ad_renditions(conditioning.key, "spot")
    )
    assert {r.bandwidth for r in shared} == {r.bandwidth for r in twin.ladder}
    assert (ad.id, ad.title, ad.status, ad.source) == ("spot", "Spring sale", "ready", str(source))
    assert ad.duration == pytest.approx(3.3, abs=0.04)
    renditions = catalog.ad_renditions(conditioning.key, "spot")
    assert sorted(r.rendition for r in renditions) == ["hi", "lo"]
    assert all(
        r.segments == 2 and "/ads/spot/" in r.path and on_disk(fresh_settings, r).is_file()
        for r in renditions
    )
    with pytest.raises(AdError, match="taken"):
        await register_ad(catalog, source, "spot", None, fresh_settings)
    make_creative(source, 5.0, colour="green")  # the file changes; --replace re-conditions it
    replaced = await register_ad(
        catalog, source, "spot", "Spring sale v2", fresh_settings, replace=True
    )
    assert replaced.title == "Spring sale v2" and replaced.created_at == ad.created_at
    after = catalog.ad_renditions(conditioning.key, "spot")
    assert {r.segments for r in after} == {3} and {r.path for r in after}.isdisjoint(
        r.path for r in renditions
    )
    # a channel with a ladder of its own: the library is conditioned for it from the source file
    mini = dataclasses.replace(news, slug="mini", ladder=news.ladder[1:])
    catalog.put_channel(mini)
    assert await condition_library(catalog, fresh_settings) == ["spot"]
    assert [
        (r.rendition, r.segments) for r in catalog.ad_renditions(mini.conditioning.key, "spot")
    ] == [("lo", 3)]


# --------------------------------------------------------------------------- house creatives


def test_house_recipes_are_each_visibly_different():
    recipes = house_recipes(8)
    assert len(house_recipes(6)) == 6 and len(recipes) == 8
    assert [r.seconds for r in recipes] == [10, 15, 20, 30, 10, 15, 20, 30]
    assert len({r.colour for r in recipes}) == 8 and len({r.tone_hz for r in recipes}) == 8
    assert [r.title for r in recipes[:3]] == ["AD 1", "AD 2", "AD 3"] and len(
        {r.id for r in recipes}
    ) == 8
    assert len({r.colour for r in house_recipes(20)}) == 20
    slate = slate_recipe(10)
    assert (
        slate.id == "slate"
        and "right back" in slate.title
        and slate.volume < 0.1
        and slate.colour not in {r.colour for r in recipes}
    )


def test_creative_argv(tmp_path):
    recipe = house_recipes(2)[1]
    argv = creative_argv(recipe, tmp_path / "x.mp4", "ffmpeg", "/fonts/x.ttf")
    assert argv == creative_argv(recipe, tmp_path / "x.mp4", "ffmpeg", "/fonts/x.ttf")
    graph = argv[argv.index("-filter_complex") + 1]
    assert f"color=c={recipe.colour}:s=1280x720:r=25:d=15" in graph
    assert "text='AD 2'" in graph and "%{eif\\:ceil(15-t)\\:d}" in graph  # big title, countdown
    assert (
        f"sine=frequency={recipe.tone_hz}" in graph and "overlay=x='-w+w*t/15'" in graph
    )  # tone, progress bar
    assert "drawtext" not in " ".join(creative_argv(recipe, tmp_path / "x.mp4", "ffmpeg", None))
    assert argv[-1] == str(tmp_path / "x.mp4") and "-movflags" in argv
    assert "drawtext" in " ".join(
        creative_argv(slate_recipe(10), tmp_path / "s.mp4", "ffmpeg", "/f.ttf")
    )


async def test_house_ads_and_slate_end_to_end(tmp_path, catalog, fresh_settings, conditioning):
    settings = dataclasses.replace(
        fresh_settings, ads=dataclasses.replace(fresh_settings.ads, house_count=1)
    )
    calls = []
    registered = await ensure_house_ads(
        catalog, settings, lambda label, done, total: calls.append(label)
    )
    assert [a.id for a in registered] == ["house-1", "slate"]
    assert {a.source for a in registered} == {"house"}
    creative = next((settings.media.cache_dir / "creatives").glob("house-1-*.mp4"))
    info = await probe(creative)
    assert info.duration == pytest.approx(10.0, abs=0.05) and (info.width, info.height) == (
        320,
        180,
    )
    assert distance(average_colour(str(creative), 2.0), (0xC0, 0x39, 0x2B)) < 60  # house-1's red
    house = catalog.ad_renditions(conditioning.key, "house-1")
    slate = catalog.ad_renditions(conditioning.key, "slate")
    assert [r.segments for r in house] == [5, 5] and [r.segments for r in slate] == [
        5,
        5,
    ]  # 10 s, no padding
    assert all(r.path.startswith("/slate/") and "/ads/" not in r.path for r in slate)
    assert all(r.path.startswith("/ads/house-1/") for r in house)
    calls.clear()
    again = await ensure_house_ads(
        catalog, settings, lambda label, done, total: calls.append(label)
    )
    assert calls == [] and [a.id for a in again] == ["house-1", "slate"]  # cached: no ffmpeg at all
    # a channel with a new ladder: the library is conditioned for it too
    lo_only = dataclasses.replace(
        catalog.channels()[0], slug="mini", ladder=catalog.channels()[0].ladder[1:]
    )
    catalog.put_channel(lo_only)
    changed = await condition_library(catalog, settings)
    assert sorted(changed) == ["house-1", "slate"]
    assert [r.rendition for r in catalog.ad_renditions(lo_only.conditioning.key, "house-1")] == [
        "lo"
    ]
    assert await condition_library(catalog, settings) == []


# --------------------------------------------------------------------------- CLI


def test_cli_add_list_remove(tmp_path, small_settings, small_content, fresh_settings, capsys):
    import argparse

    from rig import ads_cli
    from rig.channels import catalog_path

    settings = dataclasses.replace(fresh_settings, state_dir=tmp_path / "state")
    seeded = Catalog(catalog_path(settings))
    seeded.put_channel(emulator_channel(small_settings.channels[0], small_content, small_settings))
    seeded.close()
    parser = argparse.ArgumentParser(prog="rig")
    sub = parser.add_subparsers(dest="command", required=True)
    ads_cli.add_arguments(sub, lambda p: p.add_argument("--config"))
    source = make_creative(tmp_path / "promo.mp4", 2.5)

    assert (
        ads_cli.run(
            parser.parse_args(["ads", "add", str(source), "--id", "promo", "--title", "Promo"]),
            settings,
        )
        == 0
    )
    out = capsys.readouterr()
    assert (
        "added promo: 2.50 s, conditioned for 1 ladder(s)" in out.out and "/ads/promo/" in out.out
    )
    assert "promo" in out.err  # progress on stderr (a line per quarter: not a terminal)
    assert ads_cli.run(parser.parse_args(["ads", "list"]), settings) == 0
    assert re.search(r"promo\s+2\.50 s\s+ready.*channels: news", capsys.readouterr().out)
    with pytest.raises(AdError, match="taken"):
        ads_cli.run(parser.parse_args(["ads", "add", str(source), "--id", "promo"]), settings)
    with pytest.raises(Exception, match="cannot be removed"):
        ads_cli.run(parser.parse_args(["ads", "remove", "slate"]), settings)
    assert ads_cli.run(parser.parse_args(["ads", "remove", "promo"]), settings) == 0
    assert "removed promo" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser.parse_args(["ads", "add", str(source)])  # --id is required


async def test_a_stuck_ffmpeg_is_killed_with_a_clear_error(tmp_path):
    from rig.conditioning import run_watched

    # a never-ending source whose every frame is dropped: ffmpeg runs on, its output never advances
    argv = [
        ffmpeg_executable(),
        "-hide_banner",
        "-nostdin",
        "-re",
        "-f",
        "lavfi",
        "-i",
        "color=s=16x16:r=25",
        "-vf",
        "select=0",
        "-f",
        "null",
        "-",
    ]
    with pytest.raises(MediaError, match="no progress for 1.5 s"):
        await run_watched(argv, 10.0, None, "stuck test", stall_seconds=1.5)
