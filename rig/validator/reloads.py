"""Each viewer's reloads of each variant, compared with what that viewer saw before.

Per (viewer, variant): the last playlist that parsed and the stall and latency bookkeeping.
`compare_reload` holds what two consecutive reloads must keep (R5, T1's DISCONTINUITY-SEQUENCE,
R1); `Reloads` adds a new segment in time (R10, once per stall) and no drift from live (T3).
"""

from __future__ import annotations

from dataclasses import dataclass

from rig.validator.findings import Finding, Tolerances
from rig.validator.values import effective_pdts
from stitcher.playlist import MediaPlaylist, Segment, Tag


@dataclass
class _ViewerState:
    """One viewer's view of one variant: its previous snapshot and the R10 / T3 bookkeeping."""

    playlist: MediaPlaylist
    newest_msn: int
    newest_at: float
    stalled: bool = False
    min_latency: float | None = None
    drifting: bool = False


class Reloads:
    """The last playlist each viewer fetched of each variant, and the rules between reloads."""

    def __init__(self, tolerances: Tolerances):
        self.tolerances = tolerances
        self._viewers: dict[tuple[str | None, str], _ViewerState] = {}

    def snapshot(self, variant: str, viewer: str | None) -> MediaPlaylist | None:
        """The last playlist of `variant` that `viewer` fetched and that parsed (None before)."""
        state = self._viewers.get((viewer, variant))
        return state.playlist if state is not None else None

    def check(
        self, url: str, viewer: str | None, playlist: MediaPlaylist, at: float
    ) -> list[Finding]:
        """R5, T1 (sequence numbers), R1, R10, T3 for one viewer's reload of one variant."""
        last = playlist.media_sequence + len(playlist.segments) - 1
        state = self._viewers.get((viewer, url))
        findings: list[Finding] = []
        if state is None:
            state = _ViewerState(playlist, last, at)
            self._viewers[(viewer, url)] = state
        else:
            findings += compare_reload(state.playlist, playlist)
            state.playlist = playlist
        if not playlist.endlist:
            findings += self._check_stall(state, playlist, last, at)
            findings += self._check_latency(state, playlist, at)
        return findings

    def _check_stall(
        self, state: _ViewerState, playlist: MediaPlaylist, last: int, at: float
    ) -> list[Finding]:
        if last > state.newest_msn:
            state.newest_msn, state.newest_at, state.stalled = last, at, False
            return []
        waited = at - state.newest_at
        limit = self.tolerances.stall_factor * playlist.target_duration + self.tolerances.stall
        if waited <= limit or state.stalled:
            return []
        state.stalled = True
        return [
            Finding(
                "R10",
                f"no new segment for {waited:.1f} s"
                f" (limit {self.tolerances.stall_factor:g} × TARGETDURATION"
                f" {playlist.target_duration} + {self.tolerances.stall:g} s);"
                f" newest is still MSN {state.newest_msn}",
                state.newest_msn,
                "stall",
            )
        ]

    def _check_latency(
        self, state: _ViewerState, playlist: MediaPlaylist, at: float
    ) -> list[Finding]:
        if not playlist.segments:
            return []
        pdt, _ = effective_pdts(playlist)[-1]
        if pdt is None:
            return []
        last = playlist.segments[-1]
        msn = playlist.media_sequence + len(playlist.segments) - 1
        latency = at - (pdt + last.duration)
        if latency < -self.tolerances.future:
            return [
                Finding(
                    "T3",
                    f"last segment ends {-latency:.3f} s after the observation time"
                    " (from the future)",
                    msn,
                    "future",
                )
            ]
        state.min_latency = (
            latency if state.min_latency is None else min(state.min_latency, latency)
        )
        limit = self.tolerances.drift_factor * playlist.target_duration + self.tolerances.drift
        if latency - state.min_latency <= limit:
            state.drifting = False
            return []
        if state.drifting:
            return []
        state.drifting = True
        return [
            Finding(
                "T3",
                f"latency {latency:.3f} s is {latency - state.min_latency:.3f} s above this"
                f" viewer's best {state.min_latency:.3f} s (limit {limit:g} s): drifting from live",
                msn,
                "drift",
            )
        ]


def compare_reload(previous: MediaPlaylist, current: MediaPlaylist) -> list[Finding]:
    """R5, T1 and R1 between two consecutive reloads of one variant by one viewer."""
    findings = []
    if current.media_sequence < previous.media_sequence:
        findings.append(
            Finding(
                "R5",
                f"EXT-X-MEDIA-SEQUENCE went back from {previous.media_sequence}"
                f" to {current.media_sequence}",
                current.media_sequence,
            )
        )
    if current.discontinuity_sequence < previous.discontinuity_sequence:
        findings.append(
            Finding(
                "T1",
                f"EXT-X-DISCONTINUITY-SEQUENCE went back from {previous.discontinuity_sequence}"
                f" to {current.discontinuity_sequence}",
                current.media_sequence,
            )
        )
    if previous.endlist and not current.endlist:
        findings.append(Finding("R1", "EXT-X-ENDLIST was removed"))
    previous_last = previous.media_sequence + len(previous.segments) - 1
    current_last = current.media_sequence + len(current.segments) - 1
    if current_last < previous_last and previous_last >= current.media_sequence:
        gone_from = max(current_last + 1, current.media_sequence)
        findings.append(
            Finding(
                "R1",
                f"segments {gone_from}..{previous_last} were removed from the tail"
                f" (window now ends at {current_last})",
                gone_from,
            )
        )
    removed_head = previous.segments[: max(0, current.media_sequence - previous.media_sequence)]
    taken_over = [t for s in removed_head for t in s.tags if t.name == "EXT-X-DATERANGE"]
    for msn, _, segment in current.numbered():
        index = msn - previous.media_sequence
        if not 0 <= index < len(previous.segments):
            continue
        old = previous.segments[index]
        first = msn == current.media_sequence
        findings += [
            Finding("R1", m, msn) for m in _tag_changes(old, segment, taken_over if first else [])
        ]
        if old.program_date_time is None and segment.program_date_time is not None and not first:
            findings.append(
                Finding(
                    "R1", "EXT-X-PROGRAM-DATE-TIME was added before a segment already served", msn
                )
            )
    return findings


def _tag_changes(old: Segment, new: Segment, allowed_extra: list[Tag]) -> list[str]:
    """R1: the tags before a kept segment may only lose entries (keep order); `allowed_extra` may
    join."""
    extra = list(allowed_extra)
    position = 0
    problems = []
    for tag in new.tags:
        try:
            position = old.tags.index(tag, position) + 1
            continue
        except ValueError:
            pass
        if tag in extra:
            extra.remove(tag)
            continue
        if tag.name in (t.name for t in old.tags):
            was = ", ".join(t.render() for t in old.tags if t.name == tag.name)
            problems.append(f"tag {tag.render()} before a segment already served (it had {was})")
        else:
            problems.append(f"tag {tag.render()} was added before a segment already served")
    return problems
