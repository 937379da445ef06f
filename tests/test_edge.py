"""The edge's pure parts: the nginx config generated from the settings (checked by a real
`nginx -t`), the access-log reader behind the hit ratio, and how `rig up`'s options reach every
component."""

from __future__ import annotations

import argparse
import subprocess

import pytest

from rig.edge import EdgeLog, EdgePaths, EdgeSettings, edge_argv, find_nginx, nginx_conf
from rig.settings import load_settings
from rig.up import port_env
from stitcher.errors import ConfigError

STITCHER, MEDIA = ("127.0.0.1", 18080), ("127.0.0.1", 18082)


def conf(tmp_path, **edge) -> str:
    return nginx_conf(EdgeSettings(enabled=True, **edge), STITCHER, MEDIA, EdgePaths(tmp_path))


def block(text: str, opening: str) -> str:
    """The body of the first `{ ... }` block whose opening line contains `opening`."""
    start = text.index(opening)
    depth, i = 0, text.index("{", start)
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1 : j]
    raise AssertionError(f"no end of block {opening!r}")


def test_real_nginx_accepts_the_generated_config(tmp_path):
    paths = EdgePaths(tmp_path)
    paths.make()
    paths.conf.write_text(conf(tmp_path, port=18088))
    binary = find_nginx()
    argv = list(edge_argv(binary, paths))
    result = subprocess.run([*argv, "-t"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_live_routes_are_cached_with_one_upstream_request_per_miss(tmp_path):
    text = conf(tmp_path)
    live = block(text, "location ~ ^/(ssai|sgai|passthrough)/")
    for directive in (
        "proxy_pass http://stitcher;",
        "proxy_cache edge;",
        "proxy_cache_lock on;",
        "proxy_cache_revalidate on;",
        "proxy_cache_use_stale updating;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
    ):
        assert directive in live, directive
    # stale only while a refresh is in flight (its timeouts bound it) or within the stitcher's
    # stale-if-error: never proxy_cache_use_stale error/timeout (unbounded), and no
    # proxy_cache_valid (the stitcher's Cache-Control decides)
    assert "proxy_read_timeout 2s;" in text and "proxy_connect_timeout 1s;" in text
    stale = [line.strip() for line in text.splitlines() if "proxy_cache_use_stale" in line]
    assert stale and set(stale) == {"proxy_cache_use_stale updating;"}
    assert "proxy_cache_valid" not in text
    # no background update: with it, the request that finds an expired copy is answered that copy,
    # however old it is (a variant nobody asked for in a minute: a minute old), and its viewer
    # finds the window moved past segments it never saw (rig bench load's fleet did)
    assert "proxy_cache_background_update" not in text
    media = block(text, "location ~ ^/(ads|slate)/")
    assert "proxy_pass http://media;" in media and "proxy_cache edge;" in media
    assert "server 127.0.0.1:18080" in block(text, "upstream stitcher")
    assert "server 127.0.0.1:18082" in block(text, "upstream media")


def test_everything_else_passes_uncached_and_says_it_was_proxied(tmp_path):
    rest = block(conf(tmp_path), "location / ")
    assert "proxy_cache off;" in rest and "proxy_pass http://stitcher;" in rest
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in rest


def test_every_answer_reports_its_cache_status(tmp_path):
    text = conf(tmp_path)
    server = block(text, "server {")
    assert "add_header X-Cache-Status $edge_cache always;" in server
    assert '"" NONE;' in block(text, "map $upstream_cache_status $edge_cache")


def test_listen_address_workers_and_files_follow_the_settings(tmp_path):
    text = conf(tmp_path, host="127.0.0.1", port=9999, workers=2, cache_mb=32)
    assert "listen 127.0.0.1:9999 reuseport" in text and "worker_processes 2;" in text
    assert f"proxy_cache_path {tmp_path}/edge/cache" in text and "max_size=32m" in text
    assert f"access_log {tmp_path}/logs/edge-access.log edge" in text
    assert "daemon off;" in text  # the supervisor runs it in the foreground
    assert "\nuser " not in text  # only given when nginx starts as root
    assert "user rig;" in nginx_conf(EdgeSettings(), STITCHER, MEDIA, EdgePaths(tmp_path), "rig")


def test_the_access_log_gives_the_hit_ratio_incrementally(tmp_path):
    log = tmp_path / "edge-access.log"
    log.write_text(
        "1.0 200 MISS 0.002 GET /ssai/news/hi.m3u8\n"
        "1.1 200 HIT 0.000 GET /ssai/news/hi.m3u8\n"
        "1.2 200 UPDATING 0.000 GET /ssai/news/hi.m3u8\n"
        "1.3 403 - 0.001 POST /v1/channels/news/cue\n"
        "1.4 200 HIT 0.000 GET /ssai/news/lo.m3u8\n"
        "1.5 200 STA"  # a line being written: read next time
    )
    reader = EdgeLog(log).read()
    assert reader.hits == 3 and reader.cacheable == 4 and reader.hit_ratio == 0.75
    assert reader.statuses["NONE"] == 1
    with open(log, "a") as more:
        more.write("LE 0.000 GET /ssai/news/hi.m3u8\n")
    assert reader.read().hits == 4 and reader.cacheable == 5
    assert EdgeLog(tmp_path / "missing.log").read().hit_ratio is None


def test_edge_and_redis_settings(tmp_path):
    settings = load_settings(
        env={
            "RIG_STATE_DIR": str(tmp_path),
            "RIG_EDGE_ENABLED": "true",
            "RIG_EDGE_PORT": "9088",
            "RIG_REDIS_ENABLED": "true",
            "RIG_REDIS_PORT": "16390",
        }
    )
    assert settings.edge.enabled and settings.edge.base_url == "http://127.0.0.1:9088"
    assert settings.stitcher.kv_url == "redis://127.0.0.1:16390/0"  # every component's KV
    plain = load_settings(env={"RIG_STATE_DIR": str(tmp_path)})
    assert not plain.edge.enabled and plain.stitcher.kv_url.startswith("sqlite:///")
    with pytest.raises(ConfigError, match="edge.workers"):
        load_settings(env={"RIG_STATE_DIR": str(tmp_path), "RIG_EDGE_WORKERS": "0"})


def test_rig_up_options_become_the_components_environment():
    args = argparse.Namespace(
        origin_port=None,
        ads_port=None,
        stitcher_port=None,
        edge_port=9088,
        kv_url=None,
        stitcher_workers=2,
        live=False,
        edge=True,
        kv="redis",
    )
    assert port_env(args) == {
        "RIG_EDGE_PORT": "9088",
        "RIG_STITCHER_WORKERS": "2",
        "RIG_EDGE_ENABLED": "true",
        "RIG_REDIS_ENABLED": "true",
    }
