"""`rig inspect splices URL`: follow a live HLS stream and measure the audio at every splice.

`boundaries` is the pure core (what one splice measures from its two segments' bytes, which
boundaries a reload brings, a run's summary); `follow` the polling shell on a `Clock`; `cli` the
command line and its table. What is measured and why: docs/splices.md ("Checking any stream").
"""

from rig.inspect.boundaries import (
    Boundary,
    BoundaryTracker,
    CcProblem,
    SpliceReport,
    Summary,
    continuity_problems,
    measure,
    measure_scanned,
)
from rig.inspect.cli import (
    add_arguments,
    add_parser,
    execute,
    run,
    short_uri,
    summary_line,
    table_row,
)
from rig.inspect.follow import InspectError, follow, pick_variant

__all__ = [
    "Boundary",
    "CcProblem",
    "SpliceReport",
    "Summary",
    "BoundaryTracker",
    "InspectError",
    "measure",
    "measure_scanned",
    "continuity_problems",
    "follow",
    "pick_variant",
    "add_parser",
    "add_arguments",
    "execute",
    "run",
    "short_uri",
    "summary_line",
    "table_row",
]
