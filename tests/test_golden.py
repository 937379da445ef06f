"""Golden files: the stitched bytes are the contract.

A golden case is a directory under tests/resources/golden/ holding
- `origin.m3u8`   an origin media playlist recorded at one instant (inside a break, or at its
                  return);
- `records.json`  the break records (KV values, `BreakRecord.to_json`) the real monitor had written;
- `ledger.json`   the channel's discontinuity ledger (KV value, `Ledger.to_json`) at that instant;
- `meta.json`     `mode`, `origin_url` (what segment URIs resolve against), `segment_duration`,
                  `bandwidth` (the variant's), plus what the mode needs: for `ssai`, `slate_url` and
                  `vod` ({conditioned playlist URL: number of 2 s segments}, fixed stand-ins for the
                  ad and slate playlists, as tests/test_ssai.py uses); and a free `description`;
- `expected.m3u8` what the stitcher must serve, compared byte for byte.
The test re-renders every case from its files alone (no network, clock, KV or media). Another mode
(SGAI, passthrough) adds a branch to `RENDERERS` and its cases; the comparison stays the same.

Regenerating (after a deliberate change of the output; review `git diff tests/resources/golden`):

    GOLDEN_UPDATE=1 .venv/bin/python -m pytest -q tests/test_golden.py

rebuilds every case listed in `CASES` from the real pipeline on a fake clock — origin emulator
served over HTTP (each cue format, one origin with its own discontinuities), the monitor detecting
the cue and writing the break through the ledger into a SQLite KV — records the origin playlist,
records, ledger and the stitched output at the chosen instant, then runs the comparison. It needs
the small test rig's media (rendered by ffmpeg on first use). Cases not in `CASES` (written by hand
or by another generator) are compared but never rewritten.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from origin_emulator.config import CUE_FORMATS
from stitcher.breaks import BreakRecord, Ledger
from stitcher.clock import FakeClock
from stitcher.playlist import format_datetime, parse_media_playlist
from stitcher.ssai import VodMedia, stitch
from tests.ssai_stack import origin_url, resume_url, ssai_stack, stand_in_segments

GOLDEN = Path(__file__).parent / "resources" / "golden"
UPDATE = os.environ.get("GOLDEN_UPDATE", "") not in ("", "0")
FILES = ("origin.m3u8", "records.json", "ledger.json", "meta.json", "expected.m3u8")


# --------------------------------------------------------------------------- rendering a case


def render_ssai(case: Path, meta: dict) -> str:
    origin = parse_media_playlist((case / "origin.m3u8").read_text())
    records = [BreakRecord.from_json(r) for r in json.loads((case / "records.json").read_text())]
    ledger = Ledger.from_json(json.loads((case / "ledger.json").read_text()))
    media = {
        url: VodMedia(url, stand_in_segments(url, count, meta["segment_duration"]))
        for url, count in meta["vod"].items()
    }
    playlist = stitch(
        origin,
        meta["origin_url"],
        records,
        ledger,
        meta["segment_duration"],
        meta["bandwidth"],
        media,
        meta["slate_url"],
        resume_url=meta.get("resume_url"),
    )
    return playlist.render()


RENDERERS: dict[str, Callable[[Path, dict], str]] = {"ssai": render_ssai}


def render_case(case: Path) -> str:
    meta = json.loads((case / "meta.json").read_text())
    renderer = RENDERERS.get(meta["mode"])
    if renderer is None:
        pytest.fail(
            f"golden case {case.name}: no renderer for mode {meta['mode']!r} (add one to RENDERERS)"
        )
    return renderer(case, meta)


# ------------------------------------------------------------------ the cases the generator records


@dataclass(frozen=True)
class GoldenCase:
    name: str
    fmt: str
    command: str
    # "inside": the first four replaced slots are out; "return": the return is the newest segment
    moment: str
    variant: str = "hi"
    discontinuity_every: int = 0
    duration: float = 12.0
    preroll: float = 8.0

    @property
    def description(self) -> str:
        where = "inside the break" if self.moment == "inside" else "at the return to content"
        origin = (
            f", origin DISCONTINUITY every {self.discontinuity_every} segments: the splice and the"
            " return fall on one (two tags), slots that are not splices keep the origin's"
            if self.discontinuity_every
            else ""
        )
        return (
            f"{self.fmt} cue ({self.command}), {self.duration:g} s break, pre-roll"
            f" {self.preroll:g} s{origin}; {self.variant} {where}"
        )


CASES = tuple(
    GoldenCase(f"{fmt}-{moment}", fmt, command, moment, variant)
    for fmt, command in zip(
        CUE_FORMATS, ("splice_insert", "time_signal", "splice_insert", "time_signal")
    )
    for moment, variant in (("inside", "hi"), ("return", "lo"))
) + (
    GoldenCase(
        "origin-discontinuity-inside",
        "daterange",
        "splice_insert",
        "inside",
        "hi",
        discontinuity_every=2,
    ),
    GoldenCase(
        "origin-discontinuity-return",
        "daterange",
        "splice_insert",
        "return",
        "lo",
        discontinuity_every=2,
    ),
)


async def record_case(case: GoldenCase, settings, content, workdir: Path) -> dict[str, str]:
    """Play the real pipeline until the case's moment; the five files' contents."""
    clock = FakeClock(settings.origin.epoch + 86_400.5)
    async with ssai_stack(
        settings, content, workdir, clock, discontinuity_every=case.discontinuity_every
    ) as stack:
        timeline = stack.origin.timeline
        preroll = case.preroll
        # make the splice point (and, with a whole number of periods, the return) an origin
        # discontinuity
        if case.discontinuity_every:
            preroll = next(
                p
                for p in range(int(case.preroll), 60)
                if timeline.first_at_or_after(clock.now() + p) % case.discontinuity_every == 0
            )
        splice = stack.origin.post_splice(
            clock.now(), case.duration, preroll, case.fmt, case.command
        )
        record = None
        while True:
            clock.advance(0.5)
            now = clock.now()
            if now == int(now):
                await stack.monitor.poll(stack.channel)
            records = await stack.ledger.records("news")
            if not records:
                continue
            (record,) = records
            first_slot = timeline.first_at_or_after(record.ad_start - 0.5)
            target = first_slot + 3 if case.moment == "inside" else splice.stop
            if timeline.last_published(now) >= target:
                break
        origin = stack.origin.media(case.variant, now)
        records, ledger = await stack.state()
        stitched = stack.stitch(case.variant, origin, records, ledger)
        origin_text = origin.render()
        assert parse_media_playlist(origin_text) == origin, (
            "the recorded origin playlist must parse back to what was stitched"
        )
        bandwidth = stack.bandwidth(case.variant)
        used = {
            url
            for r in records
            for item in r.pod.items
            for b, url in item.variants
            if b == bandwidth
        } | {stack.slate[bandwidth]}
        meta = {
            "mode": "ssai",
            "description": case.description,
            "format": case.fmt,
            "recorded_at": format_datetime(now),
            "origin_url": origin_url(case.variant),
            "segment_duration": stack.channel.segment_duration,
            "bandwidth": bandwidth,
            "slate_url": stack.slate[bandwidth],
            "resume_url": resume_url(case.variant),
            "vod": {url: len(stack.media[url].segments) for url in sorted(used)},
        }
        return {
            "origin.m3u8": origin_text,
            "records.json": json.dumps([r.to_json() for r in records], indent=2) + "\n",
            "ledger.json": json.dumps(ledger.to_json(), indent=2) + "\n",
            "meta.json": json.dumps(meta, indent=2) + "\n",
            "expected.m3u8": stitched.render(),
        }


@pytest.fixture(scope="module")
def golden_cases(request, tmp_path_factory) -> list[Path]:
    """Every case directory; with GOLDEN_UPDATE=1, the generator's cases are recorded afresh
    first."""
    if UPDATE:
        settings = request.getfixturevalue("small_settings")
        content = request.getfixturevalue("small_content")
        for case in CASES:
            files = asyncio.run(
                record_case(case, settings, content, tmp_path_factory.mktemp(case.name))
            )
            directory = GOLDEN / case.name
            directory.mkdir(parents=True, exist_ok=True)
            for name, text in files.items():
                (directory / name).write_text(text)
    return case_directories()


def case_directories() -> list[Path]:
    return sorted(p for p in GOLDEN.iterdir() if p.is_dir()) if GOLDEN.is_dir() else []


NAMES = sorted(
    {p.name for p in case_directories()} | ({c.name for c in CASES} if UPDATE else set())
)


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("name", NAMES)
def test_golden_case_renders_exactly(name: str, golden_cases: list[Path]) -> None:
    case = GOLDEN / name
    missing = [f for f in FILES if not (case / f).is_file()]
    assert not missing, f"golden case {name} lacks {', '.join(missing)}"
    expected = (case / "expected.m3u8").read_bytes()
    actual = render_case(case).encode()
    assert actual == expected, (
        f"golden case {name}: stitched bytes differ (GOLDEN_UPDATE=1 regenerates; review the diff)"
    )


def test_golden_cases_cover_every_cue_format_and_an_origin_discontinuity(
    golden_cases: list[Path],
) -> None:
    metas = {p.name: json.loads((p / "meta.json").read_text()) for p in golden_cases}
    assert {m.get("format") for m in metas.values() if m["mode"] == "ssai"} >= set(CUE_FORMATS)
    assert {c.name for c in CASES} <= set(metas), (
        "a generator case was never recorded: run with GOLDEN_UPDATE=1"
    )
    doubled = "#EXT-X-DISCONTINUITY\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:"
    for name in ("origin-discontinuity-inside", "origin-discontinuity-return"):
        origin = (GOLDEN / name / "origin.m3u8").read_text()
        assert "#EXT-X-DISCONTINUITY\n" in origin and doubled not in origin
        assert doubled in (GOLDEN / name / "expected.m3u8").read_text(), (
            f"{name}: no splice or return on the origin discontinuity"
        )
