"""The live-playlist validator's pure core: a `Checker` fed with playlists, collecting `Violation`s.

The origin emulator, the stitcher in each mode, the viewer fleet and the soak tests feed what they
fetch into one `Checker` and assert that it stays empty; `rig.validate` is its polling shell over
HTTP. No I/O, no clock (the caller passes the observation time `at`). `rig.validator_rules` holds
the single-playlist rules; this module adds those that need history: reloads by one viewer, all
viewers of a variant, the variants of a master. Rule ids and meanings are in `rig.rules`; which
rule is checked at which scope, in docs/architecture.md ("How the validator checks").

Poll rounds (D9): observations passed with the same `(viewer, round_id)` are one poll round; two
variants of one round with the same MEDIA-SEQUENCE and last MSN must carry the same DATERANGEs.
Only the latest round of each viewer is kept. A finding is reported once per variant for a given
(rule, MSN, key or message); R10 and T3 once per episode. Per-MSN history older than
`window_multiple` × the longest window (+ a margin) is forgotten; DATERANGE history is kept by ID.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from rig.validator.findings import Finding, Tolerances, Violation
from rig.validator.playlist_checks import (
    check_master_playlist,
    check_media_playlist,
    classify_parse_error,
)
from rig.validator.values import daterange_occurrences, effective_pdts, merge_dateranges
from stitcher.playlist import (
    MediaPlaylist,
    PlaylistError,
    Segment,
    Tag,
    format_datetime,
    parse_master_playlist,
    parse_media_playlist,
)

__all__ = ["Violation", "Checker", "Tolerances"]

MAX_KEPT_VIOLATIONS = 10_000


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
class _VariantState:
    records: dict[int, _Record] = field(default_factory=dict)
    target_duration: int | None = None
    uses_pdt: bool | None = None
    longest_window: int = 0
    newest_msn: int | None = None
    reported: dict[int, set[Hashable]] = field(default_factory=dict)  # de-duplication keys by MSN


@dataclass
class _ViewerState:
    """One viewer's view of one variant: its previous snapshot and the R10 / T3 bookkeeping."""

    playlist: MediaPlaylist
    newest_msn: int
    newest_at: float
    stalled: bool = False
    min_latency: float | None = None
    drifting: bool = False


@dataclass(frozen=True)
class _RoundEntry:
    media_sequence: int
    last_msn: int
    dateranges: dict[str, dict[str, str]]


class Checker:
    """Accumulates violations from observed playlists. Pure: no I/O, no clock; `at` is passed in.

    `observe_master` / `observe_media` return the violations that observation produced (and append
    them to `violations`, count them in `counts` and pass each to `on_violation`); `report` adds a
    violation found outside (HTTP, CORS, R12 by the shell). `tolerances` holds every tolerance.
    """

    def __init__(
        self,
        tolerances: Tolerances = Tolerances(),  # noqa: B008 - frozen: one value for all
        on_violation: Callable[[Violation], None] | None = None,
    ):
        self.tolerances = tolerances
        self.on_violation = on_violation
        self.violations: list[Violation] = []
        self.counts: Counter[str] = Counter()
        self.playlists_checked = 0
        self.reloads: Counter[str] = Counter()
        self.segments_seen = 0
        self.masters: list[str] = []
        self.first_at: float | None = None
        self.last_at: float | None = None
        self._variants: dict[str, _VariantState] = {}
        self._viewers: dict[tuple[str | None, str], _ViewerState] = {}
        self._target_duration: tuple[int, str] | None = (
            None  # first TD seen in any variant, and where
        )
        self._dateranges: dict[
            str, dict[str, tuple[str, str]]
        ] = {}  # ID -> attribute -> (raw, variant)
        self._rounds: dict[str | None, tuple[Hashable, dict[str, _RoundEntry]]] = {}
        self._unnumbered: set[tuple[str, Hashable]] = set()  # de-duplication keys without an MSN

    # ------------------------------------------------------------------ public API

    @property
    def ok(self) -> bool:
        return not self.counts

    @property
    def variants(self) -> list[str]:
        return list(self._variants)

    def snapshot(self, variant: str, viewer: str | None = None) -> MediaPlaylist | None:
        """The last playlist of `variant` that `viewer` fetched and that parsed (None before that)."""
        state = self._viewers.get((viewer, variant))
        return state.playlist if state is not None else None

    def report(
        self,
        rule: str,
        message: str,
        *,
        variant: str,
        at: float,
        viewer: str | None = None,
        msn: int | None = None,
        once_key: Hashable | None = None,
    ) -> Violation | None:
        """Record a violation found outside the checker; with `once_key`, only the first one per variant."""
        if once_key is not None and not self._first_time(variant, msn, (rule, once_key)):
            return None
        return self._add(Violation(rule, message, variant, viewer, msn, at))

    def observe_master(
        self, url: str, text: str, at: float, viewer: str | None = None
    ) -> list[Violation]:
        """Check a multivariant playlist fetched from `url` (M1, PARSE)."""
        self._count(at, viewer, media=False)
        if url not in self.masters:
            self.masters.append(url)
        try:
            playlist = parse_master_playlist(text)
        except PlaylistError as exc:
            return self._emit_new(
                [Finding(classify_parse_error(exc, master=True), str(exc))], url, viewer, at
            )
        return self._emit_new(check_master_playlist(playlist), url, viewer, at)

    def observe_media(
        self,
        url: str,
        text: str,
        at: float,
        viewer: str | None = None,
        round_id: Hashable | None = None,
    ) -> list[Violation]:
        """Check a media playlist fetched from `url` by `viewer` at `at`; `round_id`: see the module doc."""
        self._count(at, viewer, media=True)
        state = self._variants.setdefault(url, _VariantState())
        try:
            playlist = parse_media_playlist(text)
        except PlaylistError as exc:
            return self._emit_new(
                [Finding(classify_parse_error(exc, master=False), str(exc))], url, viewer, at
            )
        findings = check_media_playlist(playlist, url, self.tolerances, text)
        findings += self._check_variant(url, state, playlist)
        findings += self._check_segments(url, state, playlist)
        findings += self._check_daterange_history(url, playlist)
        findings += self._check_reload(url, viewer, playlist, at)
        findings += self._check_round(url, viewer, round_id, playlist)
        emitted = self._emit_new(findings, url, viewer, at)
        self._prune(state, playlist)
        return emitted

    def summary(self) -> dict[str, Any]:
        """Counts and coverage of the run, ready for `json.dumps`."""
        duration = (
            (self.last_at - self.first_at)
            if self.first_at is not None and self.last_at is not None
            else 0.0
        )
        return {
            "ok": self.ok,
            "violations": sum(self.counts.values()),
            "by_rule": dict(sorted(self.counts.items())),
            "playlists_checked": self.playlists_checked,
            "reloads_per_viewer": dict(sorted(self.reloads.items())),
            "segments_seen": self.segments_seen,
            "masters": list(self.masters),
            "variants": self.variants,
            "first_observation": self.first_at,
            "last_observation": self.last_at,
            "observed_seconds": round(duration, 3),
            "examples": [v.to_dict() for v in self.violations[:20]],
        }

    # ------------------------------------------------------------------ bookkeeping

    def _count(self, at: float, viewer: str | None, media: bool) -> None:
        self.playlists_checked += 1
        if media:
            self.reloads[viewer if viewer is not None else "-"] += 1
        self.first_at = at if self.first_at is None else min(self.first_at, at)
        self.last_at = at if self.last_at is None else max(self.last_at, at)

    def _add(self, violation: Violation) -> Violation:
        self.counts[violation.rule] += 1
        if len(self.violations) < MAX_KEPT_VIOLATIONS:
            self.violations.append(violation)
        if self.on_violation is not None:
            self.on_violation(violation)
        return violation

    def _first_time(self, variant: str, msn: int | None, key: Hashable) -> bool:
        """True the first time `key` is reported for (variant, msn); MSN-less keys are kept for the run."""
        if msn is None:
            if (variant, key) in self._unnumbered:
                return False
            self._unnumbered.add((variant, key))
            return True
        bucket = self._variants.setdefault(variant, _VariantState()).reported.setdefault(msn, set())
        if key in bucket:
            return False
        bucket.add(key)
        return True

    def _emit_new(
        self, findings: list[Finding], url: str, viewer: str | None, at: float
    ) -> list[Violation]:
        emitted = []
        for f in findings:
            if self._first_time(url, f.msn, (f.rule, f.key if f.key is not None else f.message)):
                emitted.append(self._add(Violation(f.rule, f.message, url, viewer, f.msn, at)))
        return emitted

    def _prune(self, state: _VariantState, playlist: MediaPlaylist) -> None:
        """Forget per-MSN history (records, de-duplication keys) far behind the live edge."""
        if not playlist.segments:
            return
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

    # ------------------------------------------------------------------ variant-level rules

    def _check_variant(
        self, url: str, state: _VariantState, playlist: MediaPlaylist
    ) -> list[Finding]:
        """R4 (TARGETDURATION never changes, same in every variant) and P3 (PDT in all variants or none)."""
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
            for other, other_state in self._variants.items():
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

    def _check_segments(
        self, url: str, state: _VariantState, playlist: MediaPlaylist
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
                f"EXTINF text {second.extinf_text!r} {second_name}, {first.extinf_text!r} {first_name}"
                " (same value, different bytes)"
            )
        out += self._timeline_differences(first, second, first_name, second_name)
        return out

    def _timeline_differences(
        self, first: _Record, second: _Record, first_name: str, second_name: str
    ) -> list[str]:
        out = []
        if first.disc != second.disc:
            out.append(
                f"discontinuity sequence number {second.disc} {second_name}, {first.disc} {first_name}"
            )
        if first.pdt is not None and second.pdt is not None:
            if first.pdt_explicit and second.pdt_explicit:
                differs = round(first.pdt * 1000) != round(second.pdt * 1000)
            else:
                differs = abs(first.pdt - second.pdt) > self.tolerances.pdt_equal
            if differs:
                out.append(
                    f"PROGRAM-DATE-TIME {_date(second.pdt)} {second_name}, {_date(first.pdt)} {first_name}"
                )
        return out

    def _compare_variants(self, url: str, msn: int, record: _Record) -> list[Finding]:
        findings = []
        for other, other_state in self._variants.items():
            known = other_state.records.get(msn) if other != url else None
            if known is not None:
                findings += [
                    Finding("T2", m, msn)
                    for m in self._timeline_differences(known, record, f"in {other}", "here")
                ]
        return findings

    def _check_daterange_history(self, url: str, playlist: MediaPlaylist) -> list[Finding]:
        """D1/D3 across everything seen for the master: an ID keeps every attribute's raw value."""
        findings = []
        occurrences = daterange_occurrences(playlist)
        first_msn: dict[str, int] = {}
        for msn, attrs in occurrences:
            first_msn.setdefault(attrs.text("ID") or "", msn)
        for ident, attrs in merge_dateranges(occurrences).items():
            history = self._dateranges.setdefault(ident, {})
            for name, raw in attrs.items():
                known = history.get(name)
                if known is None:
                    history[name] = (raw, url)
                elif known[0] != raw:
                    rule = "D1" if name == "START-DATE" else "D3"
                    where = "earlier" if known[1] == url else f"in {known[1]}"
                    findings.append(
                        Finding(
                            rule,
                            f"DATERANGE ID={ident!r}: {name}={raw} now, {name}={known[0]} {where}",
                            first_msn[ident],
                        )
                    )
        return findings

    # ------------------------------------------------------------------ viewer-level rules

    def _check_reload(
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
            findings += _compare_reload(state.playlist, playlist)
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
                f"no new segment for {waited:.1f} s (limit {self.tolerances.stall_factor:g} × TARGETDURATION"
                f" {playlist.target_duration} + {self.tolerances.stall:g} s); newest is still MSN {state.newest_msn}",
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
                    f"last segment ends {-latency:.3f} s after the observation time (from the future)",
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
                f"latency {latency:.3f} s is {latency - state.min_latency:.3f} s above this viewer's best"
                f" {state.min_latency:.3f} s (limit {limit:g} s): drifting from live",
                msn,
                "drift",
            )
        ]

    # ------------------------------------------------------------------ poll rounds (D9)

    def _check_round(
        self, url: str, viewer: str | None, round_id: Hashable | None, playlist: MediaPlaylist
    ) -> list[Finding]:
        if round_id is None or not playlist.segments:
            return []
        current = self._rounds.get(viewer)
        if current is None or current[0] != round_id:
            current = (round_id, {})
            self._rounds[viewer] = current
        entries = current[1]
        entry = _RoundEntry(
            playlist.media_sequence,
            playlist.media_sequence + len(playlist.segments) - 1,
            merge_dateranges(daterange_occurrences(playlist)),
        )
        entries[url] = entry
        findings = []
        for other, other_entry in entries.items():
            same_window = (other_entry.media_sequence, other_entry.last_msn) == (
                entry.media_sequence,
                entry.last_msn,
            )
            if other == url or not same_window:
                continue
            for message in _daterange_differences(entry.dateranges, other_entry.dateranges, other):
                findings.append(Finding("D9", message, entry.media_sequence))
        return findings


# --------------------------------------------------------------------------- pure helpers


def _date(seconds: float) -> str:
    return format_datetime(seconds)


def _daterange_differences(
    mine: dict[str, dict[str, str]], theirs: dict[str, dict[str, str]], other: str
) -> list[str]:
    out = []
    for ident in sorted(set(mine) | set(theirs)):
        if ident not in theirs:
            out.append(f"DATERANGE ID={ident!r} is here but not in {other} (same window)")
        elif ident not in mine:
            out.append(f"DATERANGE ID={ident!r} is in {other} but not here (same window)")
        elif mine[ident] != theirs[ident]:
            names = sorted(set(mine[ident]) | set(theirs[ident]))
            diff = ", ".join(
                f"{n}={mine[ident].get(n, '(none)')} here vs {theirs[ident].get(n, '(none)')}"
                for n in names
                if mine[ident].get(n) != theirs[ident].get(n)
            )
            out.append(f"DATERANGE ID={ident!r} differs from {other}: {diff}")
    return out


def _compare_reload(previous: MediaPlaylist, current: MediaPlaylist) -> list[Finding]:
    """R5, T1 and R1 between two consecutive reloads of one variant by one viewer."""
    findings = []
    if current.media_sequence < previous.media_sequence:
        findings.append(
            Finding(
                "R5",
                f"EXT-X-MEDIA-SEQUENCE went back from {previous.media_sequence} to {current.media_sequence}",
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
    """R1: the tags before a kept segment may only lose entries (keep order); `allowed_extra` may join."""
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
