"""The demo page's routes (stitcher/demo.py) and its pinned hls.js version; the page itself plays in
tests/test_browser.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

from aiohttp import web

from stitcher import http
from stitcher.demo import HLSJS_RELATIVE, STATIC, add_demo_routes, find_hlsjs

REPO = Path(__file__).resolve().parent.parent


def app_with(hlsjs: Path | None) -> web.Application:
    app = http.serving()
    add_demo_routes(app, hlsjs=hlsjs)
    http.close_routes(app)
    return app


async def test_the_page_its_script_and_style_are_served(aiohttp_client, tmp_path):
    client = await aiohttp_client(app_with(tmp_path / "none.js"))
    response = await client.get("/demo", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/demo/"
    response = await client.get("/demo?mode=sgai", allow_redirects=False)
    assert response.headers["Location"] == "/demo/?mode=sgai"
    for path, kind, needle in (
        ("/demo/", "text/html", '<script src="demo.js">'),
        ("/demo/index.html", "text/html", "<video"),
        ("/demo/demo.js", "text/javascript", "window.rigDemo"),
        ("/demo/demo.css", "text/css", "video"),
    ):
        response = await client.get(path)
        assert response.status == 200, path
        assert response.headers["Content-Type"].startswith(kind)
        assert needle in await response.text()
    for path in (
        "/demo/nope.js",
        "/demo/../stitcher/demo.py",
        "/demo/%2e%2e/demo.py",
        "/demo/sub/demo.js",
    ):
        assert (await client.get(path)).status == 404, path


async def test_hlsjs_is_served_when_installed_else_404(aiohttp_client, tmp_path):
    build = tmp_path / "node_modules" / "hls.js" / "dist" / "hls.js"
    build.parent.mkdir(parents=True)
    build.write_text("var Hls = {};")
    client = await aiohttp_client(app_with(build))
    response = await client.get("/demo/hls.js")
    assert response.status == 200 and await response.text() == "var Hls = {};"
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert (await client.get("/demo/hls.js.map")).status == 404  # no map next to it
    build.with_name("hls.js.map").write_text("{}")
    assert (await client.get("/demo/hls.js.map")).status == 200
    assert find_hlsjs(tmp_path) == build and find_hlsjs(tmp_path / "elsewhere") is None
    missing = await aiohttp_client(app_with(tmp_path / "absent.js"))
    assert (await missing.get("/demo/hls.js")).status == 404  # the page then loads the CDN build


def test_one_pinned_hlsjs_version_with_interstitials():
    """package.json pins one exact hls.js >= 1.6 (interstitials), the page's CDN fallback is that
    version's full build, and an installed build is that version."""
    pin = json.loads((REPO / "package.json").read_text())["dependencies"]["hls.js"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pin), pin
    assert tuple(int(p) for p in pin.split(".")) >= (1, 6, 0)
    script = (STATIC / "demo.js").read_text()
    assert (
        f"'https://cdn.jsdelivr.net/npm/hls.js@{pin}/dist/hls.js'" in script
    )  # the full build, not hls.light
    lock = json.loads((REPO / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/hls.js"]["version"] == pin
    installed = REPO / HLSJS_RELATIVE.parent.parent / "package.json"
    if installed.is_file():
        assert json.loads(installed.read_text())["version"] == pin, (
            "node_modules is stale: run `make setup`"
        )


async def test_mounted_on_the_stitcher_app(aiohttp_client, tmp_path):
    """Mounted on the stitcher app (as `add_demo_routes(app)` in create_app), its guard
    applies: CORS on every answer, JSON 404 for a missing hls.js build."""
    from stitcher.app import create_app
    from stitcher.catalog import Catalog
    from stitcher.clock import FakeClock
    from stitcher.decision import HouseDecisions

    catalog = Catalog(tmp_path / "channels.db")
    try:
        app = create_app(catalog, HouseDecisions(catalog, "http://127.0.0.1:8082"), FakeClock(0.0))
        add_demo_routes(app, hlsjs=tmp_path / "absent.js")
        client = await aiohttp_client(app)
        page = await client.get("/demo/")
        assert page.status == 200 and page.headers["Access-Control-Allow-Origin"] == "*"
        assert "<video" in await page.text()
        missing = await client.get("/demo/hls.js")
        assert missing.status == 404 and "error" in await missing.json()
    finally:
        catalog.close()
