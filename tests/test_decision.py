"""Ad decisions: whole ads that fit, no repeats, deterministic per break, rotating, slate for the
rest."""

from __future__ import annotations

import asyncio
import itertools

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from stitcher.app import create_app
from stitcher.catalog import Ad, AdRendition, Catalog, Channel, Rung
from stitcher.clock import FakeClock
from stitcher.decision import (
    DecisionError,
    FallbackDecisions,
    HouseDecisions,
    RemoteDecisions,
    build_pod,
    choose,
    map_variants,
)
from stitcher.pod import Creative, Pod, slot_count

BASE = "http://127.0.0.1:8082"
LADDER = (
    Rung("540p", 2_300_000, 960, 540),
    Rung("360p", 1_000_000, 640, 360),
    Rung("234p", 450_000, 416, 234),
)
CHANNEL = Channel("news", "http://127.0.0.1:8081/news/master.m3u8", LADDER, 2.0)
KEY = CHANNEL.conditioning.key


def renditions(
    ad_id: str,
    duration: float,
    names=("540p", "360p", "234p"),
    bandwidths=(2_300_000, 1_000_000, 450_000),
) -> tuple[AdRendition, ...]:
    folder = "slate" if ad_id == "slate" else f"ads/{ad_id}"
    return tuple(
        AdRendition(
            ad_id,
            KEY,
            name,
            bw,
            f"/{folder}/{KEY}/{name}/index.m3u8",
            duration,
            round(duration / 2),
        )
        for name, bw in zip(names, bandwidths)
    )


HOUSE = [
    Creative(f"house-{i}", d, renditions(f"house-{i}", d))
    for i, d in enumerate([10, 16, 20, 30, 16, 20], start=1)
]
SLATE = renditions("slate", 10)


def test_as_many_whole_ads_as_fit_then_slate():
    # 30 s = 15 segments: two ads at most; 10 + 20 fills it (rotation 0 prefers house-1, house-3)
    pod = build_pod(CHANNEL, 30, "0", HOUSE, SLATE, BASE)
    assert [i.id for i in pod.items] == ["house-1", "house-3"]
    # 70 s: four ads at most (10 + 16 + 16 + 20 = 62 is the smallest four); the fullest four
    # fill 66 s, and rotation 2 (house-3 first) prefers house-5 over house-2; 4 s of slate
    pod = build_pod(CHANNEL, 70, "2", HOUSE, SLATE, BASE)
    assert [(i.id, i.duration) for i in pod.items] == [
        ("house-3", 20),
        ("house-5", 16),
        ("house-6", 20),
        ("house-1", 10),
        ("slate", 4),
    ]


def test_a_break_gets_its_length_to_the_nearest_segment():
    """One rule for the slots of a break (ties up, at least one), the origin emulator's too."""
    assert [slot_count(d, 2.0) for d in (30, 31, 13, 12.9, 0.5, 0.01)] == [15, 16, 7, 6, 1, 1]
    assert (
        slot_count(30, 1.92) == 16
        and slot_count(20, 1.92) == 10
        and slot_count(6 * 1.92, 1.92) == 6
    )
    # 1.92 s segments: a 30 s break is 16 slots, room for a 30 s ad conditioned to 16 segments
    channel = Channel("news", "http://127.0.0.1:8081/news/master.m3u8", LADDER, 1.92)
    ad = Creative("house-4", 30.72, renditions("house-4", 30.72))
    pod = build_pod(channel, 30, "0", [ad], SLATE, BASE)
    assert [(i.id, i.duration) for i in pod.items] == [("house-4", 30.72)]


def test_slate_fills_a_break_no_ad_fits():
    pod = build_pod(CHANNEL, 8, "3", HOUSE, SLATE, BASE)
    assert [(i.id, i.kind, i.duration) for i in pod.items] == [("slate", "slate", 8)]


def test_slate_longer_than_the_slate_itself_comes_in_items_of_its_length():
    # no ad in the library: 26 s of slate from a 10 s slate is three items, each starting with a
    # splice, so the slate never repeats inside one item (its timestamps would run back)
    pod = build_pod(CHANNEL, 26, "4", [], SLATE, BASE)
    assert [(i.id, i.kind, i.duration) for i in pod.items] == [
        ("slate", "slate", 10),
        ("slate", "slate", 10),
        ("slate", "slate", 6),
    ]


def test_deterministic_per_break_and_rotating_across_breaks():
    assert build_pod(CHANNEL, 30, "42", HOUSE, SLATE, BASE) == build_pod(
        CHANNEL, 30, "42", list(reversed(HOUSE)), SLATE, BASE
    )
    pods = [build_pod(CHANNEL, 60, str(n), HOUSE, SLATE, BASE) for n in range(6)]
    assert len({p.items[0].id for p in pods}) >= 4  # successive breaks open differently
    assert len({tuple(i.id for i in p.items) for p in pods}) >= 4
    assert build_pod(CHANNEL, 30, "ad-hoc-id", HOUSE, SLATE, BASE).pod_id == "news-ad-hoc-id"


def test_pod_json_shape():
    data = build_pod(CHANNEL, 30, "7", HOUSE, SLATE, BASE).to_json()
    assert set(data) == {"podId", "items"}
    item = data["items"][0]
    assert set(item) == {"id", "kind", "duration", "variants"}
    assert item["variants"] == {
        "2300000": f"{BASE}/ads/{item['id']}/{KEY}/540p/index.m3u8",
        "1000000": f"{BASE}/ads/{item['id']}/{KEY}/360p/index.m3u8",
        "450000": f"{BASE}/ads/{item['id']}/{KEY}/234p/index.m3u8",
    }
    assert Pod.from_json(data).to_json() == data


def test_a_missing_variant_maps_to_the_nearest_bandwidth():
    partial = renditions("x", 10, names=("hd", "low"), bandwidths=(2_000_000, 400_000))
    mapped = dict(map_variants(LADDER, partial, BASE))
    assert mapped[2_300_000].endswith("/hd/index.m3u8")
    assert mapped[1_000_000].endswith("/low/index.m3u8") or mapped[1_000_000].endswith(
        "/hd/index.m3u8"
    )
    assert mapped[450_000].endswith("/low/index.m3u8")
    with pytest.raises(DecisionError):
        map_variants(LADDER, (), BASE)


def test_errors():
    with pytest.raises(DecisionError, match="no conditioned slate"):
        build_pod(CHANNEL, 30, "1", HOUSE, (), BASE)
    for bad in (0, -5, float("nan"), float("inf")):
        with pytest.raises(DecisionError):
            build_pod(CHANNEL, bad, "1", HOUSE, SLATE, BASE)


@settings(max_examples=200)
@given(
    st.lists(st.sampled_from([2, 4, 10, 16, 20, 30]), max_size=7),
    st.floats(min_value=0.5, max_value=600, allow_nan=False),
    st.text(min_size=1, max_size=12),
)
def test_pods_always_fill_the_break_exactly(durations, break_duration, break_id):
    """A pod fills the slots its break gets (its length to the nearest 2 s segment), exactly."""
    library = [Creative(f"ad-{i}", d, renditions(f"ad-{i}", d)) for i, d in enumerate(durations)]
    pod = build_pod(CHANNEL, break_duration, break_id, library, SLATE, BASE)
    slots = slot_count(break_duration, 2.0)
    assert slots >= 1 and (abs(slots * 2.0 - break_duration) <= 1.0 + 1e-9 or slots == 1)
    break_duration = slots * 2.0
    assert pod.duration == pytest.approx(break_duration, abs=1e-5)
    ads = [i for i in pod.items if i.kind == "ad"]
    assert len({i.id for i in ads}) == len(ads)
    left = break_duration - sum(i.duration for i in ads)
    unused = [c for c in library if c.id not in {i.id for i in ads}]
    assert all(c.duration > left + 1e-6 for c in unused)  # nothing else would have fitted
    assert left >= -1e-6
    assert choose(library, break_duration, break_id, 2.0) == choose(
        list(reversed(library)), break_duration, break_id, 2.0
    )
    # the knapsack is optimal: no subset has more ads, or as many ads and more time filled
    best = max(
        (
            (len(subset), sum(c.duration for c in subset))
            for r in range(len(library) + 1)
            for subset in itertools.combinations(library, r)
            if sum(c.duration for c in subset) <= break_duration + 1e-6
        ),
        default=(0, 0),
    )
    assert (len(ads), sum(i.duration for i in ads)) == best


@pytest.fixture
def catalog(tmp_path):
    catalog = Catalog(tmp_path / "channels.db")
    catalog.put_channel(CHANNEL)
    for creative in HOUSE:
        catalog.put_ad(
            Ad(creative.id, creative.id.upper(), creative.duration, "house"), creative.renditions
        )
    catalog.put_ad(Ad("slate", "slate", 10, "house"), SLATE)
    catalog.put_ad(
        Ad("broken", "broken", 10, "/tmp/x.mp4", status="failed", error="no video"),
        renditions("broken", 10),
    )
    yield catalog
    catalog.close()


async def test_house_decisions_from_the_catalog(catalog):
    pod = await HouseDecisions(catalog, BASE).decide(catalog.channel("news"), 70, "2")
    ids = [i.id for i in pod.items]
    assert "broken" not in ids and "slate" in ids
    assert ids == ["house-3", "house-5", "house-6", "house-1", "slate"] and pod.duration == 70


async def fake_ad_server(aiohttp_server, behaviour: str):
    """A stand-in for a remote ad server (outside the project)."""

    async def handle(request):
        if behaviour == "slow":
            await asyncio.Event().wait()
        if behaviour == "error":
            return web.Response(status=500)
        if behaviour == "garbage":
            return web.Response(text="<VAST/>")
        body = await request.json()
        return web.json_response(
            {
                "podId": "remote",
                "items": [
                    {
                        "id": "remote-ad",
                        "kind": "ad",
                        "duration": body["duration"],
                        "variants": {
                            str(r.bandwidth): f"http://ads.example/{r.name}.m3u8" for r in LADDER
                        },
                    }
                ],
            }
        )

    app = web.Application()
    app.router.add_post("/decide", handle)
    return await aiohttp_server(app)


@pytest.mark.parametrize(
    "behaviour, expected",
    [("ok", "remote"), ("slow", "news-5"), ("error", "news-5"), ("garbage", "news-5")],
)
async def test_remote_ad_server_with_timeout_and_house_fallback(
    aiohttp_server, catalog, behaviour, expected
):
    server = await fake_ad_server(aiohttp_server, behaviour)
    async with aiohttp.ClientSession() as session:
        source = FallbackDecisions(
            RemoteDecisions(str(server.make_url("/decide")), session),
            HouseDecisions(catalog, BASE),
            timeout=0.2,
        )
        pod = await source.decide(catalog.channel("news"), 30, "5")
    assert pod.pod_id == expected
    assert source.fallbacks == (0 if behaviour == "ok" else 1)


async def test_decision_endpoint(aiohttp_client, catalog):
    client = await aiohttp_client(create_app(catalog, HouseDecisions(catalog, BASE), FakeClock()))
    response = await client.post(
        "/decision", json={"channel": "news", "duration": 30, "breakId": 9}
    )
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = await response.json()
    assert body["podId"] == "news-9" and sum(i["duration"] for i in body["items"]) == 30
    for payload, status in [
        ({"channel": "nope", "duration": 30, "breakId": "1"}, 404),
        ({"channel": "news", "duration": 0, "breakId": "1"}, 400),
        ({"channel": "news", "duration": "30", "breakId": "1"}, 400),
        ({"channel": "news", "duration": 30}, 400),
        ({"duration": 30, "breakId": "1"}, 400),
    ]:
        response = await client.post("/decision", json=payload)
        assert response.status == status, payload
        assert "error" in await response.json()
    response = await client.post(
        "/decision", data="{oops", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400


async def test_decision_without_slate_is_a_clear_503(aiohttp_client, tmp_path):
    catalog = Catalog(tmp_path / "empty.db")
    catalog.put_channel(CHANNEL)
    client = await aiohttp_client(create_app(catalog, HouseDecisions(catalog, BASE), FakeClock()))
    response = await client.post(
        "/decision", json={"channel": "news", "duration": 30, "breakId": "1"}
    )
    assert response.status == 503
    assert "rig ads house" in (await response.json())["error"]
