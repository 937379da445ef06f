"""`stitcher.http`'s guarded routes, on a real aiohttp server: errors as JSON with `no-store`, CORS
on every answer, JSON 404 and 405 from the last route, CORS preflights, and what the metrics hook
sees."""

from __future__ import annotations

from aiohttp import web

from stitcher import http
from stitcher.errors import NotFound


def small_app(seen: list, with_preflight: bool = False) -> web.Application:
    app = http.serving(lambda label, status, seconds: seen.append((label, status, seconds)))

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=f"hello {request.match_info['name']}")

    async def missing(_: web.Request) -> web.Response:
        raise NotFound("no such thing here")

    async def moved(_: web.Request) -> web.Response:
        raise web.HTTPFound("/things/hello/world")

    async def broken(_: web.Request) -> web.Response:
        raise web.HTTPBadRequest(reason="the framework's own error")

    async def accept(_: web.Request) -> web.Response:
        return web.json_response({"ok": True}, status=201)

    http.get(app, "/things/hello/{name}", hello)
    http.get(app, "/things/missing", missing, "missing-label")
    http.get(app, "/things/moved", moved)
    http.get(app, "/things/broken", broken)
    http.add(app, "POST", "/things", accept)
    if with_preflight:
        http.preflight(app, "GET, POST, OPTIONS", "Content-Type")
    http.close_routes(app)
    return app


async def test_an_answer_gets_cors_and_the_hook_sees_its_route(aiohttp_client):
    seen: list = []
    client = await aiohttp_client(small_app(seen))
    response = await client.get("/things/hello/world")
    assert response.status == 200 and await response.text() == "hello world"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "no-store" not in response.headers.get("Cache-Control", "")
    head = await client.head("/things/hello/world")
    assert head.status == 200 and head.headers["Access-Control-Allow-Origin"] == "*"
    assert [(label, status) for label, status, _ in seen] == [
        ("/things/hello/{name}", 200),
        ("/things/hello/{name}", 200),
    ]
    assert all(0 <= seconds < 5 for *_, seconds in seen)


async def test_errors_are_json_never_stored_and_labelled(aiohttp_client):
    seen: list = []
    client = await aiohttp_client(small_app(seen))
    for path, status, message in [
        ("/things/missing", 404, "no such thing here"),
        ("/things/broken", 400, "the framework's own error"),
        ("/nothing/here", 404, "no such resource: /nothing/here"),
    ]:
        response = await client.get(path)
        assert response.status == status, path
        assert await response.json() == {"error": message}
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert [(label, status) for label, status, _ in seen] == [
        ("missing-label", 404),
        ("/things/broken", 400),
        (http.UNMATCHED, 404),
    ]


async def test_a_method_its_route_does_not_take_is_a_json_405(aiohttp_client):
    client = await aiohttp_client(small_app([]))
    response = await client.delete("/things/hello/world")
    assert response.status == 405
    assert response.headers["Allow"] == "GET,HEAD"
    assert "not allowed" in (await response.json())["error"]
    assert response.headers["Cache-Control"] == "no-store"
    assert (await client.post("/things")).status == 201
    assert (await client.get("/things")).headers["Allow"] == "POST"


async def test_a_redirect_keeps_its_status_with_cors(aiohttp_client):
    seen: list = []
    client = await aiohttp_client(small_app(seen))
    response = await client.get("/things/moved", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/things/hello/world"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert seen[-1][:2] == ("/things/moved", 302)


async def test_preflights_are_answered_on_any_path_and_do_not_make_unknown_paths_405(
    aiohttp_client,
):
    client = await aiohttp_client(small_app([], with_preflight=True))
    for path in ("/things", "/anything/at/all"):
        response = await client.options(path)
        assert response.status == 204, path
        assert response.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"
        assert response.headers["Access-Control-Allow-Headers"] == "Content-Type"
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert (await client.get("/anything/at/all")).status == 404  # the preflight route is no reason
    assert (await client.get("/things/hello/you")).status == 200
