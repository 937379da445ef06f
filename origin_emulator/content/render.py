"""The ffmpeg filter graph and command that render a channel's content, for the loop and live.

Pure: builds argument lists only. One ffmpeg process renders every rung of the ladder from one
source (a test pattern with the channel's title band, a caption and a tone), each rung in closed
GOPs of exactly one segment.
"""

from __future__ import annotations

from pathlib import Path

from origin_emulator.content.recipe import ContentRecipe
from origin_emulator.content.text import escape_drawtext
from origin_emulator.ffmpeg import frame_rate_expr

LOOP_CAPTION = r"%{pts\:hms}  frame %{eif\:n\:d}"  # drawtext: the loop's own clock and frame number
PACING_LIMIT = 86_400  # seconds a live graph may fall behind the wall clock and still catch up


def filter_graph(recipe: ContentRecipe, font: str | None, caption: str, live: bool = False) -> str:
    """The `-filter_complex` graph: test pattern, title band, `caption` text, tone; outputs `[v<i>]`
    and `[a<i>]` per rung. `caption` is drawtext text (expansions allowed, already escaped).

    Loop renders last `recipe.loop_seconds`; a `live` graph never ends and is paced to the wall
    clock (`realtime`/`arealtime`, with a limit so large that a stalled encoder catches up instead
    of re-basing its clock), so frames are drawn when they are due and `%{gmtime}` shows that
    moment.
    """
    top = recipe.ladder[0]
    seconds = f"{recipe.loop_seconds:g}"
    video = [
        f"testsrc2=size={top.width}x{top.height}:rate={frame_rate_expr(recipe.fps)}"
        + ("" if live else f":duration={seconds}")
    ]
    placement = None if live else recipe.audio_layout()
    if live:
        video.append(f"realtime=limit={PACING_LIMIT}")
    video.append(f"drawbox=x=0:y=0:w=iw:h=ih/5:color={recipe.colour}@1:t=fill")
    if font:
        fontfile = escape_drawtext(font)
        video.append(
            f"drawtext=fontfile={fontfile}:text='{escape_drawtext(recipe.title)}'"
            ":fontsize=h/9:fontcolor=white:x=(w-tw)/2:y=h/40"
        )
        video.append(
            f"drawtext=fontfile={fontfile}:text='{caption}':fontsize=h/16"
            ":fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=8:x=(w-tw)/2:y=h-th-h/12"
        )
    n = len(recipe.ladder)
    graph = [",".join(video) + f",split={n}" + "".join(f"[s{i}]" for i in range(n))]
    for i, rung in enumerate(recipe.ladder):
        if (rung.width, rung.height) == (top.width, top.height):
            graph.append(f"[s{i}]null[v{i}]")
        else:
            graph.append(f"[s{i}]scale={rung.width}:{rung.height}[v{i}]")
    tone = f"sine=frequency={recipe.tone_hz}:sample_rate={recipe.audio_rate}"
    if live:
        audio = f"{tone},arealtime=limit={PACING_LIMIT}"
    else:
        # exactly the loop's span of AAC frames, placed so the wrap follows ffmpeg's cut rule
        # (origin_emulator.interleave)
        audio = f"{tone},{placement.audio_filters()}"
    graph.append(
        audio + f",aformat=channel_layouts=stereo,asplit={n}" + "".join(f"[a{i}]" for i in range(n))
    )
    return ";".join(graph)


def encode_args(recipe: ContentRecipe, index: int, tune: str | None = None) -> list[str]:
    """Map and encode rung `index` of the graph: H.264 in closed GOPs of exactly one segment,
    AAC."""
    rung = recipe.ladder[index]
    gop = round(recipe.segment_seconds * recipe.frame_rate)
    return [
        "-map", f"[v{index}]", "-map", f"[a{index}]",
        "-c:v", "libx264", "-preset", recipe.preset, *(["-tune", tune] if tune else []),
        "-profile:v", "main", "-level:v", "3.1",
        "-pix_fmt", "yuv420p", "-r", frame_rate_expr(recipe.fps),
        *(["-bf", str(recipe.b_frames)] if recipe.b_frames >= 0 else []),
        "-b:v", f"{rung.video_kbps}k", "-maxrate", f"{round(rung.video_kbps * 1.1)}k",
        "-bufsize", f"{rung.video_kbps * 2}k",
        "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
        "-force_key_frames", f"expr:eq(mod(n,{gop}),0)",
        "-x264-params", "open-gop=0:scenecut=0",
        "-c:a", "aac", "-b:a", f"{rung.audio_kbps}k", "-ar", str(recipe.audio_rate), "-ac", "2",
    ]  # fmt: skip


def content_argv(
    recipe: ContentRecipe, out_dir: Path, ffmpeg: str = "ffmpeg", font: str | None = None
) -> list[str]:
    """The ffmpeg command that renders a recipe's loop into `out_dir/<rendition>/seg_NNNNN.ts`.

    Pure: builds the argument list only. One process renders every rendition from one source.
    """
    argv = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-y",
        "-filter_complex",
        filter_graph(recipe, font, LOOP_CAPTION),
    ]
    for i, rung in enumerate(recipe.ladder):
        argv += encode_args(recipe, i)
        argv += [
            "-f", "segment", "-segment_time", f"{recipe.segment_seconds:g}",
            "-segment_time_delta", f"{0.5 / recipe.fps:.6f}",
            "-segment_format", "mpegts",
            "-segment_start_number", "0",
            str(out_dir / rung.name / "seg_%05d.ts"),
        ]  # fmt: skip
    return argv
