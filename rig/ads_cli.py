"""`rig ads add|list|remove|house`: the ad library in the channel database.

Side effects: runs ffmpeg, writes the media cache and the catalog.
How and why: docs/rig.md, "`rig.ads_cli`".
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

from origin_emulator.progress import progress_printer
from rig.ads import distinct_conditionings, ensure_house_ads, register_ad
from rig.channels import catalog_path
from rig.settings import Settings
from stitcher.catalog import Catalog, CatalogError
from stitcher.pod import SLATE_ID


def add_arguments(
    subparsers: argparse._SubParsersAction,
    common: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """The `ads` command and its actions; `common` adds the shared options (--config,
    --state-dir)."""
    ads = subparsers.add_parser(
        "ads",
        help="manage the ad library (conditioned ads and slate)",
        description="Add creatives to the ad library (each is conditioned "
        "with ffmpeg to every channel's ladder, segment "
        "duration, frame rate and audio layout), list and "
        "remove them, and make the house ads and the slate.",
    )
    sub = ads.add_subparsers(dest="ads_command", required=True, metavar="ACTION")
    add = sub.add_parser(
        "add",
        help="condition a video file for every channel and add it to the library",
        description="Read FILE with ffmpeg, transcode it to every rung of every "
        "channel's ladder as HLS VOD with segments of exactly the "
        "channel's segment duration (the last padded with slate, "
        "audio aligned to the picture), and register it. A file "
        "ffmpeg cannot use is refused and nothing is registered.",
    )
    add.add_argument(
        "file",
        metavar="FILE",
        help="the creative: any video file ffmpeg reads (with or without sound)",
    )
    add.add_argument(
        "--id",
        required=True,
        dest="ad_id",
        metavar="ID",
        help="ad id: lower-case letters, digits and '-' (not 'slate')",
    )
    add.add_argument("--title", help="a human title (default: the id)")
    add.add_argument(
        "--replace",
        action="store_true",
        help="replace an ad with the same id (re-conditions if the file changed)",
    )
    listing = sub.add_parser("list", help="list the ads in the library",
                             description="List every ad: id, creative duration, status, source and "
                                         "the channel ladders it is conditioned for.")  # fmt: skip
    remove = sub.add_parser(
        "remove",
        help="remove an ad from the library",
        description="Remove an ad and its renditions from the catalog. Its "
        "conditioned files stay in the media cache (players in a "
        "break may still fetch them); new breaks no longer use it.",
    )
    remove.add_argument("ad_id", metavar="ID", help="the ad id")
    house = sub.add_parser("house", help="render and condition the house ads and the slate",
                           description="Render the house creatives (10/15/20/30 s, each with its "
                                       "own colour, title, countdown and tone) and the slate, "
                                       "condition them for every channel's ladder and register "
                                       "them. Cached: cheap when nothing changed.")  # fmt: skip
    for parser in (add, listing, remove, house):
        if common is not None:
            common(parser)


def _list(catalog: Catalog) -> int:
    ads = catalog.ads()
    conditionings = distinct_conditionings(catalog.channels())
    channels_by_key: dict[str, list[str]] = {}
    for channel in catalog.channels():
        channels_by_key.setdefault(channel.conditioning.key, []).append(channel.slug)
    if not ads:
        print(
            "no ads (rig ads house makes the house ads and slate; rig ads add FILE --id ID adds "
            "one)"
        )
    for ad in ads:
        ready_for = [
            ", ".join(channels_by_key[c.key])
            for c in conditionings
            if catalog.ad_renditions(c.key, ad.id)
        ]
        missing = [
            ", ".join(channels_by_key[c.key])
            for c in conditionings
            if not catalog.ad_renditions(c.key, ad.id)
        ]
        where = f"channels: {'; '.join(ready_for) or 'none'}" + (
            f" (not yet: {'; '.join(missing)})" if missing else ""
        )
        print(
            f"{ad.id:<12} {ad.duration:6.2f} s  {ad.status:<6} {ad.title!r:<32} {where}  source: "
            f"{ad.source}"
        )
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run one `rig ads` action. Errors (AdError, CatalogError, MediaError) propagate to `rig`'s
    main."""
    catalog = Catalog(catalog_path(settings))
    report = progress_printer()
    try:
        if args.ads_command == "list":
            return _list(catalog)
        if args.ads_command == "add":
            ad = asyncio.run(
                register_ad(
                    catalog,
                    args.file,
                    args.ad_id,
                    args.title,
                    settings,
                    report,
                    replace=args.replace,
                )
            )
            keys = {
                r.ladder_key
                for c in distinct_conditionings(catalog.channels())
                for r in catalog.ad_renditions(c.key, ad.id)
            }
            print(f"added {ad.id}: {ad.duration:.2f} s, conditioned for {len(keys)} ladder(s)")
            for key in sorted(keys):
                for rendition in catalog.ad_renditions(key, ad.id):
                    print(
                        f"  {rendition.rendition:<8} {rendition.duration:g} s  "
                        f"{settings.ads.base_url}{rendition.path}"
                    )
            return 0
        if args.ads_command == "remove":
            if args.ad_id == SLATE_ID:
                raise CatalogError(
                    "the slate fills what ads leave of every break; it cannot be removed (`rig ads "
                    "house` re-makes it)"
                )
            catalog.remove_ad(args.ad_id)
            print(f"removed {args.ad_id} (its files stay in the media cache)")
            return 0
        if args.ads_command == "house":
            registered = asyncio.run(ensure_house_ads(catalog, settings, report))
            if not catalog.channels():
                print("no channels in the catalog yet (rig up seeds the emulator's; rig channels "
                      "add adds any other): "
                      "creatives are rendered, conditioning happens once there are channels (run "
                      "rig ads house again)")  # fmt: skip
            for ad in registered:
                print(f"  {ad.id:<10} {ad.duration:g} s  {ad.title}")
            return 0
    finally:
        catalog.close()
    return 2
