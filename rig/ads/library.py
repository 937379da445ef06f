"""The ad library in the catalog: registering ads conditioned for every channel's ladder.

`register_ad` conditions a file for every distinct ladder among the catalog's channels, then
writes the ad and all its renditions in ONE catalog transaction (a file that is not usable media
is refused and nothing is registered); `ensure_house_ads` does the same for the house creatives
and the slate; `condition_library` conditions every registered ad for ladders it still lacks.
Side effects: runs ffmpeg, writes the media cache, reads and writes the catalog (in a thread).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from origin_emulator.ffmpeg import ProgressCallback
from origin_emulator.progress import LabelledProgress
from rig.ads.creatives import (
    SLATE_TITLE,
    house_recipes,
    render_creative,
    sized_for,
    slate_recipe,
)
from rig.ads.ladders import distinct_conditionings, interchangeable
from rig.conditioning import Probe, condition, file_sha256, probe
from rig.settings import Settings
from stitcher.catalog import Ad, AdRendition, Catalog, CatalogError, Conditioning
from stitcher.pod import SLATE_ID

log = logging.getLogger(__name__)

AD_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


class AdError(CatalogError):
    """An ad request that cannot be done (bad or taken id, missing file)."""


def check_ad_id(ad_id: str) -> None:
    if ad_id == SLATE_ID:
        raise AdError("the id 'slate' is reserved for the slate (`rig ads house` makes it)")
    if not AD_ID.fullmatch(ad_id or ""):
        raise AdError(
            f"ad id {ad_id!r}: use 1-64 lower-case letters, digits and '-'"
            " (starting with a letter or digit)"
        )


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
    """Condition for each ladder, once per group of interchangeable ladders (`known` ones
    included)."""
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


def _store(catalog: Catalog, ad: Ad, renditions: list[AdRendition], drop_other_ladders: bool) -> Ad:
    existing = catalog.find_ad(ad.id)
    if existing is not None and not ad.created_at:
        ad = replace(ad, created_at=existing.created_at)
    # one transaction: the ad with every rendition (a replaced ad loses renditions of ladders no
    # channel uses now)
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
            f"ad id {ad_id!r} is taken ({existing.title!r} from {existing.source});"
            " use --replace or another id"
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
