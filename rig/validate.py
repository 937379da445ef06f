"""`rig validate URL`: watch a live HLS stream like a handful of players would and report every
broken rule.

How and why: docs/rig.md, "`rig.validate`".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urljoin

import aiohttp

from rig.validator import Checker, Violation
from rig.validator import rules as catalogue
from stitcher.clock import Clock, SystemClock
from stitcher.playlist import MediaPlaylist, PlaylistError, parse_media_playlist, parse_playlist

__all__ = ["validate", "MasterUnavailable", "add_arguments", "run"]

DEFAULT_TARGET_DURATION = 6.0  # when the first variant cannot be read to learn the real one
REQUEST_TIMEOUT = 10.0  # seconds, per request
MAX_REMEMBERED_SEGMENTS = 50_000  # segment URIs remembered as already checked


class MasterUnavailable(Exception):
    """The URL given to `validate` could not be fetched at all (connection error, timeout, not
    200)."""


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class _Memory:
    """An insertion-ordered set of bounded size: `add` says whether the item is new."""

    def __init__(self, size: int = MAX_REMEMBERED_SEGMENTS):
        self._items: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def add(self, item: str) -> bool:
        if item in self._items:
            return False
        self._items[item] = None
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return True


class _Run:
    """The state of one `validate` call, shared by its viewers."""

    def __init__(
        self, checker: Checker, session: aiohttp.ClientSession, clock: Clock, check_segments: bool
    ):
        self.checker = checker
        self.session = session
        self.clock = clock
        self.check_segments = check_segments
        self.variants: list[str] = []
        self.probed = _Memory()  # segment URLs HEAD-checked when first seen
        self.retired = _Memory()  # segment URLs HEAD-checked when they left a window (R12)

    # ---------------------------------------------------------------- HTTP

    def check_cors(
        self, headers: Mapping[str, str], variant: str, what: str, viewer: str | None
    ) -> None:
        """CORS: the response must carry `Access-Control-Allow-Origin: *` (reported once per
        `what`)."""
        value = headers.get("Access-Control-Allow-Origin")
        if value != "*":
            self.checker.report(
                "CORS",
                f"{what} response has Access-Control-Allow-Origin: {value!r}, expected '*'",
                variant=variant,
                at=self.clock.now(),
                viewer=viewer,
                once_key=what,
            )

    async def get_playlist(self, url: str, variant: str, viewer: str | None) -> str | None:
        """GET a playlist; HTTP and CORS problems become violations and give None."""
        try:
            async with self.session.get(url) as response:
                text = await response.text()
                status, headers = response.status, response.headers
        except (TimeoutError, aiohttp.ClientError, UnicodeError, LookupError) as exc:
            self.checker.report(
                "HTTP",
                f"GET {url} failed: {_describe(exc)}",
                variant=variant,
                at=self.clock.now(),
                viewer=viewer,
            )
            return None
        if status != 200:
            self.checker.report(
                "HTTP",
                f"GET {url} returned {status}, expected 200",
                variant=variant,
                at=self.clock.now(),
                viewer=viewer,
            )
            return None
        self.check_cors(headers, variant, "playlist GET", viewer)
        return text

    async def check_segment(
        self, url: str, variant: str, msn: int, viewer: str, rule: str, why: str
    ) -> None:
        """HEAD a segment (ranged GET when HEAD gives 405); anything but success is a `rule`
        violation."""
        try:
            async with self.session.head(url, allow_redirects=True) as response:
                status, headers, method, good = response.status, response.headers, "HEAD", (200,)
            if status == 405:
                async with self.session.get(url, headers={"Range": "bytes=0-0"}) as response:
                    await response.read()
                    status, headers, method, good = (
                        response.status,
                        response.headers,
                        "GET",
                        (200, 206),
                    )
        except (TimeoutError, aiohttp.ClientError) as exc:
            self.checker.report(
                rule,
                f"{why}: {url} failed: {_describe(exc)}",
                variant=variant,
                at=self.clock.now(),
                viewer=viewer,
                msn=msn,
            )
            return
        if status not in good:
            self.checker.report(
                rule,
                f"{why}: {method} {url} returned {status}, expected {good[0]}",
                variant=variant,
                at=self.clock.now(),
                viewer=viewer,
                msn=msn,
            )
            return
        self.check_cors(headers, variant, f"segment {method}", viewer)

    # ---------------------------------------------------------------- viewers

    async def poll_variant(self, viewer: str, url: str, round_id: int) -> None:
        """One reload of one variant: fetch, check, then probe its new segments and those that
        left."""
        previous = self.checker.snapshot(url, viewer)
        text = await self.get_playlist(url, url, viewer)
        if text is None:
            return
        self.checker.observe_media(url, text, self.clock.now(), viewer=viewer, round_id=round_id)
        current = self.checker.snapshot(url, viewer)
        if not self.check_segments or current is None or current is previous:
            return
        checks = []
        known_up_to = (
            previous.media_sequence + len(previous.segments) - 1 if previous is not None else None
        )
        for msn, _, segment in current.numbered():
            if known_up_to is not None and msn <= known_up_to:
                continue  # this viewer has seen it: it was probed then (T1 reports a changed URI)
            absolute = urljoin(url, segment.uri)
            if self.probed.add(absolute):
                checks.append(self.check_segment(absolute, url, msn, viewer, "HTTP", "new segment"))
        if previous is not None:
            for msn, _, segment in previous.numbered():
                if msn >= current.media_sequence:
                    break
                absolute = urljoin(url, segment.uri)
                if self.retired.add(absolute):
                    why = "segment that just left the window"
                    checks.append(self.check_segment(absolute, url, msn, viewer, "R12", why))
        await asyncio.gather(*checks)

    async def viewer(self, name: str, join_at: float, end: float, interval: float) -> None:
        """Join at `join_at`, then reload every variant every `interval` seconds until `end`."""
        await self.clock.sleep(max(0.0, join_at - self.clock.now()))
        next_round = join_at
        round_id = 0
        while self.clock.now() < end:
            round_id += 1
            await asyncio.gather(*(self.poll_variant(name, url, round_id) for url in self.variants))
            next_round = max(next_round + interval, self.clock.now())
            await self.clock.sleep(max(0.0, min(next_round, end) - self.clock.now()))


async def _target_duration(run: _Run, url: str) -> float:
    """The first variant's TARGETDURATION (to pace the viewers), or the default when unreadable."""
    try:
        async with run.session.get(url) as response:
            if response.status == 200:
                return float(parse_media_playlist(await response.text()).target_duration)
    except (TimeoutError, aiohttp.ClientError, UnicodeError, LookupError, PlaylistError):
        pass
    return DEFAULT_TARGET_DURATION


async def validate(
    url: str,
    *,
    seconds: float,
    viewers: int,
    clock: Clock,
    session: aiohttp.ClientSession | None = None,
    check_segments: bool = True,
    poll_interval: float | None = None,
    on_violation: Callable[[Violation], None] | None = None,
    checker: Checker | None = None,
) -> Checker:
    """Watch the stream at `url` (master or media playlist) for `seconds` of `clock` time with
    `viewers` simulated players and return the checker holding every violation.

    Viewer k joins k × min(TD, seconds / (2 × viewers)) after the start; each reloads all variants
    together (one poll round, see rig.validator) every `poll_interval` seconds (default TD / 2).
    `on_violation` is called for each violation as it is found. Pass `checker` to keep its results
    even if the run is interrupted, or to set its tolerances. Raises MasterUnavailable when `url`
    cannot be fetched.
    """
    checker = checker if checker is not None else Checker()
    if on_violation is not None:
        checker.on_violation = on_violation
    own_session = session is None
    if session is None:
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT))
    try:
        run = _Run(checker, session, clock, check_segments)
        start = clock.now()
        try:
            async with session.get(url) as response:
                text = await response.text()
                status, headers = response.status, response.headers
        except (TimeoutError, aiohttp.ClientError, UnicodeError, LookupError) as exc:
            raise MasterUnavailable(f"GET {url} failed: {_describe(exc)}") from exc
        if status != 200:
            raise MasterUnavailable(f"GET {url} returned {status}")
        run.check_cors(headers, url, "master GET", None)
        try:
            playlist = parse_playlist(text)
        except PlaylistError as exc:
            checker.report(
                "PARSE",
                f"neither a master nor a media playlist: {exc}",
                variant=url,
                at=clock.now(),
            )
            return checker
        if isinstance(playlist, MediaPlaylist):
            run.variants = [url]
        else:
            checker.observe_master(url, text, clock.now())
            run.variants = list(dict.fromkeys(urljoin(url, v.uri) for v in playlist.variants))
        target = await _target_duration(run, run.variants[0])
        interval = poll_interval if poll_interval is not None else target / 2
        stagger = min(target, seconds / (2 * max(1, viewers)))
        end = start + seconds
        await asyncio.gather(
            *(
                run.viewer(f"viewer-{k}", start + k * stagger, end, interval)
                for k in range(max(1, viewers))
            )
        )
        return checker
    finally:
        if own_session:
            await session.close()


# --------------------------------------------------------------------------- CLI


class _PrintRules(argparse.Action):
    """`--rules`: print the rule catalogue (id, meaning, reference) and exit 0, like `--help`."""

    def __call__(self, parser, namespace, values, option_string=None):
        print("\n".join(catalogue.catalogue_lines()))
        parser.exit(0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `rig validate`."""
    parser.add_argument(
        "url", metavar="URL", help="master (multivariant) or media playlist URL of a live stream"
    )
    parser.add_argument(
        "--rules",
        action=_PrintRules,
        nargs=0,
        help="print every rule id this command can report (id, meaning, spec reference) and exit",
    )
    parser.add_argument(
        "--seconds", type=float, default=30.0, help="how long to watch (default: 30)"
    )
    parser.add_argument(
        "--viewers",
        type=int,
        default=3,
        help="simulated viewers joining at staggered times (default: 3)",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=None,
        help="seconds between reloads of each viewer (default: half the target duration)",
    )
    parser.add_argument(
        "--no-segments",
        dest="check_segments",
        action="store_false",
        help="do not HEAD segments (new ones, and ones leaving the window: R12)",
    )
    parser.add_argument(
        "--json", metavar="FILE", default=None, help="also write the JSON summary to FILE"
    )


def run(args: argparse.Namespace) -> int:
    """Run `rig validate`: violations as lines while watching, then the JSON summary.

    Exit status: 0 no violation, 1 violations, 2 the URL could not be fetched at all.
    """
    checker = Checker(on_violation=lambda v: print(v.line(), flush=True))
    try:
        asyncio.run(
            validate(
                args.url,
                seconds=args.seconds,
                viewers=args.viewers,
                clock=SystemClock(),
                check_segments=args.check_segments,
                poll_interval=args.poll_interval,
                checker=checker,
            )
        )
    except MasterUnavailable as exc:
        print(f"rig validate: cannot fetch {args.url}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rig validate: interrupted", file=sys.stderr)
    text = json.dumps(checker.summary(), indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0 if checker.ok else 1
