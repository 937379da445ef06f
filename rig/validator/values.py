"""What the validator reads out of a playlist, beyond the playlist model.

The types of DATERANGE attribute values (quoted strings, decimals, hex, dates: D5), every
segment's effective PROGRAM-DATE-TIME, the DATERANGEs with the MSN they precede and as a client
merges them by ID, and the directory a segment comes from (R14). Pure functions.
"""

from __future__ import annotations

import posixpath
from datetime import datetime
from functools import lru_cache
from urllib.parse import parse_qs, urljoin, urlsplit

from stitcher.playlist import AttributeList, MediaPlaylist, PlaylistError, parse_datetime

# --------------------------------------------------------------------------- attribute types (D5)

_QUOTED = (
    "ID",
    "CLASS",
    "START-DATE",
    "END-DATE",
    "X-ASSET-URI",
    "X-ASSET-LIST",
    "X-RESTRICT",
    "X-SNAP",
)
_DECIMAL = ("DURATION", "PLANNED-DURATION", "X-RESUME-OFFSET", "X-PLAYOUT-LIMIT")
_HEX = ("SCTE35-OUT", "SCTE35-IN", "SCTE35-CMD")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _is_quoted(raw: str) -> bool:
    return len(raw) >= 2 and raw[0] == raw[-1] == '"'


def _is_decimal(raw: str) -> bool:
    """A (signed-)decimal-floating-point: digits with at most one '.', optionally a leading '-'."""
    body = raw[1:] if raw.startswith("-") else raw
    whole, dot, fraction = body.partition(".")
    return bool(whole) and whole.isdigit() and (not dot or (bool(fraction) and fraction.isdigit()))


def _is_hex(raw: str) -> bool:
    return len(raw) > 2 and raw[:2] in ("0x", "0X") and all(c in _HEX_DIGITS for c in raw[2:])


def decimal_value(raw: str | None) -> float | None:
    """The number of a well-typed decimal attribute, None when absent or mistyped (D5 reports
    that)."""
    return float(raw) if raw is not None and _is_decimal(raw) else None


def date_value(raw: str | None) -> datetime | None:
    """The date of a well-typed (quoted, ISO-8601) date attribute, None when absent or mistyped."""
    if raw is None or not _is_quoted(raw):
        return None
    try:
        return parse_datetime(raw[1:-1])
    except PlaylistError:
        return None


def type_problems(attrs: AttributeList, ident: str) -> list[str]:
    """D5: every attribute of the DATERANGE `ident` whose value does not have its type."""
    problems = []
    for name, raw in attrs.items:
        if name in _QUOTED and not _is_quoted(raw):
            problems.append(f"{name}={raw} must be a quoted-string")
        elif name in ("START-DATE", "END-DATE") and date_value(raw) is None:
            problems.append(f"{name}={raw} is not an ISO-8601 date-time with a time zone")
        elif name in _DECIMAL and not _is_decimal(raw):
            problems.append(f"{name}={raw} must be an unquoted decimal-floating-point")
        elif name in _HEX and not _is_hex(raw):
            problems.append(f"{name}={raw} must be an unquoted hexadecimal-sequence (0x...)")
    return [f"DATERANGE ID={ident!r}: {p}" for p in problems]


# --------------------------------------------------------------------------- dates and dateranges


def effective_pdts(playlist: MediaPlaylist) -> list[tuple[float | None, bool]]:
    """(start in epoch seconds or None, written explicitly?) per segment. The times are the
    playlist model's one rule (`MediaPlaylist.segment_times`); None only in an undated playlist."""
    times = playlist.segment_times()
    return [
        (None if times is None else times[i], segment.program_date_time is not None)
        for i, segment in enumerate(playlist.segments)
    ]


def daterange_occurrences(playlist: MediaPlaylist) -> list[tuple[int, AttributeList]]:
    """Every EXT-X-DATERANGE in order with the MSN of the segment it precedes.

    Tags after the last URI get the MSN the next appended segment will have.
    """
    found: list[tuple[int, AttributeList]] = []
    for msn, _, segment in playlist.numbered():
        found.extend(
            (msn, tag.attributes()) for tag in segment.tags if tag.name == "EXT-X-DATERANGE"
        )
    tail = playlist.media_sequence + len(playlist.segments)
    found.extend(
        (tail, tag.attributes()) for tag in playlist.trailing_tags if tag.name == "EXT-X-DATERANGE"
    )
    return found


def merge_dateranges(occurrences: list[tuple[int, AttributeList]]) -> dict[str, dict[str, str]]:
    """ID -> {attribute: first raw value} over all tags with that ID (as a client merges them)."""
    merged: dict[str, dict[str, str]] = {}
    for _, attrs in occurrences:
        entry = merged.setdefault(attrs.text("ID") or "", {})
        for name, raw in attrs.items:
            entry.setdefault(name, raw)
    return merged


# --------------------------------------------------------------------------- segments


@lru_cache(maxsize=8192)
def segment_directory(playlist_url: str, uri: str) -> str:
    """The parent directory of a segment: URI resolved against the playlist URL, path only. A
    segment served as a copy of another (the stitcher's `resume.ts?src=<origin segment>`, where a
    break returns to content) belongs to its source's directory."""
    resolved = urljoin(playlist_url, uri)
    source = parse_qs(urlsplit(resolved).query).get("src")
    if source:
        resolved = urljoin(resolved, source[0])
    return posixpath.dirname(urlsplit(resolved).path)
