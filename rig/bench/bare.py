"""The bare-handler baseline of `rig bench load`: an aiohttp server with one route answering a
file's bytes with the headers the stitcher sends for them, started the way the stitcher is
(`stitcher.http.start_site`, the same Python and event loop), so that the difference is what the
stitcher does per request.

Run as `python -m rig.bench.bare --port P --body FILE --path /ssai/news/x.m3u8 [--processes N]`;
SIGHUP reads FILE again (every process).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
from pathlib import Path

from aiohttp import web

from stitcher.http import listen, start_site
from stitcher.processes import server_gc


def app(path: str, body: list[bytes], headers: dict[str, str]) -> web.Application:
    """One route answering `body[0]` (a list: SIGHUP puts the file's new bytes there)."""

    async def answer(_: web.Request) -> web.Response:
        return web.Response(body=body[0], headers=headers)

    application = web.Application()
    application.router.add_get(path, answer)
    return application


async def serve(
    application: web.Application, sockets: list[socket.socket], body: list[bytes], file: Path
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # the bench gives the stitcher's current bytes before each measurement: read them again
    loop.add_signal_handler(signal.SIGHUP, lambda: body.__setitem__(0, file.read_bytes()))
    runner = await start_site(application, "", 0, "the bare baseline", sockets=sockets)
    server_gc()  # as every server of the rig does
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rig.bench.bare", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body", type=Path, required=True, help="the bytes to answer")
    parser.add_argument("--path", required=True, help="the one route")
    parser.add_argument("--etag", default='"bare"')
    parser.add_argument("--cache-control", default="public, max-age=1")
    parser.add_argument("--processes", type=int, default=1, help="processes on the one socket")
    args = parser.parse_args(argv)
    headers = {
        "Content-Type": "application/vnd.apple.mpegurl",
        "ETag": args.etag,
        "Cache-Control": args.cache_control,
        "Access-Control-Allow-Origin": "*",
    }
    body = [args.body.read_bytes()]
    application = app(args.path, body, headers)
    sockets = listen("127.0.0.1", args.port, "the bare baseline")
    for _ in range(args.processes - 1):
        if os.fork() == 0:
            break
    asyncio.run(serve(application, sockets, body, args.body))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
