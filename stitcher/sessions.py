"""Where the real players are: a view of recent playlist requests, for the TUI (`GET /v1/sessions`).

Side effects: none (memory only).
How and why: docs/stitcher.md, "`stitcher.sessions`".
"""

from __future__ import annotations

from typing import NamedTuple

from stitcher.service import Rendered

LIVE_SYNC_TARGETS = 3  # hls.js liveSyncDurationCount


class Seen(NamedTuple):
    id: str
    client: str
    channel: str
    mode: str
    variant: str
    at: float
    rendered: Rendered


class Sessions:
    def __init__(self, expiry: float = 60.0, limit: int = 10_000):
        self.expiry, self.limit = expiry, limit
        self._seen: dict[str, tuple] = {}  # the fields of a Seen (a plain tuple: made per request)

    def seen(
        self,
        session: str,
        client: str,
        channel: str,
        mode: str,
        variant: str,
        rendered: Rendered,
        now: float,
    ) -> None:
        seen = self._seen
        seen.pop(session, None)
        seen[session] = (session, client, channel, mode, variant, now, rendered)
        if len(seen) > self.limit:  # forget the least recently seen (dicts keep insertion order)
            del seen[next(iter(seen))]

    def snapshot(self, now: float) -> list[dict]:
        seen = [Seen._make(fields) for fields in self._seen.values()]
        for gone in [s for s in seen if now - s.at > self.expiry]:
            del self._seen[gone.id]
        return [view(s, now) for s in seen if now - s.at <= self.expiry]


def view(seen: Seen, now: float) -> dict:
    timeline = seen.rendered.timeline
    out = {
        "id": seen.id,
        "client": seen.client,
        "channel": seen.channel,
        "mode": seen.mode,
        "variant": seen.variant,
        "last_seen": round(seen.at, 3),
        "age": round(now - seen.at, 3),
        "msn": None,
        "playhead": None,
        "kind": None,
        "ad": "",
    }
    if not timeline:
        return out
    edge = timeline[-1].start + timeline[-1].duration
    playhead = min(edge, edge - LIVE_SYNC_TARGETS * seen.rendered.target_duration + (now - seen.at))
    at = next(
        (p for p in timeline if p.start <= playhead < p.start + p.duration),
        timeline[-1] if playhead >= edge else timeline[0],
    )
    out.update(
        msn=at.msn,
        playhead=round(playhead, 3),
        behind_live=round(max(0.0, now - playhead), 3),
        kind=at.kind,
        ad=at.ad,
    )
    return out
