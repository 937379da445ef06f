"""Media build: the ffmpeg command (pure), the supervisor, and a real render of a small recipe."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest

from origin_emulator.content import ContentRecipe, build_content, content_argv, load_content
from origin_emulator.errors import MediaError
from origin_emulator.ffmpeg import ffmpeg_executable, parse_progress, run_ffmpeg
from stitcher.ts import scan


def test_content_argv_is_pure_and_complete(small_settings, tmp_path):
    recipe = ContentRecipe.for_channel(small_settings.channels[0], small_settings.media)
    argv = content_argv(recipe, tmp_path, "ffmpeg", "/fonts/x.ttf")
    assert argv == content_argv(recipe, tmp_path, "ffmpeg", "/fonts/x.ttf")
    assert argv[0] == "ffmpeg"
    joined = " ".join(argv)
    assert joined.count("-c:v libx264") == 2  # one encode per rendition
    assert "-force_key_frames expr:eq(mod(n,50),0)" in joined
    assert "-g 50 -keyint_min 50 -sc_threshold 0" in joined
    assert "open-gop=0" in joined
    assert (
        str(tmp_path / "hi" / "seg_%05d.ts") in argv
        and str(tmp_path / "lo" / "seg_%05d.ts") in argv
    )
    assert "atrim=end_sample=382976" in joined  # 8 s x 48 kHz minus the AAC priming frame
    assert "drawtext=fontfile=/fonts/x.ttf:text='NEWS'" in joined
    assert "drawtext" not in " ".join(content_argv(recipe, tmp_path, "ffmpeg", None))


def test_recipe_key_changes_with_the_recipe(small_settings):
    recipe = ContentRecipe.for_channel(small_settings.channels[0], small_settings.media)
    assert (
        recipe.key
        == ContentRecipe.for_channel(small_settings.channels[0], small_settings.media).key
    )
    assert dataclasses.replace(recipe, tone_hz=441).key != recipe.key
    assert recipe.key.startswith("news-")


@pytest.mark.parametrize(
    "line, seconds",
    [
        ("out_time_us=1500000", 1.5),
        ("out_time_ms=2000000", None),
        ("out_time_us=N/A", None),
        ("frame=12", None),
        ("out_time_us=-5", None),
    ],
)
def test_parse_progress(line, seconds):
    assert parse_progress(line) == seconds


async def test_ffmpeg_failure_is_a_clear_error_with_ffmpegs_words():
    argv = [
        ffmpeg_executable(),
        "-hide_banner",
        "-f",
        "lavfi",
        "-i",
        "nosuchsource=x",
        "-f",
        "null",
        "-",
    ]
    with pytest.raises(MediaError) as caught:
        await run_ffmpeg(argv, what="test render")
    message = str(caught.value)
    assert "test render failed" in message
    assert "nosuchsource" in message  # ffmpeg's own explanation is carried along


async def test_missing_binary_is_a_clear_error():
    with pytest.raises(MediaError, match="cannot start"):
        await run_ffmpeg(["/nonexistent/ffmpeg", "-version"])


def test_small_render_is_a_seamless_loop_of_closed_gops(small_content, small_settings):
    recipe = small_content.recipe
    assert len(small_content.renditions) == 2
    for rendition in small_content.renditions:
        assert len(rendition.segments) == 4
        assert [s.duration for s in rendition.segments] == [2.0] * 4
        total_audio = 0
        for segment in rendition.segments:
            info = scan(rendition.path(segment.index).read_bytes())
            assert info.stream("video").frames == 50  # one closed GOP of exactly 2 s
            total_audio += info.stream("audio").frames
            assert info.has_pcr
        assert (
            total_audio * 1024 == recipe.loop_seconds * recipe.audio_rate
        )  # audio spans the loop exactly
        assert rendition.codecs.startswith("avc1.") and rendition.codecs.endswith("mp4a.40.2")
    starts = [s.first_pts for s in small_content.renditions[0].segments]
    assert [b - a for a, b in zip(starts, starts[1:])] == [180_000] * 3


async def test_build_from_scratch_reports_progress_and_caches(small_settings, tmp_path):
    recipe = dataclasses.replace(
        ContentRecipe.for_channel(small_settings.channels[0], small_settings.media),
        ladder=small_settings.media.ladder[1:],
        title="FRESH",
    )
    progress: list[tuple[float, float]] = []
    built = await build_content(
        recipe, tmp_path, lambda done, total: progress.append((done, total))
    )
    assert progress[-1] == (8.0, 8.0)
    assert built.directory == tmp_path / "content" / recipe.key
    assert (
        json.loads((built.directory / "manifest.json").read_text())["recipe"]["key"] == recipe.key
    )
    assert [p.name for p in (tmp_path / "content").iterdir()] == [
        recipe.key
    ]  # no temporary leftovers
    again = await build_content(
        recipe, tmp_path, lambda *_: pytest.fail("a cached build must not render")
    )
    assert again == built


async def test_failed_build_leaves_nothing_behind(small_settings, tmp_path):
    recipe = dataclasses.replace(
        ContentRecipe.for_channel(small_settings.channels[0], small_settings.media),
        colour="notacolour",
    )
    with pytest.raises(MediaError, match="ffmpeg said"):
        await build_content(recipe, tmp_path)
    assert not any((tmp_path / "content").iterdir())
    assert load_content(recipe, tmp_path) is None


def test_damaged_cache_is_rebuilt(small_settings, small_content, tmp_path):
    import shutil

    recipe = small_content.recipe
    shutil.copytree(small_content.directory, tmp_path / "content" / recipe.key)
    assert load_content(recipe, tmp_path) is not None
    (tmp_path / "content" / recipe.key / "lo" / "seg_00002.ts").unlink()
    assert load_content(recipe, tmp_path) is None
    (tmp_path / "content" / recipe.key / "manifest.json").write_text("{broken")
    assert load_content(recipe, tmp_path) is None
    assert asyncio.iscoroutinefunction(build_content)
