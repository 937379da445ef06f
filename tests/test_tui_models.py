"""The TUI's pure parts (tui.windows, tui.models): segment classification, cue markers for every
playlist format, API answers into views, where a player is. No textual, no network (tui.models and
tui.sources never import textual)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from stitcher.playlist import Tag, parse_media_playlist, segment_kind
from tui.models import (
    BreakView,
    PodItemView,
    Selection,
    break_views,
    locate,
    relative_to_live,
    session_views,
    splice_views,
)
from tui.windows import SegmentView, segment_views, tag_marker, window_rows

T0 = 1_767_312_000.0  # 2026-01-02T00:00:00Z


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("http://127.0.0.1:8081/news/hi/seg_43200.ts", ("content", None)),
        ("seg_43200.ts", ("content", None)),
        ("http://127.0.0.1:8082/ads/house-2/ab12/hi/seg_00000.ts", ("ad", "house-2")),
        ("http://127.0.0.1:8082/ads/slate/ab12/hi/seg_00000.ts", ("slate", None)),
        ("http://127.0.0.1:8082/slate/ab12/hi/seg_00003.ts?x=/ads/", ("slate", None)),
    ],
)
def test_segment_kinds(uri, expected):
    assert segment_kind(uri) == expected


@pytest.mark.parametrize(
    "line, marker",
    [
        (
            '#EXT-X-DATERANGE:ID="splice-7",START-DATE="2026-01-02T00:00:10.000Z",PLANNED-DURATION=30.000,SCTE35-OUT=0xFC30',
            "DATERANGE splice-7 OUT 30s",
        ),
        (
            '#EXT-X-DATERANGE:ID="splice-7",START-DATE="2026-01-02T00:00:10.000Z",DURATION=30.000,SCTE35-IN=0xFC30',
            "DATERANGE splice-7 IN",
        ),
        (
            '#EXT-X-DATERANGE:ID="splice-7-cancel",START-DATE="2026-01-02T00:00:10.000Z",SCTE35-CMD=0xFC30',
            "DATERANGE splice-7-cancel CMD",
        ),
        (
            '#EXT-X-DATERANGE:ID="ad-1",CLASS="com.apple.hls.interstitial",START-DATE="2026-01-02T00:00:10.000Z",DURATION=6.000',
            "INTERSTITIAL ad-1 6s",
        ),
        ("#EXT-X-CUE-OUT:30.000", "CUE-OUT 30"),
        ("#EXT-X-CUE-OUT:DURATION=20", "CUE-OUT 20"),
        ("#EXT-X-CUE-OUT-CONT:ElapsedTime=4.000,Duration=30,SCTE35=/DAl", "CUE-OUT-CONT 4.000/30"),
        ("#EXT-X-CUE-OUT-CONT:4/30", "CUE-OUT-CONT 4/30"),
        ("#EXT-X-CUE-IN", "CUE-IN"),
        ('#EXT-X-SCTE35:CUE="/DAl",CUE-OUT=YES', "SCTE35 OUT"),
        ('#EXT-X-SCTE35:CUE="/DAl",CUE-OUT=CONT', "SCTE35 CONT"),
        ('#EXT-X-SCTE35:CUE="/DAl",CUE-IN=YES', "SCTE35 IN"),
        ("#EXT-OATCLS-SCTE35:/DAlAAAA", "OATCLS-SCTE35"),
        ("#EXT-X-SPLICEPOINT-SCTE35:/DAl", "SPLICEPOINT-SCTE35"),
        ("#EXT-X-BYTERANGE:100@0", None),
    ],
)
def test_cue_markers_for_every_format(line, marker):
    assert tag_marker(Tag.parse(line)) == marker


def test_segment_views_keep_msn_pdt_discontinuities_and_announced_dateranges():
    text = "\n".join(
        [
            "#EXTM3U",
            "#EXT-X-TARGETDURATION:2",
            "#EXT-X-MEDIA-SEQUENCE:100",
            "#EXT-X-PROGRAM-DATE-TIME:2026-01-02T00:00:00.000Z",
            "#EXTINF:2.000,",
            "seg_100.ts",
            "#EXT-X-DISCONTINUITY",
            "#EXT-X-PROGRAM-DATE-TIME:2026-01-02T00:00:02.000Z",
            "#EXTINF:2.000,",
            "http://media/ads/house-1/x/hi/seg_00000.ts",
            '#EXT-X-DATERANGE:ID="splice-9",START-DATE="2026-01-02T00:00:10.000Z",PLANNED-DURATION=10,SCTE35-OUT=0xFC',
            "",
        ]
    )
    views = segment_views(parse_media_playlist(text))
    assert views == (
        SegmentView(100, 2.0, "content", None, T0, 0, ()),
        SegmentView(101, 2.0, "ad", "house-1", T0 + 2, 1, ("next DATERANGE splice-9 OUT 10s",)),
    )
    rows = window_rows(views, views[1:])
    assert [(r.msn, r.origin is not None, r.stitched is not None, r.pdt) for r in rows] == [
        (100, True, False, T0),
        (101, True, True, T0 + 2),
    ]


def test_break_and_splice_answers_into_views():
    data = {
        "channel": "news",
        "breaks": [
            {
                "eventId": "manual-2",
                "source": "manual",
                "state": "upcoming",
                "startTime": "2026-01-02T00:01:00.000Z",
                "adStart": "2026-01-02T00:01:00.000Z",
                "endTime": "2026-01-02T00:01:10.000Z",
                "duration": 10,
                "decision": {
                    "podId": "p",
                    "items": [{"id": "house-1", "kind": "ad", "duration": 4}],
                },
            },
            {
                "eventId": "splice-1",
                "source": "scte35",
                "state": "active",
                "startTime": "2026-01-02T00:00:00.000Z",
                "adStart": "2026-01-02T00:00:02.000Z",
                "endTime": "2026-01-02T00:00:12.000Z",
                "duration": 12,
                "decision": {
                    "podId": "q",
                    "items": [
                        {"id": "house-1", "kind": "ad", "duration": 4},
                        {"id": "house-2", "kind": "ad", "duration": 4},
                    ],
                },
            },
            "junk",
        ],
    }
    active, upcoming = break_views(data)
    assert (active.event_id, upcoming.event_id) == ("splice-1", "manual-2")
    assert active.remaining(T0 + 5.2) == "7 s left" and upcoming.remaining(T0 + 5.2) == "in 55 s"
    assert active.remaining(T0 + 12) == "ended"
    assert [active.item_at(T0 + t) for t in (1, 2, 6, 10)] == [
        None,
        PodItemView("house-1", "ad", 4),
        PodItemView("house-2", "ad", 4),
        PodItemView("slate", "slate", 2),
    ]
    (splice,) = splice_views(
        {
            "splices": [
                {
                    "id": 7,
                    "source": "control",
                    "format": "cue-out",
                    "command": "time_signal",
                    "state": "pending",
                    "start": "2026-01-02T00:00:10.000Z",
                    "duration": 8.0,
                }
            ]
        }
    )
    assert (splice.id, splice.start, splice.duration) == ("7", T0 + 10, 8.0)
    assert (
        break_views({}) == ()
        and break_views(None) == ()
        and splice_views({"splices": "nope"}) == ()
    )


def test_sessions_hide_the_tuis_own_polls_and_players_are_placed():
    data = {
        "sessions": [
            {
                "id": "127.0.0.1 ssai-rig-tui",
                "client": "127.0.0.1",
                "channel": "news",
                "mode": "ssai",
                "variant": "hi",
            },
            {
                "id": "p1",
                "client": "10.0.0.9",
                "channel": "news",
                "mode": "ssai",
                "variant": "lo",
                "last_seen": T0,
                "msn": 101,
                "playhead": T0 - 3,
            },
            {
                "id": "p2",
                "client": "10.0.0.8",
                "channel": "news",
                "mode": "sgai",
                "variant": "lo",
                "playhead": "2026-01-02T00:00:03.000Z",
            },
            {"id": "p3", "channel": "news", "mode": "ssai", "kind": "slate", "ad": ""},
        ]
    }
    p1, p2, p3 = session_views(data, "ssai-rig-tui")
    selection = Selection("news", "hi", "ssai")
    stitched = (SegmentView(101, 2.0, "ad", "house-9", T0 + 2, 1, ()),)
    pod = BreakView(
        "b", "manual", "active", T0, T0 + 2, T0 + 10, 8.0, (PodItemView("house-1", "ad", 4.0),)
    )
    assert locate(p1, selection, (pod,), stitched) == (
        "ad",
        "house-9",
    )  # by its MSN in the stitched window
    assert locate(p2, selection, (pod,), stitched) == (
        "ad",
        "house-1",
    )  # by its playhead in the break
    assert locate(p3, selection, (), ()) == ("slate", None)  # the stitcher's own estimate
    assert locate(p1, Selection("sports", "hi"), (pod,), stitched) == ("?", None)
    assert relative_to_live(p1.playhead, T0) == "live-3.0s" and relative_to_live(None, T0) == "-"


def test_the_tuis_data_side_does_not_import_textual():
    code = (
        "import json, sys, tui.models, tui.sources, tui.windows; print(json.dumps(sorted(m for m"
        " in sys.modules if m.split('.')[0] == 'textual')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == []
