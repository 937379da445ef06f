"""`rig cue` and `rig splice`: the two ways to start an ad break from the command line.

Side effects: HTTP requests to the stitcher / origin of the running rig.
How and why: docs/rig.md, "`rig.cues_cli`".
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request

from origin_emulator.config import CUE_COMMANDS, CUE_FORMATS
from rig.settings import Settings
from stitcher.errors import RigError


def request(method: str, url: str, body: dict | None = None, token: str = "") -> dict:
    """One JSON request; an HTTP error becomes a RigError with the server's own message."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=data, method=method, headers=headers), timeout=10
        ) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", exc.reason)
        except ValueError:
            message = exc.reason
        raise RigError(f"{method} {url}: HTTP {exc.code}: {message}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise RigError(
            f"{method} {url}: cannot connect ({getattr(exc, 'reason', exc)}); is the rig running "
            "(rig up)?"
        ) from None


def add_arguments(subparsers: argparse._SubParsersAction, common) -> None:
    cue = subparsers.add_parser(
        "cue",
        help="start (or end) a manual ad break through the stitcher's /cue API",
        description="Start a manual ad break on a channel through the stitcher's /cue API (it "
        "starts at the first slot no viewer can have seen), or end one early with --end.",
    )
    cue.add_argument("channel", help="channel id")
    what = cue.add_mutually_exclusive_group(required=True)
    what.add_argument("--duration", type=float, help="break length in seconds")
    what.add_argument(
        "--end",
        metavar="EVENT_ID",
        help="return to network early from this break (cancel it if it has not started)",
    )
    cue.add_argument(
        "--start", help="ISO-8601 start time with a time zone (default: as soon as possible)"
    )
    cue.add_argument(
        "--url", help="stitcher base URL (default: from the settings, http://127.0.0.1:8080)"
    )
    cue.add_argument("--token", help="bearer token (default: stitcher.token)")
    common(cue)
    splice = subparsers.add_parser(
        "splice",
        help="inject a real SCTE-35 cue at the origin emulator",
        description="Schedule a real SCTE-35 cue at the origin emulator, in the channel's playlist "
        "format or another; the monitor turns it into a break.",
    )
    splice.add_argument("channel", help="channel id")
    splice.add_argument(
        "--duration",
        type=float,
        required=True,
        help="break length in seconds (snapped to whole segments)",
    )
    splice.add_argument(
        "--preroll",
        type=float,
        help="seconds between the cue and the splice point (default: the channel's)",
    )
    splice.add_argument(
        "--format", choices=CUE_FORMATS, help="playlist cue format (default: the channel's)"
    )
    splice.add_argument(
        "--command",
        dest="scte35_command",
        choices=CUE_COMMANDS,
        help="SCTE-35 command (default: the channel's)",
    )
    splice.add_argument(
        "--url", help="origin base URL (default: from the settings, http://127.0.0.1:8081)"
    )
    splice.add_argument("--token", help="bearer token (default: origin.token)")
    common(splice)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "cue":
        base = (args.url or f"http://{settings.stitcher.host}:{settings.stitcher.port}").rstrip("/")
        token = args.token if args.token is not None else settings.stitcher.token
        if args.end:
            body = request(
                "DELETE", f"{base}/v1/channels/{args.channel}/breaks/{args.end}", token=token
            )
            ending = (
                "cancelled" if body["cancelled"] else f"returns to network at {body['endTime']}"
            )
            print(f"{body['eventId']}: {ending}")
            return 0
        payload = {"duration": args.duration, **({"start": args.start} if args.start else {})}
        body = request("POST", f"{base}/v1/channels/{args.channel}/cue", payload, token)
        items = ", ".join(f"{i['id']} {i['duration']:g}s" for i in body["decision"]["items"])
        print(
            f"{body['eventId']}: {body['adStart']} to {body['endTime']} ({body['discontinuities']} "
            f"splices): {items}"
        )
        return 0
    base = (args.url or f"http://{settings.origin.host}:{settings.origin.port}").rstrip("/")
    payload = {"duration": args.duration}
    for name, attribute in (
        ("preroll", "preroll"),
        ("format", "format"),
        ("command", "scte35_command"),
    ):
        if getattr(args, attribute) is not None:
            payload[name] = getattr(args, attribute)
    token = args.token if args.token is not None else settings.origin.token
    body = request("POST", f"{base}/control/{args.channel}/splice", payload, token)
    print(
        f"splice {body['id']} on {args.channel}: {body['format']}/{body['command']}, starts "
        f"{body['start']}, {body['duration']:g} s"
    )
    return 0
