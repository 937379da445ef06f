"""Real-browser tests: the demo page (stitcher/demo.py) in headless Chromium plays the rig's streams
with hls.js.

Debian's `chromium` driven by Playwright for Python through `executable_path` (Playwright's own
browser download is never used). The page is served by a small aiohttp server of the test's own
(`stitcher.demo.add_demo_routes`) and plays from a real `rig up --headless` passed as `?base=`:
every
rig response carries `Access-Control-Allow-Origin: *`. The rig runs the small test config with
its scheduled break switched off, so the only breaks in sight are the test's own /cue breaks, and
with the shipped media shape: 1.92 s segments (whole pictures and whole AAC frames), the shipped
x264 preset and no B-frames, so every boundary cuts sound and picture at the same point, as in
`make run` (docs/splices.md, "Segment duration and B-frames").

The page runs hls.js with its defaults (interstitialAppendInPlace included), as any site would,
and each test plays three breaks (7, 6 and 7 segments: the house ad then slate, the ad alone, and
again) with content between them. At every splice hls.js must notice nothing: no bufferStalledError,
no bufferSeekOverHole, no INTERSTITIAL_ASSET_ERROR, no `waiting` of the video element once it has
played, currentTime never standing still for a segment's time (sampled every 0.5 s), no fatal
error, no levelParsingError. The counts of every hls.js error (by player, type and details) and of
`waiting` are printed, fail or pass.

- SSAI: one timeline; the segments whose PROGRAM-DATE-TIME lies in a break are all ad or slate
  (and include ad segments), content plays before, between and after the breaks.
- SGAI: hls.js fires INTERSTITIAL_STARTED and INTERSTITIAL_ENDED once for each break's DATERANGE
  ID (announced before its start segment), starts an asset of each, buffers /ads/ segments;
  content before the first and after each.
- Without a local hls.js build the page loads the pinned version from the CDN (answered here by
  the test from the local build: no CDN is reachable from this machine).
The measured figures go to a JSON file in each test's tmp dir and are printed (`pytest -s`), with
a screenshot of the page during the first break.

Without chromium, Playwright or the hls.js build (`npm ci`, run by `make setup`) these tests are
skipped with the reason - except in CI (`CI=true`), where they fail: CI must not lose them.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from rig.settings import load_settings
from stitcher import http
from stitcher.demo import HLSJS_RELATIVE, add_demo_routes, find_hlsjs
from tests.needs import require as need_tool
from tests.test_players import epoch, schedule_breaks, small_config_without_scheduled_breaks
from tests.test_realtime import free_port, rig_up
from tests.test_realtime_stitcher import fetch

pytestmark = [pytest.mark.realtime, pytest.mark.browser]

REPO = Path(__file__).resolve().parent.parent
SHIPPED = load_settings(
    env={}
).media  # the shipped media shape, which the small config is given here
SEGMENT = SHIPPED.segment_seconds  # 1.92 s
WINDOW = 6 * SEGMENT  # its window: 6 segments
# seconds: the small rig's one house ad (its 10 s filled out to 6 segments) then a segment of slate,
# the ad alone, and the ad then slate again
BREAKS = [round(n * SEGMENT, 3) for n in (7, 6, 7)]
GAP = 6.0  # seconds of content between two breaks
BOUND = 90  # seconds: one test, from posting the cues to the verdict
CHROMIUM_ARGS = ["--autoplay-policy=no-user-gesture-required", "--mute-audio"]


# --------------------------------------------------------------------------- what the tests need


def chromium_path() -> str | None:
    configured = os.environ.get("RIG_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    for candidate in (
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def require(condition: bool, missing: str) -> None:
    need_tool(condition, missing, "CI must run the browser tests")


@pytest.fixture(scope="module")
def chromium():
    """Headless Debian Chromium under Playwright (sync API), for the module."""
    path = chromium_path()
    require(
        path is not None,
        "chromium is not installed (apt-get install chromium): browser tests not run",
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(
            False,
            "Playwright for Python is not installed (pip install -e '.[test]'): browser tests not"
            " run",
        )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def hlsjs() -> Path:
    build = find_hlsjs()
    require(
        build is not None,
        f"the hls.js build ({HLSJS_RELATIVE}) is missing (run `make setup` with npm on PATH):"
        " browser tests not run",
    )
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
    app = http.serving()
    add_demo_routes(app, hlsjs=hlsjs)
    http.close_routes(app)
    return ThreadServer(app)


@pytest.fixture(scope="module")
def demo(hlsjs):
    """The demo page's server (the page only; the streams come from the rig, cross-origin)."""
    server = demo_server(hlsjs)
    yield server.url
    server.close()


@pytest.fixture(scope="module")
def browser_rig(tmp_path_factory, small_content, chromium, hlsjs):
    """`rig up --headless` on free ports with the small config minus its scheduled break (one house
    ad), in the shipped media shape.
    Requests the browser fixtures first, so a machine without them skips before starting the rig."""
    config = small_config_without_scheduled_breaks(
        tmp_path_factory.mktemp("browser-config"), SEGMENT
    )
    shape = {"RIG_MEDIA_PRESET": SHIPPED.preset, "RIG_MEDIA_B_FRAMES": str(SHIPPED.b_frames)}
    with rig_up(config, tmp_path_factory.mktemp("browser-rig-state"), **shape) as (api, _):
        yield api


# --------------------------------------------------------------------------- three breaks, watched


_last_break_end = 0.0


def post_breaks(api: str) -> list[dict]:
    """The test's /cue breaks (BREAKS), the first a few seconds ahead. A page loaded now starts ~6 s
    behind live, so it must not find the previous test's breaks still in the window (hls.js would
    join that interstitial)."""
    global _last_break_end
    time.sleep(max(0.0, _last_break_end + WINDOW + SEGMENT - time.time()))
    records = schedule_breaks(api, BREAKS, lead=6, gap=GAP, segment=SEGMENT)
    _last_break_end = epoch(records[-1]["endTime"])
    return records


SAMPLE = """() => ({
  currentTime: document.getElementById('video').currentTime,
  paused: document.getElementById('video').paused,
  readyState: document.getElementById('video').readyState,
  playingAd: window.rigDemo.playingAd, latency: window.rigDemo.latency,\
 playingDate: window.rigDemo.playingDate,
  fatal: window.rigDemo.fatal,
})"""

PROGRESS = """() => ({
  fragments: window.rigDemo.fragments, latency: window.rigDemo.latency,
  started: window.rigDemo.interstitialsStarted.map(e => e.id),\
 ended: window.rigDemo.interstitialsEnded,
})"""


def content_after(fragments: list[dict], t: float) -> list[dict]:
    return [f for f in fragments if f["t"] > t and not f["ad"] and not f["underInterstitial"]]


def fragment_time(fragment: dict) -> float | None:
    return epoch(fragment["programDateTime"]) if fragment.get("programDateTime") else None


def in_break(fragment: dict, records: list[dict]) -> dict | None:
    """The break whose [adStart, endTime) holds the fragment's PROGRAM-DATE-TIME, if any."""
    t = fragment_time(fragment)
    return next(
        (
            r
            for r in records
            if t is not None and epoch(r["adStart"]) <= t + 0.001 < epoch(r["endTime"])
        ),
        None,
    )


def breaks_played(mode: str, progress: dict, records: list[dict], idents: dict[str, str]) -> bool:
    """Has content played for a while after the last break? (the end of the watch)"""
    frags = progress["fragments"]
    if mode == "sgai":
        ident = idents.get(records[-1]["eventId"])
        ended = [e["t"] for e in progress["ended"] if e["id"] == ident]
        return bool(ended) and len(content_after(frags, ended[0])) >= 2
    end = epoch(records[-1]["endTime"])
    return len([f for f in frags if not f["ad"] and (fragment_time(f) or 0) >= end]) >= 3


def interstitial_tag(api: str, event: str) -> tuple[str | None, str]:
    """The break's interstitial DATERANGE ID in the SGAI playlist now (None: not there), and the
    playlist."""
    body = fetch(f"{api}/sgai/news/hi.m3u8")[1]
    for line in body.splitlines():
        if (
            line.startswith("#EXT-X-DATERANGE:")
            and 'CLASS="com.apple.hls.interstitial"' in line
            and f'ID="ad-{event}-' in line
        ):
            return line.split('ID="', 1)[1].split('"', 1)[0], body
    return None, body


def watch_breaks(
    page, mode: str, records: list[dict], started: float, api: str, shot: Path
) -> dict:
    """Sample the page every 0.5 s until content has played after the last break (bounded by BOUND).
    The longest non-advance of currentTime counts from its first advance (after start-up)."""
    samples: list[dict] = []
    last_value, last_change, longest, longest_at = None, None, 0.0, None
    dateranges: dict[str, dict] = {}  # eventId -> {id, firstSeen, withStartSegment}
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
        for record in records if mode == "sgai" else ():
            if record["eventId"] not in dateranges:
                ident, body = interstitial_tag(api, record["eventId"])
                if (
                    ident is not None
                ):  # when it first appeared: was the break's start segment published already?
                    dateranges[record["eventId"]] = {
                        "id": ident,
                        "firstSeen": s["wall"],
                        "withStartSegment": f"#EXT-X-PROGRAM-DATE-TIME:{record['adStart']}" in body,
                    }
        ad_samples += 1 if s["playingAd"] else 0
        if (
            ad_samples == 3
        ):  # a second into the first break (takes ~0.1 s: the sampling stays about even)
            page.screenshot(path=str(shot))
        progress = page.evaluate(PROGRESS)
        if (
            breaks_played(mode, progress, records, {k: v["id"] for k, v in dateranges.items()})
            or wall - started > BOUND
        ):
            break
        page.wait_for_timeout(500)  # (not time.sleep: Playwright delivers page events meanwhile)
    if last_change is not None:  # a freeze still going on at the end counts too
        longest = max(longest, time.monotonic() - last_change)
    demo = page.evaluate("() => window.rigDemo")
    config = page.evaluate(
        "() => window.rigDemoHls ? {interstitialAppendInPlace:"
        " window.rigDemoHls.config.interstitialAppendInPlace} : null"
    )
    defaults = page.evaluate(
        "() => ({interstitialAppendInPlace: window.Hls.DefaultConfig.interstitialAppendInPlace})"
    )
    keep = (
        "hlsVersion",
        "hlsSource",
        "configOverrides",
        "longestFreeze",
        "stalls",
        "waiting",
        "waitingEvents",
        "levelParsingErrors",
        "fatal",
        "errors",
        "warnings",
        "breaksSeen",
        "interstitialsScheduled",
        "assetListsLoaded",
        "interstitialsStarted",
        "assetsStarted",
        "assetsEnded",
        "assetErrors",
        "interstitialsEnded",
        "primaryResumed",
        "latency",
        "fragments",
        "assetFragments",
        "primaryBuffered",
    )
    return {
        "mode": mode,
        "seconds": round(time.monotonic() - started, 1),
        "breaks": [
            {k: r.get(k) for k in ("eventId", "source", "adStart", "endTime", "duration")}
            | {"items": [(i["id"], i["duration"]) for i in r["decision"]["items"]]}
            for r in records
        ],
        "dateranges": dateranges,
        "advanced": last_change is not None,
        "longestNonAdvance": round(longest, 2),
        "longestNonAdvanceAt": longest_at,
        "hlsConfig": config,
        "hlsDefaults": defaults,
        **{k: demo[k] for k in keep},
        "samples": samples,
    }


def splice_in_timing(figures: dict) -> list[dict]:
    """For each break, where the sound of the content segments just before it ends against their
    picture (ms, + = after), as hls.js buffered them. hls.js 1.7.4 moves an in-place interstitial's
    buffering on only when the primary's buffered end (the earlier of the two tracks) + 10 ms
    reaches the interstitial's start, estimated at the last reload from the segment two before the
    break (start of the last one = end of that one, the later of the two tracks; an estimate is
    replaced only when it moves by more than 5 ms), and never looks again before playback stalls
    (`InterstitialsController.updateBufferedPos`). `hlsjsWaits`: that check misses (approximately:
    from the three segments before), so playback stalls at the splice for ~0.05 s or jumps a
    hole."""
    by_pdt = {
        b["programDateTime"]: b
        for b in figures.get("primaryBuffered", [])
        if b.get("programDateTime")
    }
    out = []
    for record in figures["breaks"]:
        start = epoch(record["adStart"])
        ends = []
        for k in (3, 2, 1):  # segments N-3, N-2, N-1
            pdt = (
                datetime.fromtimestamp(round(start - k * SEGMENT, 3), tz=UTC)
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z")
            )
            b = by_pdt.get(pdt)
            ends.append(
                None
                if not b or b["audioEnd"] is None or b["videoEnd"] is None
                else round((b["audioEnd"] - b["videoEnd"]) * 1000, 2)
            )
        entry = {
            "eventId": record["eventId"],
            "soundEndMinusPictureEndMs": dict(zip(("N-3", "N-2", "N-1"), ends)),
        }
        if None not in ends:
            current, candidate = min(0.0, ends[0]), max(0.0, ends[1])
            estimate = candidate if abs(candidate - current) > 5 else current
            entry["hlsjsWaits"] = estimate > min(0.0, ends[2]) + 10
        out.append(entry)
    return out


def event_counts(figures: dict) -> dict:
    """What hls.js reported, counted: every ERROR by player, type and details (fatal marked),
    INTERSTITIAL_ASSET_ERROR, `waiting` of the video element after the first `playing`."""
    errors = Counter(
        f"{e['player']} {e['type']} {e['details']}" + (" FATAL" if e["fatal"] else "")
        for e in figures["errors"]
    )
    return {
        "errors": dict(sorted(errors.items())),
        "bufferStalledError": sum(
            1 for e in figures["errors"] if e["details"] == "bufferStalledError"
        ),
        "bufferSeekOverHole": sum(
            1 for e in figures["errors"] if e["details"] == "bufferSeekOverHole"
        ),
        "INTERSTITIAL_ASSET_ERROR": len(figures["assetErrors"]),
        "waitingAfterPlaying": sum(1 for w in figures["waitingEvents"] if w["afterPlaying"]),
        "waitingInitial": sum(1 for w in figures["waitingEvents"] if not w["afterPlaying"]),
        "appendInPlace": [e["appendInPlace"] for e in figures["interstitialsStarted"]],
        "warnings": dict(
            sorted(
                Counter(
                    re.match(r"(\[[^\]]*\])?", w["message"]).group(0) or w["message"][:60]
                    for w in figures["warnings"]
                ).items()
            )
        ),
        "longestNonAdvance": figures["longestNonAdvance"],
    }


def report(figures: dict, tmp_path: Path) -> None:
    path = tmp_path / f"browser-{figures['mode']}.json"
    path.write_text(json.dumps(figures, indent=2))
    brief = {
        k: v
        for k, v in figures.items()
        if k
        not in ("samples", "fragments", "assetFragments", "console", "counts", "primaryBuffered")
    }
    brief["fragments"] = [
        ("AD " if f["ad"] else "   ")
        + f"{f['player']:7} sn={f['sn']} cc={f['cc']} at={f['at']} pdt={f['programDateTime']}"
        f"{' (under interstitial)' if f['underInterstitial'] else ''} {f['url']}"
        for f in figures["fragments"]
    ]
    brief["assetFragments"] = [f"sn={f['sn']} {f['url']}" for f in figures["assetFragments"]]
    print(f"\n=== browser {figures['mode']} figures ({path}) ===\n" + json.dumps(brief, indent=1))
    print(
        f"=== hls.js {figures['hlsVersion']} event counts, {figures['mode']},"
        f" {len(figures['breaks'])} breaks ===\n" + json.dumps(figures["counts"], indent=1)
    )


def open_page(chromium, url: str, console: list[str], page_errors: list[str]):
    page = chromium.new_page()
    page.on(
        "console",
        lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    page.goto(url)
    page.wait_for_function(
        "() => window.rigDemo && (window.rigDemo.ready || window.rigDemo.fatal)", timeout=15_000
    )
    return page


MSE = """() => ({
  h264: MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E"'),
  aac: MediaSource.isTypeSupported('audio/mp4; codecs="mp4a.40.2"'),
  h264_aac: MediaSource.isTypeSupported('video/mp4; codecs="avc1.64001f,mp4a.40.2"'),
})"""


def play_through_breaks(chromium, demo: str, api: str, tmp_path: Path, mode: str) -> dict:
    """Post the breaks, open the page before the first, watch it through the last; checks common to
    both modes."""
    records = post_breaks(api)
    started = time.monotonic()
    console: list[str] = []
    page_errors: list[str] = []
    page = open_page(
        chromium, f"{demo}/demo/?base={api}&mode={mode}&channel=news", console, page_errors
    )
    try:
        assert page.evaluate("() => window.rigDemo.hlsSource") == "local"
        codecs = page.evaluate(MSE)
        assert time.time() < epoch(records[0]["adStart"]), (
            "the page loaded after the first break began: no content before it"
        )
        figures = watch_breaks(page, mode, records, started, api, tmp_path / f"page-{mode}.png")
    finally:
        page.close()
    figures |= {
        "chromium": chromium.version,
        "mse": codecs,
        "pageErrors": page_errors,
        "console": console,
    }
    figures["counts"] = event_counts(figures)
    if mode == "sgai":
        figures["spliceIn"] = splice_in_timing(figures)
    report(figures, tmp_path)
    assert all(codecs.values()), f"this Chromium cannot play H.264/AAC through MSE: {codecs}"
    assert not page_errors, page_errors
    assert figures["fatal"] is None, figures["fatal"]
    assert figures["configOverrides"] == {} and figures["hlsConfig"] == figures["hlsDefaults"], (
        figures["configOverrides"],
        figures["hlsConfig"],
    )
    assert_seamless(figures)
    assert figures["seconds"] < BOUND, f"the breaks did not play through within {BOUND} s"
    assert figures["levelParsingErrors"] == 0, [
        e for e in figures["errors"] if e["details"] == "levelParsingError"
    ]
    assert figures["advanced"], "currentTime never advanced"
    assert all(r["eventId"] in figures["breaksSeen"] for r in records), (
        "the page did not show every break",
        figures["breaksSeen"],
    )
    return figures


def assert_seamless(figures: dict) -> None:
    """What a viewer would notice at a splice, with hls.js's defaults: nothing. No stall or hole
    reported, no `waiting` once playing, no interstitial asset error, currentTime never stood still
    for a segment's time."""
    counts, errors = figures["counts"], figures["errors"]
    said = [w["message"][:300] for w in figures["warnings"]]
    assert counts["INTERSTITIAL_ASSET_ERROR"] == 0, (counts, figures["assetErrors"])
    assert counts["bufferStalledError"] == 0 and counts["bufferSeekOverHole"] == 0, (
        counts,
        [e for e in errors if e["type"] == "mediaError"],
        said,
    )
    assert counts["waitingAfterPlaying"] == 0, (counts, figures["waitingEvents"], said)
    assert figures["longestNonAdvance"] < SEGMENT, (
        f"currentTime stood still for {figures['longestNonAdvance']} s; hls.js said: {said}"
    )


# --------------------------------------------------------------------------- the tests


def test_ssai_plays_through_three_breaks_seamlessly(chromium, demo, browser_rig, tmp_path):
    figures = play_through_breaks(chromium, demo, browser_rig, tmp_path, "ssai")
    records = figures["breaks"]
    frags = figures["fragments"]
    assert (
        all(f["player"] == "primary" for f in frags) and not figures["interstitialsStarted"]
    )  # one timeline
    for record in records:
        inside = [f for f in frags if in_break(f, [record])]
        assert any("/ads/" in f["url"] for f in inside), (
            f"no ad segment played in {record['eventId']}"
        )
        assert all(f["ad"] for f in inside), (
            f"content inside {record['eventId']}: {[f['url'] for f in inside if not f['ad']]}"
        )
    assert all(in_break(f, records) for f in frags if f["ad"]), "an ad segment outside the breaks"
    assert any(not f["ad"] and fragment_time(f) < epoch(records[0]["adStart"]) for f in frags), (
        "no content before the first break"
    )
    for before, after in zip(records, records[1:]):
        between = [
            f
            for f in frags
            if not f["ad"]
            and epoch(before["endTime"]) <= fragment_time(f) < epoch(after["adStart"])
        ]
        assert between, f"no content between {before['eventId']} and {after['eventId']}"
    assert (
        len([f for f in frags if not f["ad"] and fragment_time(f) >= epoch(records[-1]["endTime"])])
        >= 3
    ), "content did not resume after the last break"


def test_sgai_plays_the_interstitials_of_three_breaks_seamlessly(
    chromium, demo, browser_rig, tmp_path
):
    figures = play_through_breaks(chromium, demo, browser_rig, tmp_path, "sgai")
    frags = figures["fragments"]
    for record in figures["breaks"]:
        daterange = figures["dateranges"].get(record["eventId"])
        assert daterange, (
            f"the interstitial DATERANGE of {record['eventId']} never appeared in the SGAI playlist"
        )
        ident = daterange["id"]
        started = [e for e in figures["interstitialsStarted"] if e["id"] == ident]
        ended = [e for e in figures["interstitialsEnded"] if e["id"] == ident]
        assert len(started) == 1 and len(ended) == 1, (
            figures["interstitialsStarted"],
            figures["interstitialsEnded"],
            ident,
        )
        assert any(a["id"] == ident for a in figures["assetsStarted"]), figures["assetsStarted"]
        assert len(content_after(frags, ended[0]["t"])) >= 2, (
            f"content did not resume after {ident}"
        )
        assert not daterange["withStartSegment"], (
            f"{ident} must be announced before its start segment (hls.js stalls otherwise)"
        )
    first = figures["dateranges"][figures["breaks"][0]["eventId"]]["id"]
    started = next(e for e in figures["interstitialsStarted"] if e["id"] == first)
    assert any(not f["ad"] and f["t"] < started["t"] for f in frags), (
        "no content before the first interstitial"
    )
    assert any("/ads/" in f["url"] for f in figures["assetFragments"]), (
        "no ad segment of an asset was buffered"
    )


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
        page.wait_for_function(
            "() => window.rigDemo && (window.rigDemo.ready || window.rigDemo.fatal)", timeout=15_000
        )
        state = page.evaluate(
            "() => ({source: window.rigDemo.hlsSource, version: window.rigDemo.hlsVersion, mode:"
            " window.rigDemo.mode, channel: window.rigDemo.channel})"
        )
        page.close()
    finally:
        server.close()
    pin = json.loads((REPO / "package.json").read_text())["dependencies"]["hls.js"]
    assert requested == [f"https://cdn.jsdelivr.net/npm/hls.js@{pin}/dist/hls.js"]
    assert state == {"source": "cdn", "version": pin, "mode": "ssai", "channel": "news"}
