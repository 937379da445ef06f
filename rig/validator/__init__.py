"""The live-playlist validator: a pure `Checker` fed with playlists, collecting `Violation`s.

`rules` is the catalogue of rule ids; `findings` what checks yield; `values` what they read out of
a playlist; `playlist_checks` the rules one playlist shows; `checker` the `Checker`, with the
history it keeps in `variants`, `reloads` and `dateranges`. Which rule is checked at which scope:
docs/architecture.md ("How the validator checks"). Pure: no I/O, no clock.
"""

from rig.validator.checker import Checker
from rig.validator.findings import Finding, Tolerances, Violation
from rig.validator.playlist_checks import (
    check_master_playlist,
    check_media_playlist,
    classify_parse_error,
)
from rig.validator.values import (
    daterange_occurrences,
    decimal_value,
    effective_pdts,
    merge_dateranges,
    segment_directory,
)

__all__ = [
    "Checker",
    "Finding",
    "Tolerances",
    "Violation",
    "check_master_playlist",
    "check_media_playlist",
    "classify_parse_error",
    "daterange_occurrences",
    "decimal_value",
    "effective_pdts",
    "merge_dateranges",
    "segment_directory",
]
