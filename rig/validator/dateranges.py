"""The DATERANGEs seen across a master's variants: each ID's history and the poll rounds.

D1/D3 across everything seen: an ID keeps every attribute's raw value, in every variant and
reload. D9: observations passed with the same `(viewer, round_id)` are one poll round; two
variants of one round with the same window carry the same DATERANGEs. Only the latest round of
each viewer is kept; the history is kept by ID.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from rig.validator.findings import Finding
from rig.validator.values import daterange_occurrences, merge_dateranges
from stitcher.playlist import MediaPlaylist


@dataclass(frozen=True)
class _RoundEntry:
    media_sequence: int
    last_msn: int
    dateranges: dict[str, dict[str, str]]


class Dateranges:
    """Every DATERANGE ID seen (attribute -> first raw value, and where) and each viewer's latest
    poll round."""

    def __init__(self) -> None:
        self._history: dict[str, dict[str, tuple[str, str]]] = {}  # ID -> attribute -> (raw, URL)
        self._rounds: dict[str | None, tuple[Hashable, dict[str, _RoundEntry]]] = {}

    def check_history(self, url: str, playlist: MediaPlaylist) -> list[Finding]:
        """D1/D3 across everything seen for the master: an ID keeps every attribute's raw value."""
        findings = []
        occurrences = daterange_occurrences(playlist)
        first_msn: dict[str, int] = {}
        for msn, attrs in occurrences:
            first_msn.setdefault(attrs.text("ID") or "", msn)
        for ident, attrs in merge_dateranges(occurrences).items():
            history = self._history.setdefault(ident, {})
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

    def check_round(
        self, url: str, viewer: str | None, round_id: Hashable | None, playlist: MediaPlaylist
    ) -> list[Finding]:
        """D9 against the other variants of this viewer's poll round `round_id` (None: no round)."""
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
            for message in _round_differences(entry.dateranges, other_entry.dateranges, other):
                findings.append(Finding("D9", message, entry.media_sequence))
        return findings


def _round_differences(
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
