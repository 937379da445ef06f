"""The ad library: house creatives and the slate, and registering ads conditioned for every channel.

- `house_recipes(count)` / `slate_recipe(...)`: pure descriptions of the rig's own creatives —
  each house ad has its own background colour, a big "AD n" title, a countdown of the seconds
  left, a progress bar and its own tone (beeping once a second); the slate is dark, says
  "We’ll be right back" and hums quietly. `creative_argv` is the pure ffmpeg command (lavfi
  sources only); `render_creative` renders a recipe once into
  `<cache_dir>/creatives/<id>-<hash>.mp4` (temp file + rename; cached by recipe hash).
- `register_ad` conditions a file (`rig.conditioning.condition`) for every distinct ladder among
  the catalog's channels and then writes the ad and all its renditions in ONE catalog
  transaction; a file that is not usable media is refused and nothing is registered.
- `ensure_house_ads` does the same for the house creatives and the slate (ad id `slate`).
- `condition_library` conditions every registered ad for ladders it is still missing (after a
  channel with a new ladder was added).

Side effects: runs ffmpeg, writes the media cache, reads and writes the catalog (in a thread).
"""

from __future__ import annotations

import asyncio
import colorsys
import dataclasses
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from origin_emulator.config import MediaSettings
from origin_emulator.content.text import FONT_CANDIDATES, escape_drawtext, find_font
from origin_emulator.errors import MediaError
from origin_emulator.ffmpeg import ProgressCallback, ffmpeg_executable, frame_rate_expr, run_ffmpeg
from origin_emulator.progress import LabelledProgress
from rig.conditioning import Probe, condition, conditioning_argv, file_sha256, probe  # noqa: F401  (re-exported)
from rig.settings import Settings
from stitcher.catalog import Ad, AdRendition, Catalog, CatalogError, Channel, Conditioning, Rung
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
AD_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


class AdError(CatalogError):
    """An ad request that cannot be done (bad or taken id, missing file)."""


# --------------------------------------------------------------------------- recipes


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
    """Tone of house ad n: minor thirds up from G4 over an octave and a half, then shifted a little."""
    return round(392 * 2 ** (((n - 1) % 8) * 3 / 12)) + 7 * ((n - 1) // 8)


def house_recipes(
    count: int, width: int = 1280, height: int = 720, fps: int = 25, audio_rate: int = 48000
) -> list[CreativeRecipe]:
    """The house creatives `house-1` ... `house-<count>`: 10/15/20/30 s in turn, each visibly different."""
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
        id=SLATE_ID, title=SLATE_TITLE, colour=SLATE_COLOUR, tone_hz=220, seconds=seconds, volume=0.05,
        beep=False, countdown=False, width=width, height=height, fps=fps, audio_rate=audio_rate,
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
    video = [
        f"color=c={recipe.colour}:s={w}x{h}:r={frame_rate_expr(recipe.fps)}:d={d},format=yuv420p[bg]"
    ]
    chain = "[bg]"
    if recipe.countdown:
        bar_h = max(2, h // 20 // 2 * 2)
        video.append(f"color=c=white:s={w}x{bar_h}:r={frame_rate_expr(recipe.fps)}:d={d}[bar]")
        chain = f"[bg][bar]overlay=x='-w+w*t/{d}':y=H-h:eval=frame:shortest=1"
    filters = []
    if font:
        fontfile = escape_drawtext(font)
        if recipe.countdown:
            filters.append(
                f"drawtext=fontfile={fontfile}:text='{escape_drawtext(recipe.title)}':fontsize=h/4:fontcolor=white:x=(w-tw)/2:y=(h-th)/2-h/10"
            )
            filters.append(
                f"drawtext=fontfile={fontfile}:text='%{{eif\\:ceil({d}-t)\\:d}}':fontsize=h/8:fontcolor=white:x=(w-tw)/2:y=h*0.62"
            )
        else:
            filters.append(
                f"drawtext=fontfile={fontfile}:text='{escape_drawtext(recipe.title)}':fontsize=h/10:fontcolor=white@0.9:x=(w-tw)/2:y=(h-th)/2"
            )
        if recipe.caption:
            filters.append(
                f"drawtext=fontfile={fontfile}:text='{escape_drawtext(recipe.caption)}':fontsize=h/22:fontcolor=white@0.8:x=(w-tw)/2:y=h/14"
            )
    if chain == "[bg]":
        filters = filters or ["null"]
        video.append(chain + ",".join(filters) + "[v]")
    else:
        video.append(",".join([chain, *filters]) + "[v]")
    beep = ":beep_factor=2" if recipe.beep else ""
    audio = f"sine=frequency={recipe.tone_hz}:sample_rate={recipe.audio_rate}:duration={d}{beep},volume={recipe.volume:g},aformat=channel_layouts=stereo[a]"
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-y", "-filter_complex", ";".join([*video, audio]),
        "-map", "[v]", "-map", "[a]",
        "-c:v", "libx264", "-preset", preset, "-profile:v", "main", "-pix_fmt", "yuv420p", "-g", str(round(recipe.fps * 2)),
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
    """The rendered creative `<cache_dir>/creatives/<id>-<hash>.mp4`, rendering it first if needed."""
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


# --------------------------------------------------------------------------- catalog


def check_ad_id(ad_id: str) -> None:
    if ad_id == SLATE_ID:
        raise AdError("the id 'slate' is reserved for the slate (`rig ads house` makes it)")
    if not AD_ID.fullmatch(ad_id or ""):
        raise AdError(
            f"ad id {ad_id!r}: use 1-64 lower-case letters, digits and '-' (starting with a letter or digit)"
        )


def distinct_conditionings(channels: Iterable[Channel]) -> list[Conditioning]:
    """One `Conditioning` per distinct ladder key among the channels, in channel order."""
    found: dict[str, Conditioning] = {}
    for channel in channels:
        found.setdefault(channel.conditioning.key, channel.conditioning)
    return list(found.values())


def conditioning_for_media(media: MediaSettings, bandwidth_factor: float = 1.15) -> Conditioning:
    """The ladder the rig's own settings describe, with BANDWIDTH estimated from the bit rates.

    For tools and tests without a catalog; channels in the catalog carry measured bandwidths
    (and so their own ladder key).
    """
    ladder = tuple(
        Rung(
            r.name,
            round((r.video_kbps + r.audio_kbps) * 1000 * bandwidth_factor),
            r.width,
            r.height,
            frame_rate=float(media.fps),
        )
        for r in media.ladder
    )
    return Conditioning(ladder, media.segment_seconds, float(media.fps), media.audio_rate, 2)


def _labelled(on_progress: LabelledProgress | None, label: str) -> ProgressCallback | None:
    if on_progress is None:
        return None
    return lambda done, total: on_progress(label, done, total)


async def _slate_file(settings: Settings, on_progress: LabelledProgress | None) -> Path:
    recipe = sized_for(settings.media, slate_recipe(settings.ads.slate_seconds))
    return await render_creative(
        recipe,
        settings.media.cache_dir,
        preset=settings.media.preset,
        on_progress=_labelled(on_progress, "slate (render)"),
    )


async def _condition_all(
    source: Path,
    ad_id: str,
    conditionings: list[Conditioning],
    settings: Settings,
    slate: Path,
    on_progress: LabelledProgress | None,
    source_probe: Probe | None = None,
    known: Iterable[tuple[Conditioning, list[AdRendition]]] = (),
) -> list[AdRendition]:
    """Condition for each ladder, once per group of interchangeable ladders (`known` ones included)."""
    renditions: list[AdRendition] = []
    done: list[tuple[Conditioning, list[AdRendition]]] = list(known)
    for conditioning in conditionings:
        twin = next((made for other, made in done if interchangeable(other, conditioning)), None)
        if twin is not None:  # the same ladder measured a hair differently: share the copy
            made = [
                replace(r, ladder_key=conditioning.key, bandwidth=rung.bandwidth)
                for r, rung in zip(twin, conditioning.ladder)
            ]
        else:
            made = await condition(
                source, ad_id, conditioning, settings.media.cache_dir, slate,
                _labelled(on_progress, f"{ad_id} ({conditioning.key})"),
                preset=settings.media.preset, source_probe=source_probe,
            )  # fmt: skip
            done.append((conditioning, made))
        renditions += made
    return renditions


def interchangeable(a: Conditioning, b: Conditioning, tolerance: float = 0.1) -> bool:
    """Two ladders one conditioned copy serves: same rungs (names, sizes), timing and audio, and
    bandwidths within `tolerance` of each other (they are measured peaks, never exactly equal)."""
    if (a.segment_duration, a.frame_rate, a.audio_rate, a.audio_channels) != (
        b.segment_duration,
        b.frame_rate,
        b.audio_rate,
        b.audio_channels,
    ):
        return False
    if [(r.name, r.width, r.height) for r in a.ladder] != [
        (r.name, r.width, r.height) for r in b.ladder
    ]:
        return False
    return all(
        abs(x.bandwidth - y.bandwidth) <= tolerance * max(x.bandwidth, y.bandwidth)
        for x, y in zip(a.ladder, b.ladder)
    )


def _store(catalog: Catalog, ad: Ad, renditions: list[AdRendition], drop_other_ladders: bool) -> Ad:
    existing = catalog.find_ad(ad.id)
    if existing is not None and not ad.created_at:
        ad = replace(ad, created_at=existing.created_at)
    # one transaction: the ad with every rendition (a replaced ad loses renditions of ladders no channel uses now)
    stored = catalog.put_ad(ad, renditions, replace_renditions=drop_other_ladders)
    return stored


async def register_ad(
    catalog: Catalog,
    source: Path | str,
    ad_id: str,
    title: str | None,
    settings: Settings,
    on_progress: LabelledProgress | None = None,
    *,
    replace: bool = False,
) -> Ad:
    """Condition a creative for every ladder in the catalog, then register it in one transaction.

    Raises AdError for a bad or taken id (unless `replace`) or a missing file, MediaError for a
    file that is not usable media (nothing is written to the catalog or left in the cache).
    """
    check_ad_id(ad_id)
    path = Path(source).expanduser().resolve()
    if not path.is_file():
        raise AdError(f"{path}: no such file")
    existing = await asyncio.to_thread(catalog.find_ad, ad_id)
    if existing is not None and not replace:
        raise AdError(
            f"ad id {ad_id!r} is taken ({existing.title!r} from {existing.source}); use --replace or another id"
        )
    info = await probe(path)
    conditionings = distinct_conditionings(await asyncio.to_thread(catalog.channels))
    if not conditionings:
        log.warning(
            "no channels in the catalog: %s is registered but conditioned for no ladder yet", ad_id
        )
    slate = await _slate_file(settings, on_progress)
    renditions = await _condition_all(
        path, ad_id, conditionings, settings, slate, on_progress, info
    )
    ad = Ad(
        id=ad_id,
        title=title or ad_id,
        duration=round(info.duration, 6),
        source=str(path),
        status="ready",
    )
    return await asyncio.to_thread(_store, catalog, ad, renditions, replace)


async def ensure_house_ads(
    catalog: Catalog, settings: Settings, on_progress: LabelledProgress | None = None
) -> list[Ad]:
    """Render and condition the slate and the house creatives for every ladder; register them.

    Returns the house ads, then the slate. Cheap when everything is cached (no ffmpeg runs).
    """
    conditionings = distinct_conditionings(await asyncio.to_thread(catalog.channels))
    if not conditionings:
        log.warning(
            "no channels in the catalog: house ads are rendered but conditioned for no ladder yet"
        )
    slate = await _slate_file(settings, on_progress)
    slate_renditions = await _condition_all(
        slate, SLATE_ID, conditionings, settings, slate, on_progress
    )
    slate_ad = Ad(
        id=SLATE_ID,
        title=SLATE_TITLE,
        duration=settings.ads.slate_seconds,
        source="house",
        status="ready",
    )
    registered = []
    for recipe in house_recipes(settings.ads.house_count):
        recipe = sized_for(settings.media, recipe)
        path = await render_creative(
            recipe,
            settings.media.cache_dir,
            preset=settings.media.preset,
            on_progress=_labelled(on_progress, f"{recipe.id} (render)"),
        )
        renditions = await _condition_all(
            path, recipe.id, conditionings, settings, slate, on_progress
        )
        ad = Ad(
            id=recipe.id,
            title=f"House ad {recipe.id.removeprefix('house-')} ({recipe.seconds:g} s)",
            duration=recipe.seconds,
            source="house",
            status="ready",
        )
        registered.append(await asyncio.to_thread(_store, catalog, ad, renditions, False))
    registered.append(await asyncio.to_thread(_store, catalog, slate_ad, slate_renditions, False))
    return registered


async def condition_library(
    catalog: Catalog, settings: Settings, on_progress: LabelledProgress | None = None
) -> list[str]:
    """Condition every registered ad for the catalog's ladders it lacks; the ids that changed.

    House ads and the slate are re-made by `ensure_house_ads`; ads added from files are
    conditioned from their source file again (skipped, with a warning, when it is gone).
    """
    changed: list[str] = []
    conditionings = distinct_conditionings(await asyncio.to_thread(catalog.channels))
    slate, house_done = None, False
    wanted = []
    for ad in await asyncio.to_thread(catalog.ads):
        have = [
            (c, await asyncio.to_thread(catalog.ad_renditions, c.key, ad.id)) for c in conditionings
        ]
        missing = [c for c, made in have if not made]
        if missing:
            wanted.append((ad, missing, [(c, made) for c, made in have if made]))
    for ad, missing, known in wanted:
        if ad.source == "house":
            if not house_done:
                await ensure_house_ads(catalog, settings, on_progress)
                house_done = True
            now_made = [
                await asyncio.to_thread(catalog.ad_renditions, c.key, ad.id) for c in missing
            ]
            if all(now_made):
                changed.append(ad.id)
            else:
                log.warning(
                    "house ad %s is no longer made (ads.house_count); `rig ads remove %s`",
                    ad.id,
                    ad.id,
                )
            continue
        source = Path(ad.source)
        if not source.is_file():
            log.warning(
                "ad %s: its source %s is gone; it cannot be conditioned for ladders %s",
                ad.id,
                source,
                [c.key for c in missing],
            )
            continue
        registered = {r.extra.get("source_sha256") for _, made in known for r in made} - {None}
        if registered and registered != {await asyncio.to_thread(file_sha256, source)}:
            log.warning(
                "ad %s: %s changed since it was added; re-add it with `rig ads add --replace`",
                ad.id,
                source,
            )
            continue
        slate = slate or await _slate_file(settings, on_progress)
        known = [
            (c, sorted(made, key=lambda r: [rung.name for rung in c.ladder].index(r.rendition)))
            for c, made in known
        ]
        renditions = await _condition_all(
            source, ad.id, missing, settings, slate, on_progress, known=known
        )
        await asyncio.to_thread(_store, catalog, ad, renditions, False)
        changed.append(ad.id)
    return changed


__all__ = [
    "AdError", "CreativeRecipe", "house_recipes", "slate_recipe", "creative_argv", "render_creative",
    "register_ad", "ensure_house_ads", "condition_library", "distinct_conditionings", "conditioning_for_media",
    "check_ad_id", "condition", "conditioning_argv", "probe", "MediaError", "SLATE_ID",
]  # fmt: skip
