"""`rig channels add|list|remove`, and seeding the channel database from the shipped config.

The emulator's channels are written to the catalog from their rendered media (no probe
needed); any other live HLS origin is added with `rig channels add NAME --origin-url URL`,
which probes it for the ladder, frame rate, audio layout and segment duration ads are
conditioned to.

Side effects: reads and writes `<state_dir>/channels.db`; HTTP GETs to the origin (add).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import replace
from pathlib import Path

from origin_emulator.config import ChannelConfig
from origin_emulator.content import ContentMedia, ContentRecipe
from origin_emulator.interleave import decode_delay, nominal_offset
from rig.settings import Settings
from stitcher.catalog import MODES, Catalog, CatalogError, Channel, Rung
from stitcher.probe import ProbeError, in_place_warning, probe
from stitcher.ts import CLOCK


def catalog_path(settings: Settings) -> Path:
    return settings.state_dir / "channels.db"


def emulator_channel(config: ChannelConfig, content: ContentMedia, settings: Settings) -> Channel:
    """The catalog entry of an origin-emulator channel, described from its rendered media."""
    origin = settings.origin
    recipe = content.recipe
    ladder = tuple(
        Rung(
            name=r.rendition.name,
            bandwidth=r.bandwidth,
            width=r.rendition.width,
            height=r.rendition.height,
            codecs=r.codecs,
            frame_rate=float(recipe.fps),
            uri=f"{r.rendition.name}/index.m3u8",
        )
        for r in content.renditions
    )
    return Channel(
        slug=config.name,
        origin_url=f"http://{origin.host}:{origin.port}/{config.name}/master.m3u8",
        ladder=ladder,
        segment_duration=recipe.segment_seconds,
        cue_formats=(config.cue_format,),
        audio_rate=recipe.audio_rate,
        audio_channels=2,
        window_seconds=settings.origin.window_segments * recipe.segment_seconds,
        audio_offset=live_audio_offset(recipe) if settings.origin.live else content.audio_offset,
    )


def in_place_warnings(settings: Settings, contents: dict[str, ContentMedia]) -> list[str]:
    """`stitcher.probe.in_place_warning` for each emulator channel, from the boundaries of its
    rendered loop (or the live encoder's computed interleave): printed by `rig up`."""
    said = []
    for name, content in contents.items():
        recipe = content.recipe
        if settings.origin.live:
            offsets = (live_audio_offset(recipe),)
        else:
            offsets = tuple(s.audio_offset / CLOCK for r in content.renditions for s in r.segments)
        warning = in_place_warning(recipe.segment_seconds, recipe.audio_rate, offsets)
        if warning:
            said.append(f"{name}: {warning}")
    return said


def live_audio_offset(recipe: ContentRecipe) -> float:
    """The interleave of the live encoder (`origin.live`): x264's zero-latency tuning has no
    B-frames unless `media.b_frames` asks for them, so its sound is cut at a different point
    than the loop's (`origin_emulator.interleave`)."""
    delay = 0 if recipe.b_frames < 0 else decode_delay(recipe.preset, recipe.b_frames)
    return round(nominal_offset(delay, recipe.audio_rate, recipe.frame_rate), 5)


def seed(catalog: Catalog, settings: Settings, contents: dict[str, ContentMedia]) -> list[Channel]:
    """Write (or refresh) the emulator's channels in the catalog; other channels are left alone."""
    seeded = []
    for name, content in contents.items():
        channel = emulator_channel(settings.channel(name), content, settings)
        existing = catalog.find_channel(name)
        if existing is not None:  # keep what the user chose for it
            channel = replace(
                channel,
                status=existing.status,
                default_mode=existing.default_mode,
                scte35_enabled=existing.scte35_enabled,
            )
        seeded.append(catalog.put_channel(channel))
    return seeded


# --------------------------------------------------------------------------- CLI


def add_arguments(subparsers: argparse._SubParsersAction, common) -> None:
    channels = subparsers.add_parser(
        "channels",
        help="manage the channels the stitcher serves",
        description="List, add (any live HLS origin, probed) and remove channels in the channel "
        "database.",
    )
    sub = channels.add_subparsers(dest="channels_command", required=True, metavar="ACTION")
    listing = sub.add_parser(
        "list", help="list channels", description="List the channels in the channel database."
    )
    common(listing)
    add = sub.add_parser(
        "add",
        help="add a channel from any live HLS origin (probed)",
        description="Probe a live HLS origin (master playlist URL) for its ladder, frame rate, "
        "audio layout and segment duration, and add it as a channel.",
    )
    add.add_argument("name", help="channel id (lower-case letters, digits, '-')")
    add.add_argument("--origin-url", required=True, help="the origin's master playlist URL")
    add.add_argument("--mode", choices=MODES, default="ssai", help="default mode (default: ssai)")
    add.add_argument(
        "--no-scte35", action="store_true", help="do not detect SCTE-35 cues on this channel"
    )
    add.add_argument("--replace", action="store_true", help="replace a channel of the same name")
    add.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for the origin (default 10)"
    )
    common(add)
    remove = sub.add_parser(
        "remove", help="remove a channel", description="Remove a channel from the channel database."
    )
    remove.add_argument("name", help="channel id")
    common(remove)


def run(args: argparse.Namespace, settings: Settings) -> int:
    catalog = Catalog(catalog_path(settings))
    try:
        if args.channels_command == "list":
            channels = catalog.channels()
            if not channels:
                print(
                    "no channels (rig up seeds the emulator's channels; rig channels add adds any "
                    "other)"
                )
            for c in channels:
                ladder = ", ".join(
                    f"{r.name} {r.width}x{r.height} {r.bandwidth // 1000}k" for r in c.ladder
                )
                print(
                    f"{c.slug:<10} {c.status:<7} {c.default_mode:<11} {c.segment_duration:g}s  "
                    f"{c.frame_rate:g}fps  "
                    f"{c.audio_rate}Hz/{c.audio_channels}ch  interleave "
                    f"{c.audio_offset * 1000:+.1f}ms  [{ladder}]  {c.origin_url}"
                )
            return 0
        if args.channels_command == "add":
            try:
                result = asyncio.run(probe(args.origin_url, timeout=args.timeout))
            except ProbeError as exc:
                raise CatalogError(f"cannot add {args.name}: {exc}") from None
            channel = result.channel(
                args.name,
                default_mode=args.mode,
                scte35_enabled=not args.no_scte35,
                **({"cue_formats": result.cue_formats_seen} if result.cue_formats_seen else {}),
            )
            stored = catalog.put_channel(channel, replace_existing=args.replace)
            print(
                f"added {stored.slug}: {len(stored.ladder)} variants, {stored.segment_duration:g} "
                "s segments, "
                f"{stored.frame_rate:g} fps, {stored.audio_rate} Hz/{stored.audio_channels} ch, "
                f"interleave {stored.audio_offset * 1000:+.1f} ms (sound against picture at "
                "segment boundaries)"
                + (
                    f", cues seen: {', '.join(result.cue_formats_seen)}"
                    if result.cue_formats_seen
                    else ""
                )
            )
            for warning in result.warnings():
                print(f"warning: {stored.slug}: {warning}", file=sys.stderr)
            return 0
        if args.channels_command == "remove":
            catalog.remove_channel(args.name)
            print(f"removed {args.name}")
            return 0
    finally:
        catalog.close()
    return 2
