"""Reading playlist text: strict about structure (a `PlaylistError` with the line number),
with legal-but-suspicious layouts recorded as `notes` for the validator.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from stitcher.playlist.model import MEDIA_TAGS, MasterPlaylist, MediaPlaylist, Segment, Variant
from stitcher.playlist.values import AttributeList, DateRange, PlaylistError, Tag, parse_datetime

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
            if name == "EXT-X-DATERANGE" and DateRange.read(tag) is None:
                # hls.js ignores such a tag ("Ignoring invalid DATERANGE tag"), and so does
                # everything here (`dateranges`): one broken tag costs nothing else in the playlist
                notes.append(f"line {number}: EXT-X-DATERANGE without a readable ID: ignored")
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
