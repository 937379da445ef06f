"""Real-browser tests: the demo page (rig/demo.py) in headless Chromium plays the rig's streams with hls.js.

Debian's `chromium` driven by Playwright for Python through `executable_path` (Playwright's own
browser download is never used). The page is served by a small aiohttp server of the test's own
(`rig.demo.add_demo_routes`) and plays from a real `rig up --headless` passed as `?base=`: every
rig response carries `Access-Control-Allow-Origin: *`. The rig runs the small test config with
its scheduled break switched off, so the only break in sight is the test's own /cue break.

- SSAI across a whole /cue break: currentTime keeps advancing (the longest time it did not
  advance, sampled every 0.5 s, is shorter than one segment), no fatal error, no
  levelParsingError, content, then ad (or slate) segments, then content.
- SGAI across a whole /cue break: hls.js fires INTERSTITIAL_STARTED and INTERSTITIAL_ENDED for the
  break's DATERANGE ID, starts at least one asset and buffers its /ads/ segments; content before
  and after; the same playback figures as SSAI.
- Without a local hls.js build the page loads the pinned version from the CDN (answered here by
  the test from the local build: no CDN is reachable from this machine).
The measured figures go to a JSON file in each test's tmp dir and are printed (`pytest -s`), with
a screenshot of the page during the break.

Without chromium, Playwright or the hls.js build (`npm ci`, run by `make setup`) these tests are
skipped with the reason - except in CI (`CI=true`), where they fail: CI must not lose them.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
import time
import urllib.error
from datetime import datetime, timezone
from pathlib import Path

import pytest
from aiohttp import web

from rig.demo import HLSJS_RELATIVE, add_demo_routes, find_hlsjs
from tests.conftest import SMALL_CONFIG
from tests.test_realtime import free_port, rig_up
from tests.test_realtime_stitcher import fetch

pytestmark = [pytest.mark.realtime, pytest.mark.browser]

REPO = Path(__file__).resolve().parent.parent
SEGMENT = 2.0  # the small config's segment duration (one target duration)
WINDOW = 12.0  # its window: 6 segments
BREAK = 12  # seconds: the small rig's one 10 s house ad, then slate
BOUND = 90  # seconds: one test, from posting the cue to the verdict
CHROMIUM_ARGS = ["--autoplay-policy=no-user-gesture-required", "--mute-audio"]
# hls.js's words when it gives up waiting at a boundary and jumps to the live edge
LIVE_RESYNC = "is located too far from the end of live sliding playlist"


# --------------------------------------------------------------------------- what the tests need


def chromium_path() -> str | None:
    configured = os.environ.get("RIG_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def require(condition: bool, missing: str) -> None:
    """Skip the calling test with `missing` as the reason - or fail it in CI (`CI=true`)."""
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(missing + " - CI must run the browser tests", pytrace=False)
    pytest.skip(missing)


@pytest.fixture(scope="module")
def chromium():
    """Headless Debian Chromium under Playwright (sync API), for the module."""
    path = chromium_path()
    require(path is not None, "chromium is not installed (apt-get install chromium): browser tests not run")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "Playwright for Python is not installed (pip install -e '.[test]'): browser tests not run")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def hlsjs() -> Path:
    build = find_hlsjs()
    require(build is not None, f"the hls.js build ({HLSJS_RELATIVE}) is missing (run `make setup` with npm on PATH): browser tests not run")
    return build


class ThreadServer:
    """An aiohttp app on a free loopback port, served by its own event loop in a daemon thread
    (Playwright's sync API must not run inside an asyncio loop, so the test itself has none)."""

    def __init__(self, app: web.Application):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(app, access_log=None)
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._runner.setup())
            self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="demo-server", daemon=True)
        self._thread.start()
        assert started.wait(10), "the demo server did not start"

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def demo_server(hlsjs: Path | None) -> ThreadServer:
    app = web.Application()
    add_demo_routes(app, hlsjs=hlsjs)
    return ThreadServer(app)


@pytest.fixture(scope="module")
def demo(hlsjs):
    """The demo page's server (the page only; the streams come from the rig, cross-origin)."""
    server = demo_server(hlsjs)
    yield server.url
    server.close()


@pytest.fixture(scope="module")
def browser_rig(tmp_path_factory, small_content, chromium, hlsjs):
    """`rig up --headless` on free ports with the small config minus its scheduled break (one house ad).
    Requests the browser fixtures first, so a machine without them skips before starting the rig."""
    config = SMALL_CONFIG.read_text()
    assert "\nbreak_every = 60\n" in config, "the small config changed: adapt the browser tests"
    path = tmp_path_factory.mktemp("browser-config") / "small-no-scheduled-breaks.toml"
    path.write_text(config.replace("\nbreak_every = 60\n", "\nbreak_every = 0\n"))
    with rig_up(path, tmp_path_factory.mktemp("browser-rig-state")) as (api, _):
        yield api


# --------------------------------------------------------------------------- one break, watched


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


_last_break_end = 0.0


def post_break(api: str, duration: float) -> dict:
    """A /cue break a few seconds ahead. A page loaded now starts ~6 s behind live, so it must not
    find the previous test's break still in the window (hls.js would join that interstitial)."""
    global _last_break_end
    time.sleep(max(0.0, _last_break_end + WINDOW + SEGMENT - time.time()))
    for lead in (6, 8, 10, 12, 14):
        start = datetime.fromtimestamp(time.time() + lead, tz=timezone.utc).isoformat()
        try:
            record = json.loads(fetch(f"{api}/v1/channels/news/cue", "POST", {"duration": duration, "start": start})[1])
        except urllib.error.HTTPError as exc:
            assert exc.code == 409, exc.read()
            continue
        _last_break_end = epoch(record["endTime"])
        return record
    pytest.fail("no free slot for a /cue break")


SAMPLE = """() => ({
  currentTime: document.getElementById('video').currentTime,
  paused: document.getElementById('video').paused,
  readyState: document.getElementById('video').readyState,
  playingAd: window.rigDemo.playingAd, latency: window.rigDemo.latency, playingDate: window.rigDemo.playingDate,
  fatal: window.rigDemo.fatal,
})"""

PROGRESS = """() => ({
  fragments: window.rigDemo.fragments, latency: window.rigDemo.latency,
  started: window.rigDemo.interstitialsStarted.map(e => e.id), ended: window.rigDemo.interstitialsEnded,
})"""


def content_after(fragments: list[dict], t: float) -> list[dict]:
    return [f for f in fragments if f["t"] > t and not f["ad"] and not f["underInterstitial"]]


def break_played(mode: str, progress: dict, ident: str | None) -> bool:
    """Has content played for a while after the break? (the end of the watch)"""
    frags = progress["fragments"]
    if mode == "sgai":
        ended = [e["t"] for e in progress["ended"] if e["id"] == ident]
        return bool(ended) and len(content_after(frags, ended[0])) >= 2
    ads = [f["t"] for f in frags if f["ad"]]
    return bool(ads) and len(content_after(frags, ads[-1])) >= 3


def interstitial_tag(api: str, event: str) -> tuple[str | None, str]:
    """The break's interstitial DATERANGE ID in the SGAI playlist now (None: not there), and the playlist."""
    body = fetch(f"{api}/sgai/news/hi.m3u8")[1]
    for line in body.splitlines():
        if line.startswith("#EXT-X-DATERANGE:") and 'CLASS="com.apple.hls.interstitial"' in line and f'ID="ad-{event}-' in line:
            return line.split('ID="', 1)[1].split('"', 1)[0], body
    return None, body


def watch_break(page, mode: str, record: dict, started: float, api: str, shot: Path) -> dict:
    """Sample the page every 0.5 s until content has played after the break (bounded by BOUND).
    The longest non-advance of currentTime counts from its first advance (after start-up)."""
    samples: list[dict] = []
    last_value, last_change, longest, longest_at = None, None, 0.0, None
    daterange: dict = {}
    ad_samples = 0
    while True:
        s = page.evaluate(SAMPLE)
        wall = time.monotonic()
        s["wall"] = round(time.time(), 3)
        samples.append(s)
        if s["fatal"]:
            break
        if last_value is None:
            last_value = s["currentTime"]
        elif s["currentTime"] != last_value:
            if last_change is not None and wall - last_change > longest:
                longest, longest_at = wall - last_change, s["wall"]
            last_value, last_change = s["currentTime"], wall
        if mode == "sgai" and "id" not in daterange:
            ident, body = interstitial_tag(api, record["eventId"])
            if ident is not None:  # when it first appeared: was the break's start segment published already?
                daterange = {"id": ident, "firstSeen": s["wall"], "withStartSegment": f"#EXT-X-PROGRAM-DATE-TIME:{record['adStart']}" in body}
        ad_samples += 1 if s["playingAd"] else 0
        if ad_samples == 3:  # a second into the break (takes ~0.1 s: the sampling stays about even)
            page.screenshot(path=str(shot))
        progress = page.evaluate(PROGRESS)
        if break_played(mode, progress, daterange.get("id")) or wall - started > BOUND:
            break
        page.wait_for_timeout(500)  # (not time.sleep: Playwright delivers page events meanwhile)
    if last_change is not None:  # a freeze still going on at the end counts too
        longest = max(longest, time.monotonic() - last_change)
    demo = page.evaluate("() => window.rigDemo")
    keep = (
        "hlsVersion", "hlsSource", "longestFreeze", "stalls", "waiting", "levelParsingErrors", "fatal", "errors", "warnings", "breaksSeen",
        "interstitialsScheduled", "assetListsLoaded", "interstitialsStarted", "assetsStarted", "assetsEnded", "assetErrors",
        "interstitialsEnded", "primaryResumed", "latency", "fragments", "assetFragments",
    )
    return {
        "mode": mode,
        "seconds": round(time.monotonic() - started, 1),
        "break": {k: record.get(k) for k in ("eventId", "source", "adStart", "endTime", "duration")}
        | {"items": [(i["id"], i["duration"]) for i in record["decision"]["items"]]},
        "daterange": daterange or None,
        "advanced": last_change is not None,
        "longestNonAdvance": round(longest, 2),
        "longestNonAdvanceAt": longest_at,
        **{k: demo[k] for k in keep},
        "samples": samples,
    }


def report(figures: dict, tmp_path: Path) -> None:
    path = tmp_path / f"browser-{figures['mode']}.json"
    path.write_text(json.dumps(figures, indent=2))
    brief = {k: v for k, v in figures.items() if k not in ("samples", "fragments", "assetFragments", "console")}
    brief["fragments"] = [
        ("AD " if f["ad"] else "   ") + f"{f['player']:7} sn={f['sn']} cc={f['cc']} at={f['at']}{' (under interstitial)' if f['underInterstitial'] else ''} {f['url']}"
        for f in figures["fragments"]
    ]
    brief["assetFragments"] = [f"sn={f['sn']} {f['url']}" for f in figures["assetFragments"]]
    print(f"\n=== browser {figures['mode']} figures ({path}) ===\n" + json.dumps(brief, indent=1))


def open_page(chromium, url: str, console: list[str], page_errors: list[str]):
    page = chromium.new_page()
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    page.goto(url)
    page.wait_for_function("() => window.rigDemo && (window.rigDemo.ready || window.rigDemo.fatal)", timeout=15_000)
    return page


MSE = """() => ({
  h264: MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E"'),
  aac: MediaSource.isTypeSupported('audio/mp4; codecs="mp4a.40.2"'),
  h264_aac: MediaSource.isTypeSupported('video/mp4; codecs="avc1.64001f,mp4a.40.2"'),
})"""


def play_through_a_break(chromium, demo: str, api: str, tmp_path: Path, mode: str) -> dict:
    """Post a break, open the page before it, watch it through; checks common to both modes."""
    record = post_break(api, BREAK)
    started = time.monotonic()
    console: list[str] = []
    page_errors: list[str] = []
    page = open_page(chromium, f"{demo}/demo/?base={api}&mode={mode}&channel=news", console, page_errors)
    try:
        assert page.evaluate("() => window.rigDemo.hlsSource") == "local"
        codecs = page.evaluate(MSE)
        assert time.time() < epoch(record["adStart"]), "the page loaded after the break began: no content before it"
        figures = watch_break(page, mode, record, started, api, tmp_path / f"page-{mode}.png")
    finally:
        page.close()
    figures |= {"chromium": chromium.version, "mse": codecs, "pageErrors": page_errors, "console": console}
    report(figures, tmp_path)
    assert all(codecs.values()), f"this Chromium cannot play H.264/AAC through MSE: {codecs}"
    assert not page_errors, page_errors
    assert figures["fatal"] is None, figures["fatal"]
    assert figures["seconds"] < BOUND, f"the break did not play through within {BOUND} s"
    assert figures["levelParsingErrors"] == 0, [e for e in figures["errors"] if e["details"] == "levelParsingError"]
    assert figures["advanced"], "currentTime never advanced"
    assert record["eventId"] in figures["breaksSeen"], "the page never showed the break"
    return figures


def assert_kept_playing(figures: dict) -> None:
    assert figures["longestNonAdvance"] < SEGMENT, (
        f"currentTime stood still for {figures['longestNonAdvance']} s; hls.js said: {[w['message'][:300] for w in figures['warnings']]}"
    )


# --------------------------------------------------------------------------- the tests


def test_ssai_plays_through_a_whole_break(chromium, demo, browser_rig, tmp_path):
    figures = play_through_a_break(chromium, demo, browser_rig, tmp_path, "ssai")
    frags = figures["fragments"]
    assert all(f["player"] == "primary" for f in frags) and not figures["interstitialsStarted"]  # one timeline
    ads = [k for k, f in enumerate(frags) if f["ad"]]
    assert ads and any("/ads/" in frags[k]["url"] for k in ads), "no ad segment played"
    assert any(not f["ad"] for f in frags[: ads[0]]), "no content before the break"
    assert all(f["ad"] for f in frags[ads[0] : ads[-1] + 1]), "content inside the break"
    assert len(frags) - ads[-1] - 1 >= 3, "content did not resume after the break"
    assert_kept_playing(figures)


def test_sgai_plays_the_interstitial_of_a_whole_break(chromium, demo, browser_rig, tmp_path):
    figures = play_through_a_break(chromium, demo, browser_rig, tmp_path, "sgai")
    assert figures["daterange"], "the break's interstitial DATERANGE never appeared in the SGAI playlist"
    ident = figures["daterange"]["id"]
    started = [e for e in figures["interstitialsStarted"] if e["id"] == ident]
    ended = [e for e in figures["interstitialsEnded"] if e["id"] == ident]
    assert len(started) == 1 and len(ended) == 1, (figures["interstitialsStarted"], figures["interstitialsEnded"], ident)
    assert any(a["id"] == ident for a in figures["assetsStarted"]), figures["assetsStarted"]
    assert not figures["assetErrors"], figures["assetErrors"]
    assert any("/ads/" in f["url"] for f in figures["assetFragments"]), "no ad segment of the asset was buffered"
    frags = figures["fragments"]
    assert any(not f["ad"] and f["t"] < started[0]["t"] for f in frags), "no content before the interstitial"
    assert len(content_after(frags, ended[0]["t"])) >= 2, "content did not resume after the interstitial"
    assert not figures["daterange"]["withStartSegment"], "the interstitial must be announced before its start segment (hls.js stalls otherwise)"
    assert_kept_playing(figures)


def test_page_falls_back_to_the_cdn_build(chromium, hlsjs, tmp_path):
    """No local build on the server: the page fetches the pinned version from jsDelivr (answered
    here by the test with the local file, as no CDN is reachable)."""
    server = demo_server(tmp_path / "absent" / "hls.js")
    requested: list[str] = []

    def cdn(route):
        requested.append(route.request.url)
        route.fulfill(path=str(hlsjs), content_type="text/javascript")

    try:
        page = chromium.new_page()
        page.route("https://cdn.jsdelivr.net/**", cdn)
        page.goto(f"{server.url}/demo/?base={server.url}&autoplay=0")
        page.wait_for_function("() => window.rigDemo && (window.rigDemo.ready || window.rigDemo.fatal)", timeout=15_000)
        state = page.evaluate("() => ({source: window.rigDemo.hlsSource, version: window.rigDemo.hlsVersion, mode: window.rigDemo.mode, channel: window.rigDemo.channel})")
        page.close()
    finally:
        server.close()
    pin = json.loads((REPO / "package.json").read_text())["dependencies"]["hls.js"]
    assert requested == [f"https://cdn.jsdelivr.net/npm/hls.js@{pin}/dist/hls.js"]
    assert state == {"source": "cdn", "version": pin, "mode": "ssai", "channel": "news"}
