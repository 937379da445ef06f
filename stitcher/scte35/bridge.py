"""threefive on a checked section: its printing captured, whatever it printed or raised made a
`Scte35Error`, its float seconds turned back into 90 kHz ticks.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator

import threefive
import threefive.stuff

from stitcher.scte35.section import CUEI, SEGMENTATION_DESCRIPTOR, Scte35Error, _Frame
from stitcher.ts import CLOCK  # SCTE-35 times are ticks of the same 90 kHz clock

_THREEFIVE_LOCK = threading.Lock()


@contextlib.contextmanager
def _captured_threefive_output() -> Iterator[io.StringIO]:
    """Route threefive's printing (all of it goes through `threefive.stuff.print2`) into a buffer.

    print2 writes to `threefive.stuff.stderr` (bound at import) or, when `HTTP_USER_AGENT` is in
    `threefive.stuff.environ`, to stdout; both globals are swapped for the duration.
    """
    sink = io.StringIO()
    module = threefive.stuff
    with _THREEFIVE_LOCK:
        saved = module.stderr, module.environ
        module.stderr, module.environ = sink, {}
        try:
            yield sink
        finally:
            module.stderr, module.environ = saved


def _ticks(seconds: object, what: str) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise Scte35Error(f"threefive left {what} unset", "threefive")
    return round(seconds * CLOCK)


def _is_segmentation(tag: int, body: bytes) -> bool:
    return tag == SEGMENTATION_DESCRIPTOR and body[:4] == CUEI


def _run_threefive(frame: _Frame) -> threefive.Cue:
    """threefive's decode of the command and the segmentation descriptors of a checked section.

    threefive sees a copy of the section with the real command length (a legacy 0xfff replaced)
    and only the CUEI segmentation descriptors (it would choke on the binary payload of private
    descriptors, which mean nothing here). The CRC was checked on the original bytes.
    """
    loop = b"".join(
        bytes((tag, len(body))) + body
        for tag, body in frame.descriptors
        if _is_segmentation(tag, body)
    )
    length = len(frame.command)
    header = bytearray(frame.section[:14])
    header[11] = (header[11] & 0xF0) | (length >> 8)
    header[12] = length & 0xFF
    section_length = 11 + length + 2 + len(loop) + 4
    header[1] = (header[1] & 0xF0) | (section_length >> 8)
    header[2] = section_length & 0xFF
    section = (
        bytes(header) + frame.command + len(loop).to_bytes(2, "big") + loop + frame.section[-4:]
    )
    with _captured_threefive_output() as sink:
        try:
            cue = threefive.Cue()
            cue.bites = section
            cue.decode()
        except Exception as exc:  # threefive raises whatever its parsing trips over
            raise Scte35Error(
                f"threefive could not decode the section: {type(exc).__name__}: {exc}", "threefive"
            ) from exc
    said = " ".join(threefive.stuff.no_ESC(sink.getvalue()).replace("#", " ").split())
    if said:
        raise Scte35Error(f"threefive could not decode the section: {said}", "threefive")
    if cue.command is None:
        raise Scte35Error("threefive decoded no splice command", "threefive")
    return cue
