"""The demo page: an hls.js player of the rig's streams, served at `/demo/` (plain HTML + JS, no
build step).

Side effects: reads files under stitcher/demo/ and the hls.js build; nothing else.
How and why: docs/stitcher.md, "`stitcher.demo`".
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from stitcher import http

STATIC = Path(__file__).parent / "demo"
REPO_ROOT = Path(__file__).resolve().parent.parent
HLSJS_RELATIVE = Path("node_modules") / "hls.js" / "dist" / "hls.js"

_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".map": "application/json",
}
_PAGE_FILES = {
    "": "index.html",
    "index.html": "index.html",
    "demo.js": "demo.js",
    "demo.css": "demo.css",
}


def find_hlsjs(*roots: Path) -> Path | None:
    """The full hls.js build under `node_modules` of the first root that has it (default: the repo
    root, then the working directory), or None."""
    for root in roots or (REPO_ROOT, Path.cwd()):
        candidate = root / HLSJS_RELATIVE
        if candidate.is_file():
            return candidate
    return None


def _file(path: Path, cache: str) -> web.FileResponse:
    return web.FileResponse(
        path,
        headers={
            "Content-Type": _TYPES.get(path.suffix, "application/octet-stream"),
            "Cache-Control": cache,
        },
    )


def add_demo_routes(app: web.Application, hlsjs: Path | None = None, prefix: str = "/demo") -> None:
    """Add the demo page's GET routes under `prefix` to `app`.

    `hlsjs`: the full hls.js build to serve as `{prefix}/hls.js` (default: `find_hlsjs()`, looked up
    per request so a later `npm ci` is picked up without a restart)."""

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(
            f"{prefix}/" + (f"?{request.query_string}" if request.query_string else "")
        )

    async def page_file(request: web.Request) -> web.StreamResponse:
        name = _PAGE_FILES.get(request.match_info.get("name", ""))
        if name is None:
            raise web.HTTPNotFound()
        return _file(STATIC / name, "no-cache")

    async def hls_file(request: web.Request) -> web.StreamResponse:
        build = hlsjs if hlsjs is not None else find_hlsjs()
        if build is None or not build.is_file():
            raise web.HTTPNotFound(
                reason="hls.js is not installed here (run `make setup` with npm on PATH); the page"
                " uses the CDN"
            )
        path = build if request.match_info["ext"] == "js" else build.with_name(build.name + ".map")
        if not path.is_file():
            raise web.HTTPNotFound()
        return _file(path, "public, max-age=300")

    http.get(app, prefix, redirect)
    # before the page's files: `hls.js` matches both
    http.get(app, prefix + "/hls.{ext:js|js\\.map}", hls_file)
    http.get(app, prefix + "/{name:(?:[a-z]+\\.(?:html|js|css))?}", page_file)
