"""Segments and playlists (media and multivariant), each rendering itself back to text.

A segment keeps its raw EXTINF number and every other tag line before it in order; PROGRAM-DATE-TIME
is parsed. `MediaPlaylist.segment_times` is the one timeline rule of the project.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlsplit

from stitcher.playlist.values import (
    AttributeList,
    DateRange,
    PlaylistError,
    Tag,
    format_datetime,
    format_decimal,
)

# Tags that carry ad-break cues in live playlists (docs/references.md F1-F5).
CUE_TAGS = frozenset(
    {
        "EXT-X-DATERANGE",
        "EXT-X-CUE-OUT",
        "EXT-X-CUE-OUT-CONT",
        "EXT-X-CUE-IN",
        "EXT-OATCLS-SCTE35",
        "EXT-X-SCTE35",
        "EXT-X-SPLICEPOINT-SCTE35",
    }
)


# Tags that belong to media playlists only (a master playlist carrying one breaks M1).
MEDIA_TAGS = CUE_TAGS | frozenset(
    {
        "EXTINF",
        "EXT-X-TARGETDURATION",
        "EXT-X-MEDIA-SEQUENCE",
        "EXT-X-DISCONTINUITY-SEQUENCE",
        "EXT-X-DISCONTINUITY",
        "EXT-X-PROGRAM-DATE-TIME",
        "EXT-X-ENDLIST",
        "EXT-X-PLAYLIST-TYPE",
        "EXT-X-BYTERANGE",
        "EXT-X-MAP",
    }
)


def segment_kind(uri: str) -> tuple[str, str | None]:
    """('content'|'ad'|'slate', ad id or None) of a segment URI, by the HTTP contract: ad segment
    URIs contain `/ads/<ad id>/`, slate ones `/slate/` (the slate kept among the ads, `/ads/slate/`,
    too)."""
    parts = urlsplit(uri).path.split("/")[:-1]
    if "slate" in parts:
        return "slate", None
    if "ads" in parts:
        index = parts.index("ads")
        return "ad", parts[index + 1] if index + 1 < len(parts) else None
    return "content", None


@dataclass(frozen=True)
class Segment:
    """A media segment with the tags that precede its URI.

    `tags` holds, in order, every tag before the URI other than EXTINF, DISCONTINUITY and
    PROGRAM-DATE-TIME (DATERANGE, CUE-OUT, EXT-X-SCTE35, EXT-X-BYTERANGE, ...).

    `discontinuity` is the number of EXT-X-DISCONTINUITY tags before the segment (0: none). RFC 8216
    §6.2.2 numbers segments by counting the tags (R7), so two tags in a row advance the
    discontinuity sequence number by two; hls.js does the same (its m3u8 parser increments `cc` per
    tag). A stitcher splicing on an origin discontinuity writes the origin's tag and its own. A bool
    still works (True == 1).
    """

    uri: str
    duration: float
    duration_text: str | None = None
    title: str = ""
    discontinuity: int = 0
    program_date_time: datetime | None = None
    tags: tuple[Tag, ...] = ()

    @property
    def extinf(self) -> str:
        return (
            self.duration_text if self.duration_text is not None else format_decimal(self.duration)
        )

    @property
    def dateranges(self) -> tuple[DateRange, ...]:
        return _dateranges(self.tags)

    def tag_values(self, name: str) -> list[str | None]:
        return [t.value for t in self.tags if t.name == name]

    def has_tag(self, name: str) -> bool:
        return any(t.name == name for t in self.tags)


@dataclass(frozen=True)
class MediaPlaylist:
    """A media playlist. `trailing_tags` are tags after the last URI (e.g. a DATERANGE announced
    early)."""

    target_duration: int
    segments: tuple[Segment, ...] = ()
    media_sequence: int = 0
    discontinuity_sequence: int = 0
    version: int | None = None
    playlist_type: str | None = None
    endlist: bool = False
    independent_segments: bool = False
    header_tags: tuple[Tag, ...] = ()
    trailing_tags: tuple[Tag, ...] = ()
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.segments)

    def numbered(self) -> Iterator[tuple[int, int, Segment]]:
        """(media sequence number, discontinuity sequence number, segment) for each segment (R7: the
        DISCONTINUITY-SEQUENCE plus every EXT-X-DISCONTINUITY tag up to and including the
        segment's)."""
        disc = self.discontinuity_sequence
        for index, segment in enumerate(self.segments):
            disc += int(segment.discontinuity)
            yield self.media_sequence + index, disc, segment

    def segment_times(self) -> list[float] | None:
        """When each segment starts (epoch seconds): the one timeline rule of the project.

        A segment's own PROGRAM-DATE-TIME, else the previous segment's time plus its EXTINF (across
        a discontinuity too: the date runs on); segments before the first dated one count back from
        it by their own EXTINFs. None when no segment is dated (nothing can be placed in time).
        hls.js dates fragments the same way (its playlist parser carries dates forward from the
        previous fragment's end and back-fills those before the first dated one)."""
        first = next(
            (i for i, s in enumerate(self.segments) if s.program_date_time is not None), None
        )
        if first is None:
            return None
        times = [0.0] * len(self.segments)
        anchor = self.segments[first].program_date_time
        assert anchor is not None
        times[first] = anchor.timestamp()
        for i in range(first - 1, -1, -1):
            times[i] = times[i + 1] - self.segments[i].duration
        for i in range(first + 1, len(self.segments)):
            own = self.segments[i].program_date_time
            previous = self.segments[i - 1]
            times[i] = own.timestamp() if own is not None else times[i - 1] + previous.duration
        return times

    def newest_end(self) -> float | None:
        """Where the window's last segment ends (epoch seconds, by `segment_times`): when a live
        origin published it. None without segments or dates."""
        times = self.segment_times() if self.segments else None
        return None if times is None else times[-1] + self.segments[-1].duration

    @property
    def dateranges(self) -> tuple[DateRange, ...]:
        found = [d for s in self.segments for d in s.dateranges]
        found += _dateranges(self.trailing_tags)
        return tuple(found)

    def render(self) -> str:
        lines = ["#EXTM3U"]
        if self.version is not None:
            lines.append(f"#EXT-X-VERSION:{self.version}")
        lines.append(f"#EXT-X-TARGETDURATION:{self.target_duration}")
        lines.append(f"#EXT-X-MEDIA-SEQUENCE:{self.media_sequence}")
        if self.discontinuity_sequence:
            lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{self.discontinuity_sequence}")
        if self.playlist_type:
            lines.append(f"#EXT-X-PLAYLIST-TYPE:{self.playlist_type}")
        if self.independent_segments:
            lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
        lines.extend(t.render() for t in self.header_tags)
        for segment in self.segments:
            lines.extend("#EXT-X-DISCONTINUITY" for _ in range(int(segment.discontinuity)))
            if segment.program_date_time is not None:
                lines.append(
                    f"#EXT-X-PROGRAM-DATE-TIME:{format_datetime(segment.program_date_time)}"
                )
            lines.extend(t.render() for t in segment.tags)
            lines.append(f"#EXTINF:{segment.extinf},{segment.title}")
            lines.append(segment.uri)
        lines.extend(t.render() for t in self.trailing_tags)
        if self.endlist:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Variant:
    """An EXT-X-STREAM-INF entry."""

    uri: str
    attributes: AttributeList

    @property
    def bandwidth(self) -> int:
        value = self.attributes.number("BANDWIDTH")
        if value is None:
            raise PlaylistError(f"variant {self.uri} has no BANDWIDTH")
        return int(value)

    @property
    def resolution(self) -> tuple[int, int] | None:
        text = self.attributes.text("RESOLUTION")
        if not text:
            return None
        w, _, h = text.lower().partition("x")
        return int(w), int(h)

    @property
    def codecs(self) -> str | None:
        return self.attributes.text("CODECS")

    def with_uri(self, uri: str) -> Variant:
        return replace(self, uri=uri)


@dataclass(frozen=True)
class MasterPlaylist:
    variants: tuple[Variant, ...]
    version: int | None = None
    independent_segments: bool = False
    tags: tuple[Tag, ...] = ()  # other tags (EXT-X-MEDIA, EXT-X-SESSION-DATA, ...)
    notes: tuple[str, ...] = field(default=(), compare=False)

    def render(self) -> str:
        lines = ["#EXTM3U"]
        if self.version is not None:
            lines.append(f"#EXT-X-VERSION:{self.version}")
        if self.independent_segments:
            lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
        lines.extend(t.render() for t in self.tags)
        for variant in self.variants:
            lines.append(f"#EXT-X-STREAM-INF:{variant.attributes.render()}")
            lines.append(variant.uri)
        return "\n".join(lines) + "\n"


def _dateranges(tags: Sequence[Tag]) -> tuple[DateRange, ...]:
    """The readable EXT-X-DATERANGE tags among `tags` (the parser notes the others)."""
    found = (DateRange.read(t) for t in tags if t.name == "EXT-X-DATERANGE")
    return tuple(d for d in found if d is not None)
