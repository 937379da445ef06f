"""A typed HLS playlist model: parse text into frozen dataclasses, render them back.

Every component that reads or writes playlists (origin emulator, stitcher, validator, monitor)
goes through this package; nobody edits playlist text with regular expressions. `values` holds
attribute lists, tags, DATERANGEs and the date and number formats; `model` the segments and
playlists (each renders itself); `parse` reads text strictly, with a clear `PlaylistError` naming
the line. Pure: no I/O.
"""

from stitcher.playlist.model import (
    CUE_TAGS,
    MEDIA_TAGS,
    MasterPlaylist,
    MediaPlaylist,
    Segment,
    Variant,
    segment_kind,
)
from stitcher.playlist.parse import parse_master_playlist, parse_media_playlist, parse_playlist
from stitcher.playlist.values import (
    AttributeList,
    DateRange,
    PlaylistError,
    Tag,
    format_datetime,
    format_decimal,
    parse_attribute_list,
    parse_datetime,
    quote,
)

__all__ = [
    "AttributeList",
    "CUE_TAGS",
    "DateRange",
    "MEDIA_TAGS",
    "MasterPlaylist",
    "MediaPlaylist",
    "PlaylistError",
    "Segment",
    "Tag",
    "Variant",
    "format_datetime",
    "format_decimal",
    "parse_attribute_list",
    "parse_datetime",
    "parse_master_playlist",
    "parse_media_playlist",
    "parse_playlist",
    "quote",
    "segment_kind",
]
