"""What the playlist service answers: rendered bytes with their ETag, where each served segment
is on the clock (for the sessions view), and the channel's slate as a pod item.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from stitcher.playlist import MediaPlaylist, segment_kind
from stitcher.pod import SLATE_ID, PodItem
from stitcher.ssai import SsaiError, pdts


@dataclass(frozen=True)
class Rendered:
    """A rendered playlist: its bytes, strong ETag, and how many breaks it shows (for metrics)."""

    body: bytes
    etag: str
    breaks: int = 0
    target_duration: int = 2
    timeline: tuple[Placed, ...] = ()  # what a media playlist's segments are, for the sessions view
    # what its server makes of it once, for every answer (streams: the response headers)
    served: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(
        cls,
        text: str,
        breaks: int = 0,
        target_duration: int = 2,
        playlist: MediaPlaylist | None = None,
    ) -> Rendered:
        body = text.encode()
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        return cls(
            body, etag, breaks, target_duration, placed(playlist) if playlist is not None else ()
        )


@dataclass(frozen=True)
class Placed:
    """One segment of a served media playlist: where it is on the clock and what it shows."""

    msn: int
    start: float  # PDT, epoch seconds
    duration: float
    kind: str  # content | ad | slate
    ad: str = ""  # the ad id, for ads


def placed(playlist: MediaPlaylist) -> tuple[Placed, ...]:
    try:
        times = pdts(playlist)
    except SsaiError:
        return ()
    return tuple(
        Placed(n, t, s.duration, *_kind(s.uri)) for (n, _, s), t in zip(playlist.numbered(), times)
    )


def _kind(uri: str) -> tuple[str, str]:
    kind, ad = segment_kind(uri)
    return kind, ad or ""


@dataclass(frozen=True)
class Slate:
    urls: dict[int, str]  # rung bandwidth -> slate playlist URL
    seconds: float | None  # length of the slate media (None: no slate conditioned)

    def item(self) -> PodItem:
        """The filler slate as a pod item (item `len(pod.items)` of a break, as `breaks.Slot`
        counts)."""
        return PodItem(SLATE_ID, "slate", self.seconds or 0.0, tuple(sorted(self.urls.items())))
