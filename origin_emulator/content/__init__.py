"""Channel content: each channel's loop, rendered once with ffmpeg, cached and described.

`recipe` holds what determines a loop (and its cache key), `render` the ffmpeg filter graph and
command (also used by the live encode), `media` the rendered loop as the emulator serves it,
`cache` the build, its verification and the cache, `text` the font and drawtext escaping.
"""

from origin_emulator.content.cache import build_content, load_content
from origin_emulator.content.media import ContentMedia, RenditionMedia, SegmentInfo, scan_segment
from origin_emulator.content.recipe import RECIPE_VERSION, ContentRecipe
from origin_emulator.content.render import (
    LOOP_CAPTION,
    PACING_LIMIT,
    content_argv,
    encode_args,
    filter_graph,
)
from origin_emulator.content.text import FONT_CANDIDATES, escape_drawtext, find_font

__all__ = [
    "FONT_CANDIDATES",
    "LOOP_CAPTION",
    "PACING_LIMIT",
    "RECIPE_VERSION",
    "ContentMedia",
    "ContentRecipe",
    "RenditionMedia",
    "SegmentInfo",
    "build_content",
    "content_argv",
    "encode_args",
    "escape_drawtext",
    "filter_graph",
    "find_font",
    "load_content",
    "scan_segment",
]
