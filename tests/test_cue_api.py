"""The /cue API on the stitcher app: manual breaks written to the ledger, validated, authorised."""

from __future__ import annotations

import pytest

from stitcher.app import create_app
from stitcher.playlist import format_datetime


@pytest.fixture
async def api(aiohttp_client, rig, clock):
    client = await aiohttp_client(
        create_app(rig.catalog, rig.monitor.decisions, clock, rig.ledger, rig.session)
    )
    client.rig = rig
    return client


async def test_post_cue_writes_one_break_that_starts_at_the_first_free_slot(api, clock):
    tl = api.rig.origin.timeline
    response = await api.post("/v1/channels/news/cue", json={"duration": 10})
    assert response.status == 201, await response.text()
    body = await response.json()
    assert (
        body["source"] == "manual" and body["eventId"] == "manual-1" and body["state"] == "upcoming"
    )
    newest = tl.last_published(clock.now())
    assert body["adStart"] == format_datetime(tl.start(newest + 2))  # the segment after next
    assert body["discontinuities"] == len(body["discontinuityTimes"]) >= 2
    assert sum(item["duration"] for item in body["decision"]["items"]) == pytest.approx(10)
    listed = await (await api.get("/v1/channels/news/breaks")).json()
    assert [b["eventId"] for b in listed["breaks"]] == ["manual-1"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_a_cue_with_a_future_start(api, clock):
    tl = api.rig.origin.timeline
    start = tl.start(tl.in_production(clock.now()) + 10)
    body = await (
        await api.post(
            "/v1/channels/news/cue", json={"duration": 6, "start": format_datetime(start)}
        )
    ).json()
    assert body["startTime"] == body["adStart"] == format_datetime(start)


async def test_return_to_network_early_and_cancel(api, clock):
    tl = api.rig.origin.timeline
    active = await (await api.post("/v1/channels/news/cue", json={"duration": 20})).json()
    clock.advance(9)
    response = await api.delete(f"/v1/channels/news/breaks/{active['eventId']}")
    assert response.status == 200
    body = await response.json()
    assert body["endTime"] == format_datetime(tl.start(tl.last_published(clock.now()) + 2))
    later = await (
        await api.post(
            "/v1/channels/news/cue",
            json={"duration": 6, "start": format_datetime(clock.now() + 60)},
        )
    ).json()
    cancelled = await (await api.delete(f"/v1/channels/news/breaks/{later['eventId']}")).json()
    assert cancelled["cancelled"] is True and cancelled["state"] == "cancelled"
    assert (await api.delete(f"/v1/channels/news/breaks/{later['eventId']}")).status == 409
    assert (await api.delete("/v1/channels/news/breaks/nope")).status == 404
    assert (await api.rig.ledger.ledger("news")).total == body["discontinuities"]


@pytest.mark.parametrize(
    "path, body, status, fragment",
    [
        ("/v1/channels/nope/cue", {"duration": 10}, 404, "no channel"),
        ("/v1/channels/news/cue", "{oops", 400, "not valid JSON"),
        ("/v1/channels/news/cue", {}, 400, "duration"),
        ("/v1/channels/news/cue", {"duration": 0}, 400, "positive"),
        ("/v1/channels/news/cue", {"duration": -3}, 400, "positive"),
        ("/v1/channels/news/cue", {"duration": "30"}, 400, "positive"),
        ("/v1/channels/news/cue", {"duration": 86400}, 400, "longer than"),
        ("/v1/channels/news/cue", {"duration": 30, "start": "yesterday"}, 400, "ISO-8601"),
        (
            "/v1/channels/news/cue",
            {"duration": 30, "start": "2020-01-01T00:00:00Z"},
            400,
            "in the past",
        ),
        (
            "/v1/channels/news/cue",
            {"duration": 30, "start": "2099-01-01T00:00:00"},
            400,
            "time zone",
        ),
        ("/v1/channels/news/cue", {"duration": 30, "colour": "red"}, 400, "unknown field"),
    ],
)
async def test_bad_requests_are_clear_4xx(api, path, body, status, fragment):
    kwargs = (
        {"data": body, "headers": {"Content-Type": "application/json"}}
        if isinstance(body, str)
        else {"json": body}
    )
    response = await api.post(path, **kwargs)
    assert response.status == status
    assert fragment in (await response.json())["error"]


async def test_overlapping_cues_are_refused(api, clock):
    assert (await api.post("/v1/channels/news/cue", json={"duration": 20})).status == 201
    response = await api.post("/v1/channels/news/cue", json={"duration": 20})
    assert response.status == 409 and "overlap" in (await response.json())["error"]


async def test_token_is_required_when_configured(aiohttp_client, rig, clock):
    client = await aiohttp_client(
        create_app(
            rig.catalog, rig.monitor.decisions, clock, rig.ledger, rig.session, token="s3cret"
        )
    )
    assert (await client.post("/v1/channels/news/cue", json={"duration": 10})).status == 401
    wrong = await client.post(
        "/v1/channels/news/cue", json={"duration": 10}, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status == 401
    right = await client.post(
        "/v1/channels/news/cue", json={"duration": 10}, headers={"Authorization": "Bearer s3cret"}
    )
    assert right.status == 201
    assert (await client.get("/v1/channels/news/breaks")).status == 200  # reading needs no token


async def test_origin_down_is_a_502(api, clock):
    await api.rig.server.close()
    response = await api.post("/v1/channels/news/cue", json={"duration": 10})
    assert response.status == 502 and "origin" in (await response.json())["error"]


@pytest.mark.parametrize(
    "peer, token, header, allowed",
    [
        (("127.0.0.1", 5000), "", "", True),
        (("::1", 5000, 0, 0), "", "", True),
        (("192.0.2.7", 5000), "", "", False),  # not loopback, no token configured: refused
        (("192.0.2.7", 5000), "t0k", "Bearer t0k", True),
        (("127.0.0.1", 5000), "t0k", "", False),  # with a token, even loopback must present it
    ],
)
def test_write_authorisation(peer, token, header, allowed):
    from unittest import mock

    from aiohttp.test_utils import make_mocked_request

    from stitcher.app import TOKEN, authorise
    from stitcher.errors import Forbidden, Unauthorised

    app = {TOKEN: token}
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        peer if name == "peername" else default
    )
    request = make_mocked_request(
        "POST",
        "/v1/channels/news/cue",
        headers={"Authorization": header} if header else {},
        app=app,
        transport=transport,
    )
    if allowed:
        authorise(request)
    else:
        with pytest.raises((Forbidden, Unauthorised)):
            authorise(request)
