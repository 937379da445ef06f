"""The rig's own creatives: house ads and the slate, as recipes, their ffmpeg command, rendered.

Each house ad has its own background colour, a big "AD n" title, a countdown of the seconds
left, a progress bar and its own tone (beeping once a second); the slate is dark, says "We’ll be
right back" and hums quietly. Recipes and `creative_argv` are pure (lavfi sources only);
`render_creative` renders a recipe once into `<cache_dir>/creatives/<id>-<hash>.mp4`.
"""

from __future__ import annotations

import colorsys
import dataclasses
import hashlib
import json
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

from origin_emulator.config import MediaSettings
from origin_emulator.content.text import FONT_CANDIDATES, escape_drawtext, find_font
from origin_emulator.ffmpeg import ProgressCallback, ffmpeg_executable, frame_rate_expr, run_ffmpeg
from stitcher.pod import SLATE_ID

log = logging.getLogger(__name__)

CREATIVE_VERSION = 1
HOUSE_DURATIONS = (10.0, 15.0, 20.0, 30.0)
HOUSE_COLOURS = (
    "0xc0392b",
    "0x1e8449",
    "0x2471a3",
    "0xd68910",
    "0x7d3c98",
    "0x117a65",
    "0xa04000",
    "0x922b5e",
)
SLATE_COLOUR = "0x14181f"
SLATE_TITLE = "We’ll be right back"  # a typographic apostrophe: no quoting trouble in filtergraphs


@dataclass(frozen=True)
class CreativeRecipe:
    """Everything that determines a rendered creative (and so its cache key)."""

    id: str
    title: str
    colour: str
    tone_hz: int
    seconds: float
    volume: float = 0.3
    beep: bool = True  # beep once a second at twice the tone
    countdown: bool = True  # seconds left, and a progress bar
    caption: str = ""  # small line at the top
    width: int = 1280
    height: int = 720
    fps: float = 25
    audio_rate: int = 48000

    def sized(self, width: int, height: int, fps: float, audio_rate: int) -> CreativeRecipe:
        return replace(self, width=width, height=height, fps=fps, audio_rate=audio_rate)

    def key(self, font: str | None) -> str:
        body = json.dumps(
            {"v": CREATIVE_VERSION, "font": font, **dataclasses.asdict(self)}, sort_keys=True
        )
        return f"{self.id}-{hashlib.sha256(body.encode()).hexdigest()[:12]}"


def house_colour(n: int) -> str:
    """Background of house ad n (1-based): a fixed palette, then golden-angle hues."""
    if n <= len(HOUSE_COLOURS):
        return HOUSE_COLOURS[n - 1]
    r, g, b = colorsys.hsv_to_rgb((n * 0.61803398875) % 1.0, 0.75, 0.7)
    return f"0x{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def house_tone(n: int) -> int:
    """Tone of house ad n: minor thirds up from G4 over an octave and a half, then shifted a
    little."""
    return round(392 * 2 ** (((n - 1) % 8) * 3 / 12)) + 7 * ((n - 1) // 8)


def house_recipes(
    count: int, width: int = 1280, height: int = 720, fps: int = 25, audio_rate: int = 48000
) -> list[CreativeRecipe]:
    """The house creatives `house-1` ... `house-<count>`: 10/15/20/30 s in turn, each visibly
    different."""
    recipes = []
    for n in range(1, count + 1):
        seconds = HOUSE_DURATIONS[(n - 1) % len(HOUSE_DURATIONS)]
        recipes.append(
            CreativeRecipe(
                id=f"house-{n}",
                title=f"AD {n}",
                colour=house_colour(n),
                tone_hz=house_tone(n),
                seconds=seconds,
                caption=f"house creative {n} · {seconds:g} s",
                width=width,
                height=height,
                fps=fps,
                audio_rate=audio_rate,
            )
        )
    return recipes


def slate_recipe(
    seconds: float = 10.0,
    width: int = 1280,
    height: int = 720,
    fps: int = 25,
    audio_rate: int = 48000,
) -> CreativeRecipe:
    """The slate that fills what ads leave of a break: dark, a message, a quiet steady hum."""
    return CreativeRecipe(
        id=SLATE_ID, title=SLATE_TITLE, colour=SLATE_COLOUR, tone_hz=220, seconds=seconds,
        volume=0.05, beep=False, countdown=False,
        width=width, height=height, fps=fps, audio_rate=audio_rate,
    )  # fmt: skip


def creative_argv(
    recipe: CreativeRecipe,
    out_path: Path,
    ffmpeg: str = "ffmpeg",
    font: str | None = None,
    preset: str = "veryfast",
) -> list[str]:
    """The ffmpeg command that renders a recipe to an H.264/AAC MP4 from lavfi sources. Pure."""
    d = f"{recipe.seconds:g}"
    w, h = recipe.width, recipe.height
    rate = frame_rate_expr(recipe.fps)
    video = [f"color=c={recipe.colour}:s={w}x{h}:r={rate}:d={d},format=yuv420p[bg]"]
    chain = "[bg]"
    if recipe.countdown:
        bar_h = max(2, h // 20 // 2 * 2)
        video.append(f"color=c=white:s={w}x{bar_h}:r={rate}:d={d}[bar]")
        chain = f"[bg][bar]overlay=x='-w+w*t/{d}':y=H-h:eval=frame:shortest=1"
    filters = []
    if font:
        fontfile = escape_drawtext(font)
        if recipe.countdown:
            filters.append(
                f"drawtext=fontfile={fontfile}:text='{escape_drawtext(recipe.title)}'"
                ":fontsize=h/4:fontcolor=white:x=(w-tw)/2:y=(h-th)/2-h/10"
            )
            filters.append(
                f"drawtext=fontfile={fontfile}:text='%{{eif\\:ceil({d}-t)\\:d}}'"
                ":fontsize=h/8:fontcolor=white:x=(w-tw)/2:y=h*0.62"
            )
        else:
            filters.append(
                f"drawtext=fontfile={fontfile}:text='{escape_drawtext(recipe.title)}'"
                ":fontsize=h/10:fontcolor=white@0.9:x=(w-tw)/2:y=(h-th)/2"
            )
        if recipe.caption:
            filters.append(
                f"drawtext=fontfile={fontfile}:text='{escape_drawtext(recipe.caption)}'"
                ":fontsize=h/22:fontcolor=white@0.8:x=(w-tw)/2:y=h/14"
            )
    if chain == "[bg]":
        filters = filters or ["null"]
        video.append(chain + ",".join(filters) + "[v]")
    else:
        video.append(",".join([chain, *filters]) + "[v]")
    beep = ":beep_factor=2" if recipe.beep else ""
    audio = (
        f"sine=frequency={recipe.tone_hz}:sample_rate={recipe.audio_rate}:duration={d}{beep}"
        f",volume={recipe.volume:g},aformat=channel_layouts=stereo[a]"
    )
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-y", "-filter_complex", ";".join([*video, audio]),
        "-map", "[v]", "-map", "[a]",
        "-c:v", "libx264", "-preset", preset, "-profile:v", "main", "-pix_fmt", "yuv420p",
        "-g", str(round(recipe.fps * 2)),
        "-c:a", "aac", "-b:a", "128k", "-ar", str(recipe.audio_rate),
        "-t", d, "-movflags", "+faststart", "-f", "mp4", str(out_path),
    ]  # fmt: skip


async def render_creative(
    recipe: CreativeRecipe,
    cache_dir: Path,
    *,
    preset: str = "veryfast",
    on_progress: ProgressCallback | None = None,
    ffmpeg: str | None = None,
) -> Path:
    """The rendered creative `<cache_dir>/creatives/<id>-<hash>.mp4`, rendering it first if
    needed (a temporary file renamed into place; cached by the recipe's hash)."""
    font = find_font()
    final = Path(cache_dir) / "creatives" / f"{recipe.key(font)}.mp4"
    if final.is_file():
        return final
    if font is None:
        log.warning(
            "no TrueType font found (looked for %s); creatives will have no text",
            ", ".join(FONT_CANDIDATES),
        )
    final.parent.mkdir(parents=True, exist_ok=True)
    work = final.with_name(f".{final.stem}.building-{os.getpid()}.mp4")
    try:
        argv = creative_argv(recipe, work, ffmpeg or ffmpeg_executable(), font, preset)
        await run_ffmpeg(
            argv,
            total_seconds=recipe.seconds,
            on_progress=on_progress,
            what=f"render of creative {recipe.id}",
        )
        os.replace(work, final)
    except BaseException:
        work.unlink(missing_ok=True)
        raise
    return final


def sized_for(media: MediaSettings, recipe: CreativeRecipe) -> CreativeRecipe:
    """A recipe at the size of the top of the rig's ladder, its frame rate and audio rate."""
    top = media.ladder[0]
    return recipe.sized(top.width, top.height, media.fps, media.audio_rate)
