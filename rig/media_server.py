"""The media server: conditioned ads and slate from the media cache, over HTTP (aiohttp).

Side effects: reads files under the cache directory; `start_media_server` listens on a port.
How and why: docs/rig.md, "`rig.media_server`".
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from stitcher import http
from stitcher.errors import NotFound
from stitcher.http import start_site

log = logging.getLogger(__name__)

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_TYPE = "video/mp2t"
CACHE_CONTROL = "public, max-age=86400"
PORT_HINT = "another rig running? set RIG_ADS_PORT"
CACHE_DIR = web.AppKey("cache_dir", Path)
_COMPONENT = re.compile(r"[a-z0-9][a-z0-9_-]{0,127}")
_FILES = {re.compile(r"index\.m3u8"): PLAYLIST_TYPE, re.compile(r"seg_\d{5}\.ts"): SEGMENT_TYPE}


def resolve(cache_dir: Path, kind: str, parts: list[str], name: str) -> tuple[Path, str]:
    """The file for `/<kind>/<parts...>/<name>` and its content type, or NotFound (reads the file
    system)."""
    content_type = next((t for pattern, t in _FILES.items() if pattern.fullmatch(name)), None)
    if content_type is None:
        raise NotFound(f"{name!r} is not a playlist or segment name")
    for part in parts:
        if not _COMPONENT.fullmatch(part):
            raise NotFound(f"bad path component {part!r}")
    root = (cache_dir / kind).resolve()
    path = root.joinpath(*parts, name).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise NotFound(f"no {'/'.join([kind, *parts, name])} in the media cache")
    return path, content_type


def _file(request: web.Request, kind: str, parts: list[str]) -> web.FileResponse:
    path, content_type = resolve(request.app[CACHE_DIR], kind, parts, request.match_info["file"])
    return web.FileResponse(
        path, headers={"Content-Type": content_type, "Cache-Control": CACHE_CONTROL}
    )


async def ad_file(request: web.Request) -> web.StreamResponse:
    info = request.match_info
    return _file(request, "ads", [info["ad"], info["version"], info["rendition"]])


async def slate_file(request: web.Request) -> web.StreamResponse:
    info = request.match_info
    return _file(request, "slate", [info["version"], info["rendition"]])


async def healthz(request: web.Request) -> web.Response:
    cache_dir = request.app[CACHE_DIR]
    return web.json_response(
        {
            "ok": True,
            "pid": os.getpid(),  # which worker answered
            "cache_dir": str(cache_dir),
            "ads": (cache_dir / "ads").is_dir(),
            "slate": (cache_dir / "slate").is_dir(),
        }
    )


def create_app(cache_dir: Path) -> web.Application:
    """The media server over `cache_dir` (the rig's `media.cache_dir`)."""
    app = http.serving()
    app[CACHE_DIR] = Path(cache_dir)
    http.get(app, "/healthz", healthz)
    http.preflight(app, "GET, HEAD, OPTIONS")
    http.get(app, "/ads/{ad}/{version}/{rendition}/{file}", ad_file)
    http.get(app, "/slate/{version}/{rendition}/{file}", slate_file)
    http.close_routes(app)
    return app


async def start_media_server(
    cache_dir: Path, host: str, port: int, sockets: Sequence[socket.socket] = ()
) -> web.AppRunner:
    """Start serving (on `sockets`, listening sockets a parent passed, when given); returns the
    runner (call `cleanup()` to stop). Raises RigError if the port is taken."""
    runner = await start_site(
        create_app(cache_dir),
        host,
        port,
        "media server",
        PORT_HINT,
        sockets,
    )
    log.info("media server on http://%s:%s serving %s", host, port, cache_dir)
    return runner
