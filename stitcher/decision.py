"""Ad decisions: which conditioned ads fill a break (`POST /decision`, and the monitor).

Side effects: `HouseDecisions` reads the catalog (in a thread); `choose` and friends are pure.
How and why: docs/stitcher.md, "`stitcher.decision`".
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from collections.abc import Sequence
from typing import Protocol

from stitcher.catalog import AdRendition, Catalog, Channel, Rung
from stitcher.errors import RigError
from stitcher.pod import SLATE_ID, Creative, Pod, PodItem, nearest, slot_count

log = logging.getLogger(__name__)


class DecisionError(RigError):
    """A decision that cannot be made (no slate for the channel's ladder, impossible duration)."""

    status = 503


class DecisionSource(Protocol):
    async def decide(self, channel: Channel, duration: float, break_id: str) -> Pod:
        """The pod for break `break_id` of `duration` seconds on `channel`."""


# --------------------------------------------------------------------------- the pure core


def rotation(break_id: str, count: int) -> int:
    """Where in the library a break starts: successive numeric ids rotate one by one."""
    if count == 0:
        return 0
    number = (
        int(break_id)
        if break_id.isascii() and break_id.isdecimal()
        else int(hashlib.sha256(break_id.encode()).hexdigest()[:12], 16)
    )
    return number % count


def choose(
    creatives: Sequence[Creative], duration: float, break_id: str, unit: float = 1.0
) -> list[Creative]:
    """The ads for a break: the most whole ads that fit, then the most time filled, none twice.

    Among equally good pods the one whose ads come first from the break's rotation point wins,
    so successive breaks open with different creatives. Durations are counted in `unit`s (the
    channel's segment duration: conditioned ads are whole segments). A small knapsack: the
    library is tens of ads, a break at most an hour.
    """
    library = sorted(creatives, key=lambda c: c.id)
    start = rotation(break_id, len(library))
    ordered = library[start:] + library[:start]
    capacity = slot_count(duration, unit)
    weights = [math.ceil(c.duration / unit - 1e-6) for c in ordered]
    # best[c]: (ads, units filled, picked indices) using the items after i, within capacity c
    best: list[tuple[int, int, tuple[int, ...]]] = [(0, 0, ())] * (capacity + 1)
    for i in range(len(ordered) - 1, -1, -1):
        weight, updated = weights[i], list(best)
        for c in range(weight, capacity + 1):
            count, filled, picked = best[c - weight]
            candidate = (count + 1, filled + weight, (i, *picked))
            if candidate[:2] >= updated[c][:2]:  # ties: take the item earlier in the rotation
                updated[c] = candidate
        best = updated
    return [ordered[i] for i in best[capacity][2]]


def map_variants(
    ladder: Sequence[Rung], renditions: Sequence[AdRendition], base_url: str
) -> tuple[tuple[int, str], ...]:
    """For each rung of the channel, the ad rendition of the same name, else the nearest by
    bandwidth."""
    if not renditions:
        raise DecisionError("an ad without renditions cannot be placed")
    by_name = {r.rendition: r for r in renditions}
    mapped = []
    for rung in ladder:
        chosen = by_name.get(rung.name) or nearest(
            rung.bandwidth, renditions, lambda r: r.bandwidth
        )
        mapped.append((rung.bandwidth, base_url.rstrip("/") + chosen.path))
    return tuple(mapped)


def build_pod(
    channel: Channel,
    duration: float,
    break_id: str,
    creatives: Sequence[Creative],
    slate: Sequence[AdRendition],
    base_url: str,
) -> Pod:
    """The pod for the break's slots (`slot_count`): chosen ads, then slate for whatever is left (in
    as many items as the slate's length needs)."""
    if not (duration > 0 and math.isfinite(duration)):
        raise DecisionError(f"a break of {duration!r} seconds cannot be filled")
    if not slate:
        raise DecisionError(
            f"no conditioned slate for channel {channel.slug} (ladder {channel.conditioning.key});"
            " run `rig ads house`"
        )
    unit = channel.segment_duration
    chosen = choose(creatives, duration, break_id, unit)
    items = [
        PodItem(c.id, "ad", c.duration, map_variants(channel.ladder, c.renditions, base_url))
        for c in chosen
    ]
    left = round(slot_count(duration, unit) * unit - sum(item.duration for item in items), 6)
    # slate for the rest, in items no longer than the slate itself: each begins with a splice, so
    # the slate's timestamps never run back inside one timeline where it would have to repeat
    longest = min(r.duration for r in slate)
    slate_variants = map_variants(channel.ladder, slate, base_url)
    while left > 1e-6:
        part = min(left, longest)
        items.append(PodItem(SLATE_ID, "slate", round(part, 6), slate_variants))
        left = round(left - part, 6)
    return Pod(f"{channel.slug}-{break_id}", tuple(items))


# --------------------------------------------------------------------------- sources


def library(catalog: Catalog, channel: Channel) -> tuple[list[Creative], list[AdRendition]]:
    """The ready ads and the slate conditioned for the channel's ladder."""
    key = channel.conditioning.key
    renditions = catalog.ad_renditions(key)
    ready = {ad.id for ad in catalog.ads(status="ready")}
    grouped: dict[str, list[AdRendition]] = {}
    slate = []
    for rendition in renditions:
        if rendition.ad_id == SLATE_ID:
            slate.append(rendition)
        elif rendition.ad_id in ready:
            grouped.setdefault(rendition.ad_id, []).append(rendition)
    creatives = [
        Creative(ad_id, max(r.duration for r in rs), tuple(rs)) for ad_id, rs in grouped.items()
    ]
    return creatives, slate


class HouseDecisions:
    """Decisions from the house library in the catalog (the default, and every fallback's)."""

    def __init__(self, catalog: Catalog, base_url: str):
        self.catalog = catalog
        self.base_url = base_url

    async def decide(self, channel: Channel, duration: float, break_id: str) -> Pod:
        creatives, slate = await asyncio.to_thread(library, self.catalog, channel)
        return build_pod(channel, duration, break_id, creatives, slate, self.base_url)


class FallbackDecisions:
    """Ask `primary` (e.g. a remote ad server) with a timeout; on timeout or error use
    `fallback`."""

    def __init__(self, primary: DecisionSource, fallback: DecisionSource, timeout: float = 0.5):
        self.primary = primary
        self.fallback = fallback
        self.timeout = timeout
        self.fallbacks = 0

    async def decide(self, channel: Channel, duration: float, break_id: str) -> Pod:
        try:
            return await asyncio.wait_for(
                self.primary.decide(channel, duration, break_id), self.timeout
            )
        except (
            Exception
        ) as exc:  # a remote ad server may fail in any way; the break must still be filled
            self.fallbacks += 1
            log.warning(
                "ad decision for %s break %s fell back to the house library: %s",
                channel.slug,
                break_id,
                exc.__class__.__name__ if isinstance(exc, asyncio.TimeoutError) else exc,
            )
            return await self.fallback.decide(channel, duration, break_id)


class RemoteDecisions:
    """A remote decision server that answers `POST {url}` with pod JSON (outside the project).

    It speaks this project's own `/decision` protocol; a VAST client would sit behind the same
    `decide` interface. Always wrap it in `FallbackDecisions`.
    """

    def __init__(self, url: str, session) -> None:
        self.url = url
        self.session = session

    async def decide(self, channel: Channel, duration: float, break_id: str) -> Pod:
        body = {"channel": channel.slug, "duration": duration, "breakId": break_id}
        async with self.session.post(self.url, json=body) as response:
            if response.status != 200:
                raise DecisionError(f"ad server {self.url} answered HTTP {response.status}")
            try:
                pod = Pod.from_json(await response.json(content_type=None))
            except (KeyError, TypeError, ValueError) as exc:
                raise DecisionError(f"ad server {self.url} sent an unusable pod: {exc}") from None
        if pod.duration > duration + 1e-6 or any(
            len(item.variants) != len(channel.ladder) for item in pod.items
        ):
            raise DecisionError(
                f"ad server {self.url} sent a pod that does not fit the break or the ladder"
            )
        return pod
