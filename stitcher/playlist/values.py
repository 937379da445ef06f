"""Playlist values: attribute lists, tags, DATERANGEs, and the date and decimal formats.

The raw attribute values are kept (`DURATION=30` and `DURATION=30.0` stay different), dates are
rendered at millisecond precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from stitcher.errors import RigError


class PlaylistError(RigError, ValueError):
    """A playlist that cannot be read: says what is wrong and on which line."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message)


def parse_datetime(text: str) -> datetime:
    """ISO 8601 date-time with a time zone (as PROGRAM-DATE-TIME and DATERANGE use) -> aware
    datetime."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise PlaylistError(f"bad date-time {text!r}") from exc
    if value.tzinfo is None:
        raise PlaylistError(f"date-time without a time zone: {text!r}")
    return value.astimezone(UTC)


def format_datetime(value: datetime | float) -> str:
    """Render a date-time (or epoch seconds) as `2026-01-01T00:00:02.000Z` (millisecond
    precision)."""
    seconds = value.timestamp() if isinstance(value, datetime) else float(value)
    millis = round(seconds * 1000)
    whole = datetime.fromtimestamp(millis // 1000, tz=UTC)
    return whole.strftime("%Y-%m-%dT%H:%M:%S") + f".{millis % 1000:03d}Z"


def format_decimal(value: float, places: int = 3) -> str:
    """A decimal-floating-point with a fixed number of places (`2.000`): stable text for stable
    tags."""
    return f"{value:.{places}f}"


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

    @classmethod
    def read(cls, tag: Tag) -> DateRange | None:
        """`tag` as a date range, or None when it cannot be one (no attribute list with an ID):
        players ignore such a tag."""
        try:
            found = cls.from_tag(tag)
        except PlaylistError:
            return None
        return found if found.attributes.text("ID") is not None else None

    def to_tag(self) -> Tag:
        return Tag("EXT-X-DATERANGE", self.attributes.render())
