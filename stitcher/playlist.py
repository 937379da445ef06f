"""A typed HLS playlist model: parse text into frozen dataclasses, render them back.

Every component that reads or writes playlists (origin emulator, stitcher, validator, monitor)
goes through this module; nobody edits playlist text with regular expressions.

The model keeps what the timeline rules need verbatim: the raw EXTINF number, every other tag
line before a segment in its original order (PROGRAM-DATE-TIME is parsed to a datetime and
rendered at millisecond precision), and the raw attribute values of attribute lists (so
`DURATION=30` and `DURATION=30.0` stay different).
Parsing is strict about structure (a clear `PlaylistError` with the line number) and records
legal-but-suspicious layouts as `notes` for the validator.

Side effects: none. Pure functions over strings and values.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from stitcher.errors import RigError

__all__ = [
    "PlaylistError",
    "Tag",
    "AttributeList",
    "DateRange",
    "Segment",
    "MediaPlaylist",
    "Variant",
    "MasterPlaylist",
    "parse_playlist",
    "parse_media_playlist",
    "parse_master_playlist",
    "parse_attribute_list",
    "parse_datetime",
    "format_datetime",
    "format_decimal",
    "segment_kind",
    "MEDIA_TAGS",
    "CUE_TAGS",
]

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
_MASTER_TAGS = frozenset(
    {
        "EXT-X-STREAM-INF",
        "EXT-X-I-FRAME-STREAM-INF",
        "EXT-X-MEDIA",
        "EXT-X-SESSION-DATA",
        "EXT-X-SESSION-KEY",
        "EXT-X-CONTENT-STEERING",
    }
)
_HEADER_TAGS = frozenset(
    {
        "EXTM3U",
        "EXT-X-VERSION",
        "EXT-X-TARGETDURATION",
        "EXT-X-MEDIA-SEQUENCE",
        "EXT-X-DISCONTINUITY-SEQUENCE",
        "EXT-X-PLAYLIST-TYPE",
        "EXT-X-INDEPENDENT-SEGMENTS",
        "EXT-X-ENDLIST",
        "EXT-X-START",
        "EXT-X-SERVER-CONTROL",
        "EXT-X-PART-INF",
        "EXT-X-ALLOW-CACHE",
        "EXT-X-I-FRAMES-ONLY",
    }
)


def segment_kind(uri: str) -> tuple[str, str | None]:
    """('content'|'ad'|'slate', ad id or None) of a segment URI, by the HTTP contract: ad segment
    URIs contain `/ads/<ad id>/`, slate ones `/slate/` (the slate kept among the ads, `/ads/slate/`, too)."""
    parts = urlsplit(uri).path.split("/")[:-1]
    if "slate" in parts:
        return "slate", None
    if "ads" in parts:
        index = parts.index("ads")
        return "ad", parts[index + 1] if index + 1 < len(parts) else None
    return "content", None


class PlaylistError(RigError, ValueError):
    """A playlist that cannot be read: says what is wrong and on which line."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message)


# --------------------------------------------------------------------------- values


def parse_datetime(text: str) -> datetime:
    """ISO 8601 date-time with a time zone (as PROGRAM-DATE-TIME and DATERANGE use) -> aware datetime."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise PlaylistError(f"bad date-time {text!r}") from exc
    if value.tzinfo is None:
        raise PlaylistError(f"date-time without a time zone: {text!r}")
    return value.astimezone(UTC)


def format_datetime(value: datetime | float) -> str:
    """Render a date-time (or epoch seconds) as `2026-01-01T00:00:02.000Z` (millisecond precision)."""
    seconds = value.timestamp() if isinstance(value, datetime) else float(value)
    millis = round(seconds * 1000)
    whole = datetime.fromtimestamp(millis // 1000, tz=UTC)
    return whole.strftime("%Y-%m-%dT%H:%M:%S") + f".{millis % 1000:03d}Z"


def format_decimal(value: float, places: int = 3) -> str:
    """A decimal-floating-point with a fixed number of places (`2.000`): stable text for stable tags."""
    return f"{value:.{places}f}"


# --------------------------------------------------------------------------- attribute lists


@dataclass(frozen=True)
class AttributeList:
    """An attribute list with its raw values in order (`quoted` values keep their quotes)."""

    items: tuple[tuple[str, str], ...]

    def raw(self, name: str) -> str | None:
        for key, value in self.items:
            if key == name:
                return value
        return None

    def __contains__(self, name: str) -> bool:
        return self.raw(name) is not None

    def text(self, name: str) -> str | None:
        """The value with quotes removed (for quoted-strings), or the raw token."""
        raw = self.raw(name)
        if raw is None:
            return None
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            return raw[1:-1]
        return raw

    def number(self, name: str) -> float | None:
        raw = self.raw(name)
        if raw is None:
            return None
        try:
            return float(raw)
        except ValueError as exc:
            raise PlaylistError(f"{name}={raw} is not a number") from exc

    def names(self) -> list[str]:
        return [key for key, _ in self.items]

    def render(self) -> str:
        return ",".join(f"{key}={value}" for key, value in self.items)

    @classmethod
    def of(cls, *pairs: tuple[str, str]) -> AttributeList:
        return cls(tuple(pairs))


def quote(text: str) -> str:
    """A quoted-string attribute value."""
    if '"' in text or "\n" in text or "\r" in text:
        raise ValueError(f"a quoted-string cannot hold {text!r}")
    return f'"{text}"'


def parse_attribute_list(text: str) -> AttributeList:
    """RFC 8216 §4.2 attribute list -> ordered (name, raw value) pairs. Lenient with spaces."""
    items: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            break
        eq = text.find("=", i)
        if eq < 0:
            raise PlaylistError(f"attribute without a value in {text!r}")
        name = text[i:eq].strip()
        if "," in name:  # `FLAG,NAME=1`: FLAG has no value (names never hold commas)
            raise PlaylistError(f"attribute without a value in {text!r}")
        if not name:
            raise PlaylistError(f"empty attribute name in {text!r}")
        i = eq + 1
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise PlaylistError(f"unterminated quoted string in {text!r}")
            value = text[i : end + 1]
            i = end + 1
            while i < n and text[i] in " \t":
                i += 1
            if i < n and text[i] != ",":
                raise PlaylistError(f"junk after quoted value of {name} in {text!r}")
        else:
            end = text.find(",", i)
            end = n if end < 0 else end
            value = text[i:end].strip()
            i = end
        items.append((name, value))
        if i < n and text[i] == ",":
            i += 1
    return AttributeList(tuple(items))


# --------------------------------------------------------------------------- tags


@dataclass(frozen=True)
class Tag:
    """One tag line: `#NAME` or `#NAME:value`."""

    name: str
    value: str | None = None

    @classmethod
    def parse(cls, line: str) -> Tag:
        body = line[1:]
        name, sep, value = body.partition(":")
        return cls(name.strip(), value if sep else None)

    def render(self) -> str:
        return f"#{self.name}" if self.value is None else f"#{self.name}:{self.value}"

    def attributes(self) -> AttributeList:
        return parse_attribute_list(self.value or "")


@dataclass(frozen=True)
class DateRange:
    """An EXT-X-DATERANGE tag: its ID, parsed dates and the raw attribute list."""

    attributes: AttributeList

    @property
    def id(self) -> str:
        value = self.attributes.text("ID")
        if value is None:
            raise PlaylistError("EXT-X-DATERANGE without ID")
        return value

    @property
    def start_date(self) -> datetime | None:
        text = self.attributes.text("START-DATE")
        return parse_datetime(text) if text is not None else None

    @property
    def end_date(self) -> datetime | None:
        text = self.attributes.text("END-DATE")
        return parse_datetime(text) if text is not None else None

    @property
    def duration(self) -> float | None:
        return self.attributes.number("DURATION")

    @property
    def planned_duration(self) -> float | None:
        return self.attributes.number("PLANNED-DURATION")

    @property
    def klass(self) -> str | None:
        return self.attributes.text("CLASS")

    @classmethod
    def from_tag(cls, tag: Tag) -> DateRange:
        return cls(tag.attributes())

    def to_tag(self) -> Tag:
        return Tag("EXT-X-DATERANGE", self.attributes.render())


# --------------------------------------------------------------------------- media playlists


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
        return tuple(DateRange.from_tag(t) for t in self.tags if t.name == "EXT-X-DATERANGE")

    def tag_values(self, name: str) -> list[str | None]:
        return [t.value for t in self.tags if t.name == name]

    def has_tag(self, name: str) -> bool:
        return any(t.name == name for t in self.tags)


@dataclass(frozen=True)
class MediaPlaylist:
    """A media playlist. `trailing_tags` are tags after the last URI (e.g. a DATERANGE announced early)."""

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
        DISCONTINUITY-SEQUENCE plus every EXT-X-DISCONTINUITY tag up to and including the segment's)."""
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

    @property
    def dateranges(self) -> tuple[DateRange, ...]:
        found = [d for s in self.segments for d in s.dateranges]
        found += [DateRange.from_tag(t) for t in self.trailing_tags if t.name == "EXT-X-DATERANGE"]
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


# --------------------------------------------------------------------------- master playlists


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


# --------------------------------------------------------------------------- parsing


def _lines(text: str) -> Iterable[tuple[int, str]]:
    if text.startswith("\ufeff"):
        text = text[1:]
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line:
            yield number, line


def _int(value: str | None, name: str, line: int) -> int:
    text = (value or "").strip()
    if not text.isdigit() or not text.isascii():  # a decimal-integer: digits only (no sign, no '_')
        raise PlaylistError(f"{name} must be an integer, got {value!r}", line)
    return int(text)


def _check_header(text: str) -> None:
    for _, line in _lines(text):
        if line != "#EXTM3U":
            raise PlaylistError("a playlist must start with #EXTM3U", 1)
        return
    raise PlaylistError("empty playlist")


def parse_playlist(text: str) -> MediaPlaylist | MasterPlaylist:
    """Parse either kind of playlist (a master has EXT-X-STREAM-INF, a media playlist EXTINF)."""
    _check_header(text)
    for _, line in _lines(text):
        if line.startswith("#EXT-X-STREAM-INF") or line.startswith("#EXT-X-MEDIA:"):
            return parse_master_playlist(text)
        if line.startswith("#EXTINF") or line.startswith("#EXT-X-TARGETDURATION"):
            return parse_media_playlist(text)
    raise PlaylistError("neither a master nor a media playlist (no EXT-X-STREAM-INF, no EXTINF)")


def parse_media_playlist(text: str) -> MediaPlaylist:
    """Parse a media playlist; raises PlaylistError on anything a player could not read."""
    _check_header(text)
    target: int | None = None
    media_sequence = 0
    disc_sequence = 0
    version = None
    playlist_type = None
    endlist = False
    independent = False
    header: list[Tag] = []
    segments: list[Segment] = []
    notes: list[str] = []

    pending_tags: list[Tag] = []
    disc = 0  # EXT-X-DISCONTINUITY tags seen since the last URI
    pdt: datetime | None = None
    extinf: tuple[float, str, str] | None = None
    extinf_line = 0
    seen_segment_tag = False

    for number, line in _lines(text):
        if not line.startswith("#"):
            if extinf is None:
                raise PlaylistError(f"URI {line!r} without a preceding EXTINF", number)
            duration, duration_text, title = extinf
            segments.append(
                Segment(line, duration, duration_text, title, disc, pdt, tuple(pending_tags))
            )
            pending_tags, disc, pdt, extinf = [], 0, None, None
            continue
        if not line.startswith("#EXT"):
            continue  # a comment
        tag = Tag.parse(line)
        name = tag.name
        if name == "EXTM3U":
            continue
        if extinf is not None and name not in ("EXT-X-BYTERANGE",):
            notes.append(f"line {number}: {name} between EXTINF (line {extinf_line}) and its URI")
        if name == "EXTINF":
            if extinf is not None:
                raise PlaylistError("two EXTINF tags for one segment", number)
            raw, _, title = (tag.value or "").partition(",")
            raw = raw.strip()
            try:
                duration = float(raw)
            except ValueError:
                raise PlaylistError(f"EXTINF duration {raw!r} is not a number", number) from None
            if duration < 0:
                raise PlaylistError(f"negative EXTINF duration {raw}", number)
            extinf, extinf_line = (duration, raw, title), number
            seen_segment_tag = True
        elif name == "EXT-X-TARGETDURATION":
            if target is not None:
                raise PlaylistError("EXT-X-TARGETDURATION appears twice", number)
            target = _int(tag.value, name, number)
        elif name == "EXT-X-MEDIA-SEQUENCE":
            if seen_segment_tag:
                raise PlaylistError("EXT-X-MEDIA-SEQUENCE after the first segment", number)
            media_sequence = _int(tag.value, name, number)
        elif name == "EXT-X-DISCONTINUITY-SEQUENCE":
            if seen_segment_tag:
                raise PlaylistError("EXT-X-DISCONTINUITY-SEQUENCE after the first segment", number)
            disc_sequence = _int(tag.value, name, number)
        elif name == "EXT-X-VERSION":
            version = _int(tag.value, name, number)
        elif name == "EXT-X-PLAYLIST-TYPE":
            playlist_type = (tag.value or "").strip()
        elif name == "EXT-X-ENDLIST":
            endlist = True
        elif name == "EXT-X-INDEPENDENT-SEGMENTS":
            independent = True
        elif name == "EXT-X-DISCONTINUITY":
            disc += 1
            seen_segment_tag = True
        elif name == "EXT-X-PROGRAM-DATE-TIME":
            try:
                pdt = parse_datetime(tag.value or "")
            except PlaylistError as exc:
                raise PlaylistError(str(exc), number) from None
            seen_segment_tag = True
        elif name in _HEADER_TAGS:
            header.append(tag)
        elif name in _MASTER_TAGS:
            raise PlaylistError(f"{name} in a media playlist", number)
        else:
            if name == "EXT-X-DATERANGE":
                try:
                    DateRange.from_tag(tag).id  # noqa: B018 - reading the ID checks it
                except PlaylistError as exc:
                    raise PlaylistError(str(exc), number) from None
            pending_tags.append(tag)
            seen_segment_tag = seen_segment_tag or bool(segments)

    if target is None:
        raise PlaylistError("EXT-X-TARGETDURATION is missing")
    if extinf is not None:
        raise PlaylistError(f"EXTINF on line {extinf_line} has no URI")
    if disc or pdt is not None:
        notes.append("DISCONTINUITY or PROGRAM-DATE-TIME after the last segment")
    return MediaPlaylist(
        target_duration=target,
        segments=tuple(segments),
        media_sequence=media_sequence,
        discontinuity_sequence=disc_sequence,
        version=version,
        playlist_type=playlist_type,
        endlist=endlist,
        independent_segments=independent,
        header_tags=tuple(header),
        trailing_tags=tuple(pending_tags),
        notes=tuple(notes),
    )


def parse_master_playlist(text: str) -> MasterPlaylist:
    """Parse a multivariant playlist. Media-playlist tags in it are recorded as notes (M1)."""
    _check_header(text)
    variants: list[Variant] = []
    tags: list[Tag] = []
    notes: list[str] = []
    version = None
    independent = False
    pending: AttributeList | None = None
    pending_line = 0
    for number, line in _lines(text):
        if not line.startswith("#"):
            if pending is None:
                raise PlaylistError(f"URI {line!r} without EXT-X-STREAM-INF", number)
            variants.append(Variant(line, pending))
            pending = None
            continue
        if not line.startswith("#EXT"):
            continue
        tag = Tag.parse(line)
        if tag.name == "EXTM3U":
            continue
        if tag.name == "EXT-X-STREAM-INF":
            if pending is not None:
                raise PlaylistError(f"EXT-X-STREAM-INF on line {pending_line} has no URI", number)
            try:
                pending = tag.attributes()
            except PlaylistError as exc:
                raise PlaylistError(str(exc), number) from None
            if "BANDWIDTH" not in pending:
                raise PlaylistError("EXT-X-STREAM-INF without BANDWIDTH", number)
            pending_line = number
        elif tag.name == "EXT-X-VERSION":
            version = _int(tag.value, tag.name, number)
        elif tag.name == "EXT-X-INDEPENDENT-SEGMENTS":
            independent = True
        else:
            if tag.name in MEDIA_TAGS:
                notes.append(f"line {number}: media playlist tag {tag.name} in a master playlist")
            tags.append(tag)
    if pending is not None:
        raise PlaylistError(f"EXT-X-STREAM-INF on line {pending_line} has no URI")
    if not variants:
        raise PlaylistError("master playlist without variants")
    return MasterPlaylist(tuple(variants), version, independent, tuple(tags), tuple(notes))
