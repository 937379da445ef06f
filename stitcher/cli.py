"""`stitcher`: the stateless manifest stitcher's command line (serve, monitor).

Not built yet: the KV, monitor and stitcher arrive with the next issues. This entry point
exists so the console script named in DESIGN.md is installed and says so clearly.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stitcher", description="The stateless SSAI/SGAI manifest stitcher (serve, monitor).")
    parser.add_argument("command", nargs="?", choices=["serve", "monitor"], help="what to run")
    args = parser.parse_args(argv)
    print(f"stitcher: '{args.command or 'serve'}' is not implemented yet (see the project's open issues)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
