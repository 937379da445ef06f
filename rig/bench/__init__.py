"""`rig bench`: measurements of the rig on this machine. `kv` (the KV backends, `rig.bench.kv`) and
`load` (viewers against the stitcher, the edge and two baselines, `rig.bench.load`).

How and why: docs/rig.md, "`rig.bench`"; docs/performance.md.
"""

from __future__ import annotations

import argparse

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    """`rig bench` and its targets, on the `rig` command's subparsers."""
    from rig.bench import kv, load

    bench = sub.add_parser(
        "bench",
        help="benchmarks: the KV backends; viewer load on the stitcher and the edge",
        description="Measure parts of the rig on this machine; figures go to a JSON file.",
    )
    targets = bench.add_subparsers(dest="bench_command", required=True, metavar="TARGET")
    kv.add_parser(targets)
    load.add_parser(targets)


def run(args: argparse.Namespace) -> int:
    from rig.bench import kv, load

    return (kv if args.bench_command == "kv" else load).run(args)
