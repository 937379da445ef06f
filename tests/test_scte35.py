"""`stitcher.scte35.decode`: published vectors, our encoder's cues, and every kind of bad input."""

from __future__ import annotations

import base64
import contextlib
import io
import itertools
import os
from unittest import mock

import pytest
import threefive.stuff
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from threefive.crc import crc32

from origin_emulator.cues import CueSpec, encode, to_base64, to_hex
from origin_emulator.errors import CueError
from stitcher.scte35 import IN_TYPES, OUT_TYPES, Scte35Error, SpliceEvent, decode

TICKS = 90_000

# docs/references.md, "The published test vectors": (cue, expected fields)
VECTORS = [
    (
        "/DA0AAAAAAAA///wBQb+cr0AUAAeAhxDVUVJSAAAjn/PAAGlmbAICAAAAAAsoKGKNAIAmsnRfg==",
        dict(
            command="time_signal",
            event_id=0x4800008E,
            kind="out",
            duration=307.0,
            segmentation_types=(0x34,),
            upid="000000002ca0a18a",
        ),
    ),
    (
        "/DAvAAAAAAAA///wFAVIAACPf+/+c2nALv4AUsz1AAAAAAAKAAhDVUVJAAABNWLbowo=",
        dict(
            command="splice_insert",
            event_id=0x4800008F,
            kind="out",
            auto_return=True,
            immediate=False,
        ),
    ),
    (
        "/DAvAAAAAAAA///wBQb+dGKQoAAZAhdDVUVJSAAAjn+fCAgAAAAALKChijUCAKnMZ1g=",
        dict(
            command="time_signal",
            event_id=0x4800008E,
            kind="in",
            duration=None,
            segmentation_types=(0x35,),
        ),
    ),
    (
        "/DA0AAAAAAAAAAAABQb+ADAQ6QAeAhxDVUVJQAAAO3/PAAEUrEoICAAAAAAg+2UBNAAANvrtoQ==",
        dict(
            command="time_signal", kind="out", segmentation_types=(0x34,), upid="0000000020fb6501"
        ),
    ),
    (
        "/DAvAAAAAAAAAP/wFAUAAAKWf+//4WoauH4BTFYgAAEAAAAKAAhDVUVJAAAAAOv1oqc=",
        dict(command="splice_insert", event_id=662, kind="out", duration=242.0),
    ),
    (
        "/DAqAAAAAAAAAP/wDwUAAAKWf0//4rZw2AABAAAACgAIQ1VFSQAAAAAtegE5",
        dict(command="splice_insert", event_id=662, kind="in", duration=None, auto_return=None),
    ),
    (
        "/DAlAAAAAAAAAP/wFAUAAqbVf+/+AAAAAH4AUmXAAAAAAAAAdIQsGg==",
        dict(command="splice_insert", event_id=173781, kind="out", duration=60.0),
    ),
    (
        "/DAgAAAAAAAAAP/wDwUAAAjsf/9+AKTLgAAAAAAAAAcCe8k=",
        dict(
            command="splice_insert",
            event_id=2284,
            kind="out",
            duration=120.0,
            immediate=True,
            pts=None,
        ),
    ),
]
# RFC 8216 / rfc8216bis example, DATERANGE ID "splice-6FFFFFF0": zero CRC (and one byte short)
RFC_EXAMPLE = (
    "0xFC002F0000000000FF000014056FFFFFF000E011622DCAFF0000"
    "52636200000000000A0008029896F50000008700000000"
)


# --------------------------------------------------------------------------- section builders


def section(
    command_type: int,
    command: bytes,
    descriptors: bytes = b"",
    *,
    pts_adjustment: int = 0,
    command_length: int | None = None,
    table_id: int = 0xFC,
    encrypted: bool = False,
    crc: int | None = None,
) -> bytes:
    length = len(command) if command_length is None else command_length
    body = bytes([0])  # protocol_version
    body += ((int(encrypted) << 39) | pts_adjustment).to_bytes(5, "big")
    body += bytes([0])  # cw_index
    body += ((0xFFF << 12) | length).to_bytes(3, "big")
    body += bytes([command_type]) + command + len(descriptors).to_bytes(2, "big") + descriptors
    head = bytes([table_id]) + (0x3000 | (len(body) + 4)).to_bytes(2, "big")
    data = head + body
    return data + (crc32(data) if crc is None else crc).to_bytes(4, "big")


def splice_time(pts: int | None) -> bytes:
    return bytes([0x7F]) if pts is None else ((1 << 39) | (0x3F << 33) | pts).to_bytes(5, "big")


def splice_insert(
    event_id: int,
    *,
    out: bool = True,
    pts: int | None = 0,
    duration: int | None = None,
    auto_return: bool = True,
    cancel: bool = False,
    program: bool = True,
) -> bytes:
    data = event_id.to_bytes(4, "big") + bytes([0xFF if cancel else 0x7F])
    if cancel:
        return data
    flags = (
        (out << 7) | (program << 6) | ((duration is not None) << 5) | ((pts is None) << 4) | 0x0F
    )
    data += bytes([flags])
    if program:
        if pts is not None:
            data += splice_time(pts)
    else:
        data += bytes([1, 0x22]) + (b"" if pts is None else splice_time(pts))  # one component
    if duration is not None:
        data += ((auto_return << 39) | (0x3F << 33) | duration).to_bytes(5, "big")
    return data + (1).to_bytes(2, "big") + bytes([0, 0])


def segmentation(
    event_id: int,
    type_id: int = 0x34,
    *,
    duration: int | None = None,
    upid: bytes = b"",
    upid_type: int | None = None,
    cancel: bool = False,
) -> bytes:
    body = b"CUEI" + event_id.to_bytes(4, "big")
    if cancel:
        body += bytes([0xFF])
    else:
        body += bytes([0x7F, 0x80 | (0x40 if duration is not None else 0) | 0x3F])
        if duration is not None:
            body += duration.to_bytes(5, "big")
        kind = upid_type if upid_type is not None else (0x08 if upid else 0)
        body += bytes([kind, len(upid)]) + upid + bytes([type_id, 1, 1])
    return bytes([0x02, len(body)]) + body


def private_descriptor(payload: bytes) -> bytes:
    body = b"ABCD" + payload
    return bytes([0xF1, len(body)]) + body


@contextlib.contextmanager
def no_output():
    """Fail if anything is printed: threefive's own stderr, stdout (its HTTP_USER_AGENT mode),
    stderr."""
    out, err, theirs = io.StringIO(), io.StringIO(), io.StringIO()
    saved = threefive.stuff.stderr
    threefive.stuff.stderr = theirs
    try:
        with (
            mock.patch.dict(os.environ, {"HTTP_USER_AGENT": "test"}),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            yield
    finally:
        threefive.stuff.stderr = saved
    assert (out.getvalue(), err.getvalue(), theirs.getvalue()) == ("", "", "")


# --------------------------------------------------------------------------- published vectors


@pytest.mark.parametrize("cue, expected", VECTORS, ids=[f"vector{i}" for i in range(len(VECTORS))])
def test_published_vectors(cue, expected):
    with no_output():
        event = decode(cue)
    assert isinstance(event, SpliceEvent)
    for name, value in expected.items():
        assert getattr(event, name) == value, name
    assert event.raw == base64.b64decode(cue)
    assert event.base64 == cue


def test_vector_details():
    v = [decode(cue) for cue, _ in VECTORS]
    assert round(v[1].duration, 6) == 60.293567 and round(v[1].duration * TICKS) == 5426421
    assert round(v[3].duration, 6) == 201.467133 and v[3].event_id == 0x4000003B
    assert v[5].pts == (v[4].pts + 242 * TICKS) % (1 << 33)  # the return is 242 s after the out
    assert v[0].pts == 0x072BD0050 and v[0].immediate is False and v[0].auto_return is None
    assert v[7].pts is None and v[7].immediate


def test_vectors_decode_from_hex_and_bytes():
    for cue, _ in VECTORS:
        raw = base64.b64decode(cue)
        assert (
            decode(raw)
            == decode(cue)
            == decode("0x" + raw.hex())
            == decode("0X" + raw.hex().upper())
        )
        assert decode(cue.rstrip("=")) == decode(cue)  # missing padding is tolerated
        assert decode(f"  {cue}\n") == decode(cue)


def test_rfc_example_is_rejected_for_its_crc():
    with no_output(), pytest.raises(Scte35Error, match="CRC") as caught:
        decode(RFC_EXAMPLE)
    message = str(caught.value)
    assert "0x00000000" in message  # the CRC field as published
    assert "section_length 47" in message  # and it is one byte short of its section_length


# --------------------------------------------------------------------------- our encoder


def specs():
    for command, kind in itertools.product(
        ("splice_insert", "time_signal"), ("out", "in", "cancel")
    ):
        for pts in (None, 0, 1, 123_456_789, (1 << 33) - 1):
            if kind == "cancel" and pts is not None and command == "splice_insert":
                continue
            for duration in (None, 0.5, 30.0, 201.467133) if kind == "out" else (None,):
                try:
                    yield CueSpec(command, kind, 0x80000001, pts, duration)
                except CueError:
                    continue


def check_round_trip(spec: CueSpec) -> None:
    raw = encode(spec)
    event = decode(raw)
    assert decode(to_base64(raw)) == decode(to_hex(raw)) == event
    assert event.raw == raw
    assert event.command == spec.command
    assert event.event_id == spec.event_id
    assert event.kind == spec.kind
    if spec.kind == "cancel" and spec.command == "splice_insert":
        assert event.pts is None and event.duration is None and not event.immediate
    else:  # a time_signal without a time counts as immediate
        assert event.pts == spec.pts
        assert event.immediate == (spec.pts is None)
    if spec.duration is None:
        assert event.duration is None
    else:
        assert event.duration == spec.duration_ticks / TICKS
    if spec.command == "splice_insert":
        assert event.auto_return == (True if spec.duration is not None else None)
        assert event.segmentation_types == () and event.upid is None
    else:
        assert event.auto_return is None
        if spec.kind == "cancel":
            assert event.segmentation_types == () and event.upid is None
        else:
            default = 0x34 if spec.kind == "out" else 0x35
            st_ = spec.segmentation_type if spec.segmentation_type is not None else default
            assert event.segmentation_types == (st_,)
            upid = spec.upid if spec.upid is not None else spec.event_id.to_bytes(8, "big")
            assert event.upid == upid.hex()


@pytest.mark.parametrize(
    "spec", list(specs()), ids=lambda s: f"{s.command}-{s.kind}-{s.pts}-{s.duration}"
)
def test_round_trip_with_our_encoder(spec):
    with no_output():
        check_round_trip(spec)


@st.composite
def cue_specs(draw):
    command = draw(st.sampled_from(("splice_insert", "time_signal")))
    kind = draw(st.sampled_from(("out", "in", "cancel")))
    pts = draw(st.none() | st.integers(0, (1 << 33) - 1))
    duration = None
    if kind == "out" and draw(st.booleans()):
        limit = 95_000 if command == "splice_insert" else 1_000_000
        duration = draw(st.integers(1, limit * TICKS)) / TICKS
    upid = seg_type = None
    if command == "time_signal" and kind != "cancel":
        upid = draw(st.none() | st.binary(min_size=8, max_size=8))
        seg_type = draw(
            st.none() | st.sampled_from(sorted(OUT_TYPES if kind == "out" else IN_TYPES))
        )
    try:
        return CueSpec(
            command, kind, draw(st.integers(0, (1 << 32) - 1)), pts, duration, upid, seg_type
        )
    except CueError:
        from hypothesis import assume

        assume(False)


@settings(max_examples=150, deadline=None)
@given(cue_specs())
def test_round_trip_any_spec(spec):
    with no_output():
        check_round_trip(spec)


# --------------------------------------------------------------------------- built sections


def test_pts_adjustment_is_added_mod_2_33():
    raw = section(0x06, splice_time((1 << 33) - 10), segmentation(7, 0x34), pts_adjustment=25)
    event = decode(raw)
    assert event.pts == 15 and event.kind == "out" and event.event_id == 7


def test_splice_insert_cancel_and_in():
    cancel = decode(section(0x05, splice_insert(42, cancel=True)))
    assert (cancel.kind, cancel.event_id, cancel.pts, cancel.duration, cancel.immediate) == (
        "cancel",
        42,
        None,
        None,
        False,
    )
    back = decode(section(0x05, splice_insert(42, out=False, pts=900)))
    assert (back.kind, back.pts, back.auto_return) == ("in", 900, None)
    no_auto = decode(section(0x05, splice_insert(42, duration=90 * TICKS, auto_return=False)))
    assert (no_auto.duration, no_auto.auto_return) == (90.0, False)


def test_time_signal_kinds():
    assert (
        decode(section(0x06, splice_time(5), segmentation(9, 0x10))).kind == "other"
    )  # program start
    program_start = decode(
        section(
            0x06, splice_time(5), segmentation(9, 0x10) + segmentation(10, 0x36, duration=TICKS)
        )
    )
    assert (program_start.kind, program_start.event_id, program_start.duration) == ("out", 10, 1.0)
    assert program_start.segmentation_types == (0x10, 0x36)
    cancel = decode(section(0x06, splice_time(None), segmentation(11, cancel=True)))
    assert (cancel.kind, cancel.event_id, cancel.pts, cancel.immediate) == (
        "cancel",
        11,
        None,
        True,
    )
    for start in OUT_TYPES:
        assert decode(section(0x06, splice_time(1), segmentation(1, start))).kind == "out"
        assert decode(section(0x06, splice_time(1), segmentation(1, start + 1))).kind == "in"
    bare = decode(section(0x06, splice_time(1)))
    assert (bare.kind, bare.event_id, bare.segmentation_types) == ("other", None, ())


def test_other_commands():
    null = decode(section(0x00, b""))
    assert (null.command, null.kind, null.event_id, null.pts, null.immediate) == (
        "splice_null",
        "other",
        None,
        None,
        False,
    )
    assert decode(section(0x07, b"")).command == "bandwidth_reservation"
    private = decode(section(0xFF, b"ABCD\x00\x01\xff"))
    assert (private.command, private.kind) == ("private", "other")


def test_private_descriptors_with_binary_payload_are_skipped():
    raw = section(
        0x05,
        splice_insert(5, duration=TICKS),
        private_descriptor(b"\xff\xfe\x00\x80") + segmentation(6, 0x34),
    )
    with no_output():
        event = decode(raw)
    assert (event.kind, event.event_id, event.segmentation_types) == ("out", 5, (0x34,))


def test_legacy_command_length_0xfff():
    command = splice_insert(77, pts=1234, duration=30 * TICKS)
    legacy = decode(section(0x05, command, segmentation(1, 0x10), command_length=0xFFF))
    normal = decode(section(0x05, command, segmentation(1, 0x10)))
    assert (legacy.event_id, legacy.pts, legacy.duration, legacy.segmentation_types) == (
        77,
        1234,
        30.0,
        (0x10,),
    )
    assert (legacy.event_id, legacy.pts, legacy.duration) == (
        normal.event_id,
        normal.pts,
        normal.duration,
    )


def test_upid_is_hex_of_the_relevant_descriptor():
    raw = section(
        0x06,
        splice_time(1),
        segmentation(1, 0x10) + segmentation(2, 0x34, upid=b"abc", upid_type=0x0F),
    )
    assert decode(raw).upid == "616263"
    fallback = section(
        0x06, splice_time(1), segmentation(1, 0x10, upid=b"\xaa" * 8) + segmentation(2, 0x34)
    )
    assert decode(fallback).upid == "aa" * 8


# --------------------------------------------------------------------------- bad input

GOOD = base64.b64decode(VECTORS[6][0])


def flip(data: bytes, index: int, bit: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ (1 << bit)]) + data[index + 1 :]


def with_crc(data: bytes) -> bytes:
    return data[:-4] + crc32(data[:-4]).to_bytes(4, "big")


@pytest.mark.parametrize(
    "payload, reason, words",
    [
        ("", "input", "empty"),
        (b"", "input", "empty"),
        ("   ", "input", "empty"),
        ("this is not base64!", "base64", "not base64"),
        ("0xFC30ZZ", "hex", "not hexadecimal"),
        ("0xFC3", "hex", "not hexadecimal"),
        (12345, "input", "not int"),
        (None, "input", "not NoneType"),
        (GOOD[:-5], "truncated", "truncated"),
        (GOOD[:2], "truncated", "truncated"),
        (flip(GOOD, 20), "crc", "CRC mismatch"),
        (flip(GOOD, len(GOOD) - 1, 7), "crc", "CRC mismatch"),
        (with_crc(b"\xfd" + GOOD[1:]), "table_id", "table_id is 0xfd"),
        (b"\x47\x40\x00\x10", "table_id", "not a splice_info_section"),
        (GOOD + b"junk", "length", "after the splice_info_section"),
        (section(0x04, b"\x00"), "unsupported", "splice_schedule"),
        (section(0x09, b""), "unsupported", "reserved command type 0x09"),
        (section(0x05, splice_insert(1), encrypted=True), "unsupported", "encrypted"),
        (section(0x05, splice_insert(1, program=False)), "unsupported", "component"),
        (
            section(0x05, splice_insert(1, pts=5), command_length=9),
            "command",
            "splice_command_length is 9",
        ),
        (section(0x06, splice_time(5), command_length=3), "command", "splice_command_length is 3"),
        (section(0x05, splice_insert(1), b"\x02\x30CUEI"), "descriptor", "overruns"),
        (section(0x05, splice_insert(1), b"\x02\x01C"), "descriptor", "too short"),
        (
            section(0x06, splice_time(5), segmentation(1, 0x34, upid=b"\x01", upid_type=0x77)),
            "threefive",
            "upid",
        ),
        (section(0xFF, b"AB"), "command", "private_command"),
    ],
)
def test_bad_input_raises_a_clear_error(payload, reason, words):
    with no_output(), pytest.raises(Scte35Error) as caught:
        decode(payload)
    assert caught.value.reason == reason, str(caught.value)
    assert words.lower() in str(caught.value).lower()
    assert isinstance(caught.value, ValueError)


def test_crc_mismatch_names_both_crcs():
    bad = flip(GOOD, 20)
    stored, computed = int.from_bytes(bad[-4:], "big"), crc32(bad[:-4])
    with pytest.raises(Scte35Error) as caught:
        decode(bad)
    assert f"0x{stored:08x}" in str(caught.value) and f"0x{computed:08x}" in str(caught.value)


def test_trailing_stuffing_is_tolerated():
    assert decode(GOOD + b"\xff\xff").raw == GOOD


# --------------------------------------------------------------------------- properties

SEEDS = [base64.b64decode(cue) for cue, _ in VECTORS] + [
    encode(CueSpec("time_signal", "out", 3, 100, 30.0)),
    encode(CueSpec("time_signal", "cancel", 3, None)),
    encode(CueSpec("splice_insert", "out", 3, None, 30.0)),
    section(0x06, splice_time(1), segmentation(1, 0x10) + segmentation(2, 0x34, duration=5)),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_random_bytes_only_ever_raise_scte35error_and_never_print(data):
    with no_output():
        try:
            event = decode(data)
        except Scte35Error:
            return
    assert isinstance(event, SpliceEvent)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 300), st.integers(0, 255)), max_size=6),
    st.integers(-8, 8),
    st.booleans(),
)
def test_mutated_sections_with_a_valid_crc_never_crash(seed, edits, resize, fix_length):
    """Mutations behind a recomputed CRC reach threefive's parser: still only Scte35Error, never
    output."""
    body = bytearray(seed[:-4])
    for index, value in edits:
        if body:
            body[index % len(body)] = value
    if resize > 0:
        body += bytes(resize)
    elif resize < 0:
        del body[resize:]
    if body:
        body[0] = 0xFC
    if fix_length and len(body) >= 3:
        length = len(body) + 4 - 3
        body[1] = (body[1] & 0xF0) | ((length >> 8) & 0x0F)
        body[2] = length & 0xFF
    data = bytes(body) + crc32(bytes(body)).to_bytes(4, "big")
    with no_output():
        try:
            event = decode(data)
        except Scte35Error:
            return
    assert event.kind in ("out", "in", "cancel", "other")
    assert event.pts is None or 0 <= event.pts < 1 << 33
    assert event.duration is None or event.duration >= 0
    assert event.raw == data[: 3 + (((data[1] & 0x0F) << 8) | data[2])]


def test_base64_input_never_prints_even_in_threefive_cgi_mode():
    with no_output():
        for cue, _ in VECTORS:
            decode(cue)
        with pytest.raises(Scte35Error):
            decode(
                section(0x06, splice_time(5), segmentation(1, 0x34, upid=b"\x01", upid_type=0x77))
            )
