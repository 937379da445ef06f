"""The small pure pieces of serving a channel in a mode: passthrough, master rewriting, degraded
views.

Side effects: none.
How and why: docs/stitcher.md, "`stitcher.modes`".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from urllib.parse import urljoin

from stitcher.breaks import BreakRecord, Ledger
from stitcher.catalog import Rung
from stitcher.playlist import AttributeList, MasterPlaylist, MediaPlaylist, Tag, quote


def passthrough(origin: MediaPlaylist, origin_url: str) -> MediaPlaylist:
    """The origin playlist as it is, its segment URIs made absolute."""
    return replace(
        origin, segments=tuple(replace(s, uri=urljoin(origin_url, s.uri)) for s in origin.segments)
    )


def rung_for(uri: str, origin_url: str, ladder: Sequence[Rung]) -> Rung | None:
    """The ladder rung whose origin variant URI is `uri` (compared after resolving both)."""
    wanted = urljoin(origin_url, uri)
    for rung in ladder:
        if rung.uri and urljoin(origin_url, rung.uri) == wanted:
            return rung
    return None


def _absolute_uri_attribute(tag: Tag, origin_url: str) -> Tag:
    if tag.value is None or "URI=" not in tag.value:
        return tag
    attributes = tag.attributes()
    items = tuple(
        (k, quote(urljoin(origin_url, attributes.text(k) or "")) if k == "URI" else v)
        for k, v in attributes.items
    )
    return Tag(tag.name, AttributeList(items).render())


def rewrite_master(
    master: MasterPlaylist, origin_url: str, ladder: Sequence[Rung], query: str = ""
) -> MasterPlaylist:
    """Variants point at this stitcher's `{rung}.m3u8` in the same mode (see the module docstring);
    `query` (e.g. `session=abc`, already encoded) is carried on to every variant URI."""
    variants = []
    for variant in master.variants:
        rung = rung_for(variant.uri, origin_url, ladder)
        if rung is not None:
            variants.append(variant.with_uri(f"{rung.name}.m3u8" + (f"?{query}" if query else "")))
    return replace(
        master,
        variants=tuple(variants),
        tags=tuple(_absolute_uri_attribute(t, origin_url) for t in master.tags),
    )


@dataclass(frozen=True)
class BreakView:
    """A channel's break records and ledger as read together (see `stitcher.breaks`)."""

    records: tuple[BreakRecord, ...] = ()
    ledger: Ledger = Ledger()


def degrade(view: BreakView, cutoff: float) -> BreakView:
    """The view without the breaks whose first slot is at or after `cutoff` (records and ledger
    alike)."""
    kept = tuple(r for r in view.records if r.ad_start < cutoff)
    dropped = {k: v for k, v in view.ledger.breaks.items() if v["start"] >= cutoff}
    if not dropped and len(kept) == len(view.records):
        return view
    removed = sum(len(v["points"]) for v in dropped.values())
    breaks = {k: v for k, v in view.ledger.breaks.items() if k not in dropped}
    return BreakView(kept, Ledger(view.ledger.total - removed, view.ledger.version, breaks))
