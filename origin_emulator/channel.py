"""One live channel of the origin: timeline + rendered loop + cues -> playlists and segments.

How and why: docs/origin.md, "`origin_emulator.channel`".
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from origin_emulator.book import SpliceBook
from origin_emulator.config import CUE_COMMANDS, CUE_FORMATS, ChannelConfig
from origin_emulator.content import ContentMedia, RenditionMedia
from origin_emulator.splices import (
    Splice,
    SpliceError,
    cue_tags,
    end_early,
    overlapping,
    plan,
    scheduled,
    visible,
)
from origin_emulator.timeline import Timeline
from stitcher.clock import Clock
from stitcher.errors import NotFound
from stitcher.playlist import (
    AttributeList,
    MasterPlaylist,
    MediaPlaylist,
    Segment,
    Variant,
    format_decimal,
    quote,
)
from stitcher.ts import rewrite

PLAYLIST_VERSION = 3


@dataclass
class LiveChannel:
    config: ChannelConfig
    content: ContentMedia
    epoch: float
    window: int
    book: SpliceBook

    @cached_property
    def timeline(self) -> Timeline:
        reference = self.content.renditions[0]
        return Timeline(
            epoch=self.epoch,
            durations=tuple(s.duration for s in reference.segments),
            first_pts=tuple(s.first_pts for s in reference.segments),
            window=self.window,
            discontinuity_every=self.config.discontinuity_every,
        )

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def source(self) -> str:
        """Where the segments come from: `loop` (the rendered loop) or `live` (an encoder)."""
        return "loop"

    def window_range(self, now: float) -> range:
        """The segments of the live window at `now` (empty before the first is published)."""
        return self.timeline.window_range(now)

    def background(self, clock: Clock, stop: asyncio.Event) -> Awaitable[None] | None:
        """Work to run while the channel is served (until `stop` is set); the loop needs none."""
        return None

    def status(self, now: float) -> dict:
        """What `/control/channels` says about the channel."""
        timeline = self.timeline
        return {
            "name": self.name,
            "source": self.source,
            "cue_format": self.config.cue_format,
            "variants": [r.rendition.name for r in self.content.renditions],
            "segment_duration": max(timeline.durations),
            "window": timeline.window,
            "last_published": self.window_range(now).stop - 1,
            "master": f"/{self.name}/master.m3u8",
        }

    def rendition(self, variant: str) -> RenditionMedia:
        try:
            return self.content.rendition(variant)
        except KeyError:
            raise NotFound(f"channel {self.name} has no variant {variant!r}") from None

    # ------------------------------------------------------------------ playlists

    def master(self) -> MasterPlaylist:
        variants = []
        for r in self.content.renditions:
            rung = r.rendition
            variants.append(
                Variant(
                    f"{rung.name}/index.m3u8",
                    AttributeList.of(
                        ("BANDWIDTH", str(r.bandwidth)),
                        ("AVERAGE-BANDWIDTH", str(r.average_bandwidth)),
                        ("RESOLUTION", f"{rung.width}x{rung.height}"),
                        ("FRAME-RATE", format_decimal(self.content.recipe.fps)),
                        ("CODECS", quote(r.codecs)),
                    ),
                )
            )
        return MasterPlaylist(tuple(variants), version=PLAYLIST_VERSION, independent_segments=True)

    def splices(
        self, now: float, since: float | None = None, until: float | None = None
    ) -> list[Splice]:
        """Every splice that can show in a window at `now` (scheduled, merged with the book); with
        `until`, also the scheduled ones announced up to then."""
        timeline = self.timeline
        window = self.window_range(now) or timeline.window_range(now)
        first_time = timeline.start(window.start) if since is None else since
        changes = {s.event_id: s for s in self.book.splices(self.name)}
        found = [
            changes.pop(s.event_id, s)
            for s in scheduled(timeline, self.config, first_time, max(now, until or now))
        ]
        found += [s for s in changes.values() if s.source == "control"]
        return sorted(found, key=lambda s: (s.start, s.event_id))

    def media(self, variant: str, now: float) -> MediaPlaylist:
        self.rendition(variant)  # 404 for an unknown variant
        timeline = self.timeline
        window = self.window_range(now)
        if not window:
            raise NotFound(
                f"channel {self.name} has no published segment yet (its timeline starts at epoch"
                f" {self.epoch})"
            )
        tags: dict[int, list] = {}
        for splice in self.splices(now):
            for n, extra in cue_tags(splice, timeline, window, now).items():
                tags.setdefault(n, []).extend(extra)
        segments = tuple(
            Segment(
                uri=f"seg_{n}.ts",
                duration=timeline.duration(n),
                duration_text=format_decimal(timeline.duration(n)),
                discontinuity=timeline.discontinuity(n),
                program_date_time=datetime.fromtimestamp(timeline.start(n), tz=UTC),
                tags=tuple(tags.get(n, ())),
            )
            for n in window
        )
        return MediaPlaylist(
            target_duration=timeline.target_duration,
            segments=segments,
            media_sequence=window.start,
            discontinuity_sequence=timeline.discontinuity_sequence(window.start),
            version=PLAYLIST_VERSION,
            independent_segments=True,
        )

    # ------------------------------------------------------------------ segments

    def check_segment(self, variant: str, n: int, now: float) -> None:
        self.rendition(variant)
        if not self.timeline.available(n, now):
            raise NotFound(f"segment {n} of {self.name}/{variant} is not available at this time")

    def segment(self, variant: str, n: int) -> bytes:
        """The bytes of live segment n: the looped segment with shifted clocks and counters."""
        rendition = self.rendition(variant)
        timeline = self.timeline
        loop, local = divmod(n, timeline.per_loop)
        loop_packets = rendition.loop_payload_packets
        counters = {pid: (loop * total) % 16 for pid, total in loop_packets.items()}
        for earlier in rendition.segments[:local]:
            for pid, count in earlier.payload_packets.items():
                counters[pid] = (counters[pid] + count) % 16
        data = rendition.path(local).read_bytes()
        return rewrite(data, timeline.pts_offset(n), counters)

    # ------------------------------------------------------------------ QA splices

    def post_splice(
        self,
        now: float,
        duration: float,
        preroll: float | None,
        fmt: str | None,
        command: str | None,
    ) -> Splice:
        fmt = fmt or self.config.cue_format
        command = command or self.config.cue_command
        if fmt not in CUE_FORMATS:
            raise SpliceError(f"format {fmt!r} is not one of {', '.join(CUE_FORMATS)}")
        if command not in CUE_COMMANDS:
            raise SpliceError(f"command {command!r} is not one of {', '.join(CUE_COMMANDS)}")
        preroll = self.config.break_preroll if preroll is None else preroll
        candidate = plan(self.timeline, now, duration, preroll, 0, fmt, command, "control")
        around = self.splices(
            now,
            since=self.timeline.start(candidate.start) - 3600,
            until=self.timeline.start(candidate.end),
        )
        clash = overlapping(candidate, around)
        if clash is not None:
            raise SpliceError(
                f"the break would overlap splice {clash.event_id} (segments"
                f" {clash.start}-{clash.stop - 1})",
                409,
            )
        splice = Splice(**{**candidate.__dict__, "event_id": self.book.allocate_id(self.name)})
        self.book.put(self.name, splice)
        self.prune(now)
        return splice

    def find(self, event_id: int, now: float) -> Splice:
        for splice in self.splices(now, since=now - 3600):
            if splice.event_id == event_id:
                return splice
        stored = self.book.get(self.name, event_id)
        if stored is None:
            raise NotFound(f"channel {self.name} has no splice {event_id}")
        return stored

    def delete_splice(self, event_id: int, now: float) -> Splice:
        """Return to network early (active splice) or cancel (pending splice)."""
        changed = end_early(self.find(event_id, now), self.timeline, now)
        if (
            changed.source == "control"
            and changed.cancelled is not None
            and not visible(changed, self.timeline, now)
        ):
            self.book.remove(self.name, event_id)  # nothing was published: forget it entirely
        else:
            self.book.put(self.name, changed)  # published, or scheduled (must stay off)
        return changed

    def prune(self, now: float) -> None:
        horizon = self.timeline.start(self.timeline.window_range(now).start) - 60
        self.book.prune(self.name, lambda s: self.timeline.end(max(s.end, s.stop)) > horizon)
