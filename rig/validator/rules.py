"""The rule catalogue: every rule id the validator can report, its meaning and where it comes from.

Every `Finding` and `Violation` is built through `rule()`, so an id missing here raises instead of
being reported; `rig validate --rules` prints the catalogue, one line per rule. What the
references name, the spec background of every rule and the ids the validator does not report
(F1–F5, I1–I10): docs/references.md; the T-rules in full: docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

BIS = "RFC 8216bis"
INVARIANTS = 'project invariant, docs/architecture.md "Timeline invariants"'


@dataclass(frozen=True)
class Rule:
    """One rule: its id (`R9`), what it requires in one line, and where that is written."""

    id: str
    meaning: str
    reference: str

    def line(self) -> str:
        """`R9     a live playlist holds ... [RFC 8216bis §6.2.2]`: the form `--rules` prints."""
        return f"{self.id:<6} {self.meaning} [{self.reference}]"


class UnknownRule(LookupError):
    """A rule id that is not in the catalogue: a violation can only be built from a known rule."""


_CATALOGUE = (
    # ---- live media playlists, one playlist and across reloads (RFC 8216bis §4.4.3, §6.2)
    Rule(
        "R1",
        "between reloads a live playlist only appends, drops segments (with their tags) from "
        "the head, drops stale metadata, raises its sequence numbers or adds ENDLIST",
        f"{BIS} §6.2.1",
    ),
    Rule(
        "R4",
        "EXT-X-TARGETDURATION is a required integer that never changes and is the same in every "
        "variant; every EXTINF rounds to at most it",
        f"{BIS} §4.4.3.1, §6.2.1, §6.2.4",
    ),
    Rule(
        "R5",
        "EXT-X-MEDIA-SEQUENCE never decreases (it rises by one per segment removed)",
        f"{BIS} §4.4.3.2, §6.2.2",
    ),
    Rule(
        "R9",
        "a live playlist (no ENDLIST) always holds at least 3 × TARGETDURATION of media",
        f"{BIS} §6.2.2",
    ),
    Rule(
        "R10",
        "a live playlist gains a new segment at least every 1.5 × TARGETDURATION",
        f"{BIS} §6.2.1",
    ),
    Rule(
        "R12",
        "a segment stays downloadable after it leaves the window (until it first appeared + its "
        "duration + the longest playlist duration)",
        f"{BIS} §6.2.2",
    ),
    Rule("R13", "a live playlist carries no EXT-X-PLAYLIST-TYPE", f"{BIS} §6.2.2"),
    Rule(
        "R14",
        "a change of source, format, tracks or timestamps (every ad splice) is marked by "
        "EXT-X-DISCONTINUITY",
        f"{BIS} §4.4.4.3, §6.2.1",
    ),
    # ---- EXT-X-PROGRAM-DATE-TIME
    Rule(
        "P1",
        "a segment with EXT-X-DISCONTINUITY carries its own EXT-X-PROGRAM-DATE-TIME",
        f"{BIS} §6.2.1",
    ),
    Rule(
        "P2",
        "no PROGRAM-DATE-TIME makes the date-to-segment mapping ambiguous (PDTs follow the "
        "EXTINFs; no overlap after a discontinuity)",
        f"{BIS} §4.4.4.6, §6.2.1",
    ),
    Rule(
        "P3",
        "if one variant carries PROGRAM-DATE-TIME every variant does, with consistent mappings",
        f"{BIS} §6.2.4",
    ),
    Rule(
        "P4",
        "a playlist with an EXT-X-DATERANGE has at least one EXT-X-PROGRAM-DATE-TIME",
        f"{BIS} §4.4.5.1",
    ),
    # ---- EXT-X-DATERANGE
    Rule(
        "D1",
        "a DATERANGE ID names one range: never reused for another (no second START-DATE)",
        f"{BIS} §4.4.5.1, §6.2.1",
    ),
    Rule(
        "D2",
        "the first EXT-X-DATERANGE with an ID in a playlist has a START-DATE",
        f"{BIS} §4.4.5.1",
    ),
    Rule(
        "D3",
        "tags sharing a DATERANGE ID may add attributes but never change one (byte for byte, in "
        "one playlist or across reloads)",
        f"{BIS} §4.4.5.1",
    ),
    Rule(
        "D4",
        "END-DATE >= START-DATE, DURATION and PLANNED-DURATION >= 0, and END-DATE = START-DATE + "
        "DURATION when both are given",
        f"{BIS} §4.4.5.1",
    ),
    Rule(
        "D5",
        "DATERANGE attributes have their types: ID, CLASS, dates and interstitial strings quoted, "
        "durations and offsets unquoted decimals, SCTE35-* unquoted 0x hex",
        f"{BIS} §4.2, §4.4.5.1, Appendix D",
    ),
    Rule(
        "D6",
        "END-ON-NEXT=YES comes with a CLASS and without DURATION or END-DATE",
        f"{BIS} §4.4.5.1",
    ),
    Rule(
        "D9",
        "variants fetched together with the same window carry the same DATERANGEs with identical "
        "attributes",
        f"{BIS} §6.2.4",
    ),
    # ---- multivariant playlists
    Rule(
        "M1",
        "a multivariant playlist has variants, each with an integer BANDWIDTH, and no media "
        "playlist or segment tags (cues and interstitials go in every media playlist)",
        f"{BIS} §4.4.3, §4.4.4, §4.4.6.2",
    ),
    # ---- the project's timeline invariants (the validator checks T1-T3)
    Rule(
        "T1",
        "a media sequence number keeps its URI, EXTINF, discontinuity sequence number and PDT in "
        "every playlist that holds it; DISCONTINUITY-SEQUENCE never decreases",
        f"{INVARIANTS}; {BIS} §6.2.1, §6.2.2",
    ),
    Rule(
        "T2",
        "across a channel's variants a media sequence number has the same discontinuity "
        "sequence number and PDT",
        f"{INVARIANTS}; {BIS} §6.2.4",
    ),
    Rule(
        "T3",
        "the window keeps up with real time: no segment ends in the future, and a viewer's "
        "latency does not drift away from live",
        INVARIANTS,
    ),
    # ---- what the validator finds outside the rules above
    Rule(
        "STRUCT",
        "a layout the parser noted and read past (a tag between EXTINF and its URI; "
        "DISCONTINUITY or PDT after the last segment; an EXT-X-DATERANGE without a readable ID, "
        "which players ignore)",
        f"{BIS} §4.4.4; a failure mode of deployed stitchers (docs/references.md)",
    ),
    Rule("PARSE", "the response cannot be read as an HLS playlist", f"{BIS} §4"),
    Rule(
        "HTTP",
        "every playlist GET answers 200 in time; a listed segment answers HEAD (or a ranged GET)",
        f"{BIS} §6.2.1 (a segment is downloadable once listed)",
    ),
    Rule(
        "CORS",
        "every successful response carries Access-Control-Allow-Origin: *",
        'project HTTP contract, docs/architecture.md "HTTP contract"',
    ),
)

RULES: Mapping[str, Rule] = MappingProxyType({r.id: r for r in _CATALOGUE})


def rule(rule_id: str) -> Rule:
    """The catalogued rule `rule_id`; `UnknownRule` for an id the catalogue does not hold."""
    try:
        return RULES[rule_id]
    except (KeyError, TypeError):
        raise UnknownRule(
            f"unknown rule id {rule_id!r}: every reported rule must be in rig.validator.rules"
            " (`rig validate --rules` lists them)"
        ) from None


def catalogue_lines() -> list[str]:
    """The catalogue as `rig validate --rules` prints it: one line per rule, in catalogue order."""
    return [r.line() for r in _CATALOGUE]
