"""Burned-in text: the TrueType font ffmpeg's drawtext draws with, and escaping text for it.

Shared by the channel loop, the live encode and the rig's house creatives, so every picture that
carries a title uses the same font and the same quoting.
"""

from __future__ import annotations

import os

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/System/Library/Fonts/Supplemental/Arial Bold.ttf",
)


def find_font() -> str | None:
    """The first of `FONT_CANDIDATES` that exists, or None (pictures then carry no text)."""
    for candidate in FONT_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    return None


def escape_drawtext(text: str) -> str:
    """Escape text for a drawtext value inside a filtergraph."""
    return text.replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\:").replace(",", "\\,")
