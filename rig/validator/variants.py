"""What each variant's segments were first seen as, across every viewer and reload.

Per variant: the URI, EXTINF, discontinuity sequence number and PDT each media sequence number
was first seen with (T1 within the variant, T2 against the others), its TARGETDURATION (R4) and
whether it carries PDTs (P3); and the `Checker`'s de-duplication keys by MSN. Both are forgotten
far behind the live edge (`prune`).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from rig.validator.findings import Finding, Tolerances
from rig.validator.values import effective_pdts
from stitcher.playlist import MediaPlaylist, format_datetime


@dataclass(frozen=True)
class _Record:
    """What one media sequence number was first seen as, in one variant (T1, T2)."""

    uri: str
    extinf: float
    extinf_text: str
    disc: int
    pdt: float | None
    pdt_explicit: bool


@dataclass
class VariantState:
    records: dict[int, _Record] = field(default_factory=dict)
    target_duration: int | None = None
    uses_pdt: bool | None = None
    longest_window: int = 0
    newest_msn: int | None = None
    reported: dict[int, set[Hashable]] = field(default_factory=dict)  # de-duplication keys by MSN


class Variants:
    """The variants seen so far (`states`: URL -> `VariantState`) and the rules across them."""

    def __init__(self, tolerances: Tolerances):
        self.tolerances = tolerances
        self.states: dict[str, VariantState] = {}
        self.segments_seen = 0
        self._target_duration: tuple[int, str] | None = None  # first TD seen anywhere, and where

    def state(self, url: str) -> VariantState:
        return self.states.setdefault(url, VariantState())

    def check(self, url: str, playlist: MediaPlaylist) -> list[Finding]:
        """R4 and P3 for the variant as a whole, then T1 and T2 for each of its segments."""
        state = self.state(url)
        return self._check_variant(url, state, playlist) + self._check_segments(
            url, state, playlist
        )

    def prune(self, url: str, playlist: MediaPlaylist) -> None:
        """Forget per-MSN history (records, de-duplication keys) far behind the live edge."""
        if not playlist.segments:
            return
        state = self.state(url)
        state.longest_window = max(state.longest_window, len(playlist.segments))
        last = playlist.media_sequence + len(playlist.segments) - 1
        state.newest_msn = last if state.newest_msn is None else max(state.newest_msn, last)
        keep = (
            self.tolerances.window_multiple * state.longest_window
            + self.tolerances.retention_margin
        )
        floor = state.newest_msn - keep
        if len(state.records) > keep + self.tolerances.retention_margin:
            for msn in [m for m in state.records if m < floor]:
                del state.records[msn]
        if len(state.reported) > keep + self.tolerances.retention_margin:
            for msn in [m for m in state.reported if m < floor]:
                del state.reported[msn]

    # ------------------------------------------------------------------ the variant as a whole

    def _check_variant(
        self, url: str, state: VariantState, playlist: MediaPlaylist
    ) -> list[Finding]:
        """R4 (TARGETDURATION never changes, same in every variant) and P3 (PDT in all variants
        or none)."""
        findings = []
        target = playlist.target_duration
        if state.target_duration is None:
            state.target_duration = target
        elif target != state.target_duration:
            findings.append(
                Finding(
                    "R4", f"EXT-X-TARGETDURATION changed from {state.target_duration} to {target}"
                )
            )
        if self._target_duration is None:
            self._target_duration = (target, url)
        elif target != self._target_duration[0] and url != self._target_duration[1]:
            other_td, other = self._target_duration
            findings.append(
                Finding("R4", f"EXT-X-TARGETDURATION {target} differs from {other_td} in {other}")
            )
        if playlist.segments:
            state.uses_pdt = any(s.program_date_time is not None for s in playlist.segments)
            for other, other_state in self.states.items():
                if (
                    other != url
                    and other_state.uses_pdt is not None
                    and other_state.uses_pdt != state.uses_pdt
                ):
                    with_pdt, without = (url, other) if state.uses_pdt else (other, url)
                    findings.append(
                        Finding(
                            "P3",
                            f"{with_pdt} has EXT-X-PROGRAM-DATE-TIME but {without} has none",
                            None,
                            f"P3 {sorted((url, other))}",
                        )
                    )
        return findings

    # ------------------------------------------------------------------ each segment (T1, T2)

    def _check_segments(
        self, url: str, state: VariantState, playlist: MediaPlaylist
    ) -> list[Finding]:
        """T1 against everything seen before in this variant; T2 against the other variants."""
        findings = []
        dates = effective_pdts(playlist)
        for (msn, disc, segment), (pdt, explicit) in zip(playlist.numbered(), dates):
            record = _Record(segment.uri, segment.duration, segment.extinf, disc, pdt, explicit)
            known = state.records.get(msn)
            if known is None:
                state.records[msn] = record
                self.segments_seen += 1
                findings += self._compare_variants(url, msn, record)
            else:
                findings += [
                    Finding("T1", m, msn)
                    for m in self._differences(known, record, "earlier", "now")
                ]
        return findings

    def _differences(
        self, first: _Record, second: _Record, first_name: str, second_name: str
    ) -> list[str]:
        out = []
        if first.uri != second.uri:
            out.append(f"URI {second.uri} {second_name}, {first.uri} {first_name}")
        if abs(first.extinf - second.extinf) > self.tolerances.extinf:
            out.append(
                f"EXTINF {second.extinf_text} {second_name}, {first.extinf_text} {first_name}"
            )
        elif first.extinf_text != second.extinf_text:
            out.append(
                f"EXTINF text {second.extinf_text!r} {second_name},"
                f" {first.extinf_text!r} {first_name} (same value, different bytes)"
            )
        out += self._timeline_differences(first, second, first_name, second_name)
        return out

    def _timeline_differences(
        self, first: _Record, second: _Record, first_name: str, second_name: str
    ) -> list[str]:
        out = []
        if first.disc != second.disc:
            out.append(
                f"discontinuity sequence number {second.disc} {second_name},"
                f" {first.disc} {first_name}"
            )
        if first.pdt is not None and second.pdt is not None:
            if first.pdt_explicit and second.pdt_explicit:
                differs = round(first.pdt * 1000) != round(second.pdt * 1000)
            else:
                differs = abs(first.pdt - second.pdt) > self.tolerances.pdt_equal
            if differs:
                out.append(
                    f"PROGRAM-DATE-TIME {format_datetime(second.pdt)} {second_name},"
                    f" {format_datetime(first.pdt)} {first_name}"
                )
        return out

    def _compare_variants(self, url: str, msn: int, record: _Record) -> list[Finding]:
        findings = []
        for other, other_state in self.states.items():
            known = other_state.records.get(msn) if other != url else None
            if known is not None:
                findings += [
                    Finding("T2", m, msn)
                    for m in self._timeline_differences(known, record, f"in {other}", "here")
                ]
        return findings
