"""The rules one playlist shows on its own: pure functions from a playlist to findings.

Media playlists: R4, R9, R13, R14 (a change of segment directory without a DISCONTINUITY: a
heuristic for ad splices), P1, P2, P4, D1–D6 and STRUCT (the parser's notes); master playlists:
M1. The `Checker` runs them on every playlist it is fed. Side effects: none.
"""

from __future__ import annotations

import math

from rig.validator.findings import Finding, Tolerances
from rig.validator.values import (
    date_value,
    daterange_occurrences,
    decimal_value,
    effective_pdts,
    merge_dateranges,
    segment_directory,
    type_problems,
)
from stitcher.playlist import MasterPlaylist, MediaPlaylist, PlaylistError, format_datetime


def _when(seconds: float) -> str:
    return format_datetime(seconds)


# --------------------------------------------------------------------------- media playlists


def check_media_playlist(
    playlist: MediaPlaylist,
    url: str,
    tolerances: Tolerances = Tolerances(),  # noqa: B008 - frozen: one value for all
    text: str | None = None,
) -> list[Finding]:
    """All single-playlist findings for one media playlist fetched from `url`.

    `text` (the playlist as fetched) lets parser notes be attributed to the segment they concern.
    """
    findings: list[Finding] = []
    findings += _check_durations(playlist)
    findings += _check_pdt(playlist, tolerances)
    findings += _check_splices(playlist, url)
    findings += _check_dateranges(playlist, tolerances)
    findings += _check_notes(playlist, text)
    return findings


def _check_notes(playlist: MediaPlaylist, text: str | None) -> list[Finding]:
    """STRUCT: the parser's notes. A note `line N: ...` concerns the segment whose URI follows
    line N."""
    uri_lines: list[int] = []
    if text is not None and playlist.notes:
        body = text[1:] if text.startswith("\ufeff") else text
        for number, line in enumerate(body.splitlines(), start=1):
            line = line.strip()
            if line and not line.startswith("#"):
                uri_lines.append(number)
    findings = []
    for note in playlist.notes:
        msn = None
        head, colon, _ = note.partition(":")
        if text is not None and colon and head.startswith("line ") and head[5:].isdigit():
            line = int(head[5:])
            msn = playlist.media_sequence + sum(1 for n in uri_lines if n < line)
        key = "".join(c for c in note if not c.isdigit())  # line numbers shift as the window slides
        findings.append(Finding("STRUCT", note, msn, key))
    return findings


def _check_durations(playlist: MediaPlaylist) -> list[Finding]:
    findings = []
    target = playlist.target_duration
    for msn, _, segment in playlist.numbered():
        rounded = math.floor(segment.duration + 0.5)
        if rounded > target:
            findings.append(
                Finding(
                    "R4",
                    f"EXTINF {segment.extinf} rounds to {rounded} > EXT-X-TARGETDURATION {target}",
                    msn,
                )
            )
    live = not playlist.endlist
    if live and playlist.duration < 3 * target - 1e-9:
        findings.append(
            Finding(
                "R9",
                f"live window holds {playlist.duration:.3f} s in {len(playlist.segments)} segments,"
                f" less than 3 × TARGETDURATION = {3 * target} s",
                playlist.media_sequence,
                "R9",
            )
        )
    if live and playlist.playlist_type:
        findings.append(
            Finding(
                "R13",
                "live playlist (no EXT-X-ENDLIST) carries"
                f" EXT-X-PLAYLIST-TYPE:{playlist.playlist_type}",
            )
        )
    return findings


def _check_pdt(playlist: MediaPlaylist, tolerances: Tolerances) -> list[Finding]:
    findings = []
    uses_pdt = any(s.program_date_time is not None for s in playlist.segments)
    if not uses_pdt:
        if any(t.name == "EXT-X-DATERANGE" for s in playlist.segments for t in s.tags) or any(
            t.name == "EXT-X-DATERANGE" for t in playlist.trailing_tags
        ):
            findings.append(
                Finding("P4", "playlist has EXT-X-DATERANGE but no EXT-X-PROGRAM-DATE-TIME")
            )
        return findings
    dates = effective_pdts(playlist)
    previous: tuple[float | None, float] = (None, 0.0)
    for (msn, _, segment), (date, explicit) in zip(playlist.numbered(), dates):
        if segment.discontinuity and segment.program_date_time is None:
            findings.append(
                Finding(
                    "P1", "segment with EXT-X-DISCONTINUITY has no EXT-X-PROGRAM-DATE-TIME", msn
                )
            )
        before, before_duration = previous
        if explicit and date is not None and before is not None:
            expected = before + before_duration
            if not segment.discontinuity and abs(date - expected) > tolerances.pdt:
                findings.append(
                    Finding(
                        "P2",
                        f"PROGRAM-DATE-TIME {_when(date)} but previous PDT {_when(before)} + EXTINF"
                        f" {before_duration:g} = {_when(expected)}"
                        f" ({(date - expected) * 1000:+.0f} ms)",
                        msn,
                    )
                )
            elif segment.discontinuity and date < expected - tolerances.pdt:
                findings.append(
                    Finding(
                        "P2",
                        f"after DISCONTINUITY, PROGRAM-DATE-TIME {_when(date)} is before the end"
                        f" of the previous segment {_when(expected)}"
                        f" (overlap {(expected - date) * 1000:.0f} ms:"
                        " dates map to two segments)",
                        msn,
                    )
                )
        previous = (date, segment.duration)
    return findings


def _check_splices(playlist: MediaPlaylist, url: str) -> list[Finding]:
    """R14 heuristic: consecutive segments from different directories are a splice: DISCONTINUITY
    needed."""
    findings = []
    previous_dir: str | None = None
    for msn, _, segment in playlist.numbered():
        directory = segment_directory(url, segment.uri)
        if previous_dir is not None and directory != previous_dir and not segment.discontinuity:
            findings.append(
                Finding(
                    "R14",
                    f"segment {segment.uri} comes from {directory}/ but the previous one from"
                    f" {previous_dir}/ and there is no EXT-X-DISCONTINUITY between them"
                    " (splice without discontinuity)",
                    msn,
                )
            )
        previous_dir = directory
    return findings


def _check_dateranges(playlist: MediaPlaylist, tolerances: Tolerances) -> list[Finding]:
    findings: list[Finding] = []
    occurrences = daterange_occurrences(playlist)
    first_msn: dict[str, int] = {}
    seen: dict[str, dict[str, str]] = {}
    for msn, attrs in occurrences:
        ident = attrs.text("ID") or ""
        findings += [Finding("D5", problem, msn) for problem in type_problems(attrs, ident)]
        if ident not in seen:
            first_msn[ident] = msn
            seen[ident] = {}
            if "START-DATE" not in attrs:
                findings.append(
                    Finding("D2", f"first EXT-X-DATERANGE with ID={ident!r} has no START-DATE", msn)
                )
        known = seen[ident]
        for name, raw in attrs.items:
            if name in known and known[name] != raw:
                rule = "D1" if name == "START-DATE" else "D3"
                findings.append(
                    Finding(
                        rule,
                        f"DATERANGE ID={ident!r} gives {name}={known[name]} and later {name}={raw}",
                        msn,
                    )
                )
            known.setdefault(name, raw)
    for ident, attrs in merge_dateranges(occurrences).items():
        msn = first_msn[ident]
        findings += [Finding("D4", m, msn) for m in _d4(ident, attrs, tolerances)]
        findings += [Finding("D6", m, msn) for m in _d6(ident, attrs)]
    return findings


def _d4(ident: str, attrs: dict[str, str], tolerances: Tolerances) -> list[str]:
    problems = []
    start, end = date_value(attrs.get("START-DATE")), date_value(attrs.get("END-DATE"))
    duration = decimal_value(attrs.get("DURATION"))
    planned = decimal_value(attrs.get("PLANNED-DURATION"))
    if start is not None and end is not None and end < start:
        problems.append(f"END-DATE {attrs['END-DATE']} is before START-DATE {attrs['START-DATE']}")
    if duration is not None and duration < 0:
        problems.append(f"DURATION={attrs['DURATION']} is negative")
    if planned is not None and planned < 0:
        problems.append(f"PLANNED-DURATION={attrs['PLANNED-DURATION']} is negative")
    if start is not None and end is not None and duration is not None:
        span = (end - start).total_seconds()
        if abs(span - duration) > tolerances.date:
            problems.append(f"END-DATE − START-DATE = {span:g} s but DURATION={attrs['DURATION']}")
    return [f"DATERANGE ID={ident!r}: {p}" for p in problems]


def _d6(ident: str, attrs: dict[str, str]) -> list[str]:
    if attrs.get("END-ON-NEXT") != "YES":
        return []
    problems = []
    if "CLASS" not in attrs:
        problems.append("END-ON-NEXT=YES without CLASS")
    for name in ("DURATION", "END-DATE"):
        if name in attrs:
            problems.append(f"END-ON-NEXT=YES with {name}={attrs[name]}")
    return [f"DATERANGE ID={ident!r}: {p}" for p in problems]


# --------------------------------------------------------------------------- master playlists


def check_master_playlist(playlist: MasterPlaylist) -> list[Finding]:
    """M1: a multivariant playlist has variants with an integer BANDWIDTH and no media-playlist
    tags."""
    findings = [
        Finding("M1", note, None, "".join(c for c in note if not c.isdigit()))
        for note in playlist.notes
    ]
    for variant in playlist.variants:
        raw = variant.attributes.raw("BANDWIDTH") or ""
        if not raw.isdigit():
            findings.append(
                Finding("M1", f"variant {variant.uri} has BANDWIDTH={raw}, not a decimal-integer")
            )
    return findings


def classify_parse_error(error: PlaylistError, master: bool) -> str:
    """The rule a parse failure breaks: R4 for a missing or non-integer TARGETDURATION, M1 for a
    master without variants or BANDWIDTH, otherwise PARSE (the parser's message says what)."""
    text = str(error)
    if not master and "EXT-X-TARGETDURATION" in text:
        return "R4"
    if master and ("BANDWIDTH" in text or "without variants" in text):
        return "M1"
    return "PARSE"
