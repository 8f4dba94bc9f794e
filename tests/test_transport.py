"""Framing and envelope checks of `skill_lsp.transport`, the pure half of the server's reader."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skill_lsp.transport import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
    Fault,
    FrameParser,
    Oversized,
    check_envelope,
    decode,
)


def frame(body: bytes, headers: bytes = b"") -> bytes:
    return headers + b"Content-Length: %d\r\n\r\n" % len(body) + body


def feed_in_pieces(parser: FrameParser, data: bytes, cuts: list[int]) -> list[bytes | Oversized]:
    out: list[bytes | Oversized] = []
    last = 0
    for cut in sorted(set(c % (len(data) + 1) for c in cuts)) + [len(data)]:
        out += parser.feed(data[last:cut])
        last = cut
    return out


BODIES = st.lists(st.binary(max_size=300), min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(BODIES, st.lists(st.integers(min_value=0), max_size=20))
def test_any_chunking_gives_the_same_bodies(bodies: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(frame(b, b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n") for b in bodies)
    assert feed_in_pieces(FrameParser(), stream, cuts) == bodies


def test_header_names_are_case_insensitive_and_lf_only_lines_work() -> None:
    body = b'{"jsonrpc": "2.0"}'
    assert FrameParser().feed(b"content-length:%d\n\n" % len(body) + body) == [body]


@pytest.mark.parametrize("junk", [
    b"Content-Length: abc\r\n\r\n",
    b"Content-Length: -5\r\n\r\n",
    b"X-Garbage: 1\r\nContent-Length\r\n\r\n",
    b"\r\n\r\n\r\n",
    b"no header at all, just words\n",
    b"\x00\xff" * 5000,  # a long line with no newline: dropped but for its tail
])
def test_junk_before_a_frame_is_skipped(junk: bytes) -> None:
    body = b'{"id": 1}'
    assert FrameParser().feed(junk + frame(body)) == [body]


def test_a_short_length_costs_one_frame_and_the_next_is_found() -> None:
    first, second = b'{"jsonrpc": "2.0", "id": 1, "method": "a"}', b'{"jsonrpc": "2.0", "id": 2}'
    data = b"Content-Length: %d\r\n\r\n" % (len(first) - 10) + first + frame(second)
    got = FrameParser().feed(data)
    assert got[0] == first[:-10] and got[-1] == second


def test_an_oversized_body_is_skipped_unread() -> None:
    parser = FrameParser(max_body=100)
    big = b"x" * 1000
    got = parser.feed(frame(big)[:500]) + parser.feed(frame(big)[500:] + frame(b"{}"))
    assert got == [Oversized(1000), b"{}"]


def test_a_body_cut_by_the_end_of_input_is_not_delivered() -> None:
    assert FrameParser().feed(b"Content-Length: 100\r\n\r\n{\"id\": 1}") == []


@pytest.mark.parametrize("body,code", [
    (b'{"jsonrpc": "2.0", "id": 1, ', PARSE_ERROR),
    (b"\xff\xfe{}", PARSE_ERROR),
    (b"[" * 100_000 + b"]" * 100_000, PARSE_ERROR),  # too deep for the parser: refused, not a crash
])
def test_bodies_that_are_not_json_are_parse_errors(body: bytes, code: int) -> None:
    fault = decode(body)
    assert isinstance(fault, Fault) and fault.code == code and fault.id is None


@pytest.mark.parametrize("message,code,answer_id", [
    ([{"jsonrpc": "2.0", "id": 1, "method": "x"}], INVALID_REQUEST, None),
    ("text", INVALID_REQUEST, None),
    (None, INVALID_REQUEST, None),
    ({"id": 7, "method": "x"}, INVALID_REQUEST, 7),
    ({"jsonrpc": "1.0", "id": "a", "method": "x"}, INVALID_REQUEST, "a"),
    ({"jsonrpc": "2.0", "id": {"nested": 1}, "method": "x"}, INVALID_REQUEST, None),
    ({"jsonrpc": "2.0", "id": True, "method": "x"}, INVALID_REQUEST, None),
    ({"jsonrpc": "2.0", "id": 1.5, "method": "x"}, INVALID_REQUEST, None),
    ({"jsonrpc": "2.0", "id": 3, "method": 42}, INVALID_REQUEST, 3),
    ({"jsonrpc": "2.0", "id": 3, "method": "x", "params": "flat"}, INVALID_PARAMS, 3),
    ({"jsonrpc": "2.0", "id": 3}, INVALID_REQUEST, 3),
    ({"jsonrpc": "2.0", "id": 3, "result": 1, "error": {}}, INVALID_REQUEST, 3),
])
def test_envelopes_that_are_no_message_get_the_error_and_id_to_answer(message: object, code: int,
                                                                      answer_id: object) -> None:
    fault = check_envelope(message)
    assert fault is not None and (fault.code, fault.id) == (code, answer_id)


@pytest.mark.parametrize("message", [
    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
    {"jsonrpc": "2.0", "id": "s", "method": "x", "params": [1, 2]},
    {"jsonrpc": "2.0", "method": "initialized"},
    {"jsonrpc": "2.0", "id": 4, "result": None},
    {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "the client could not parse us"}},
])
def test_messages_pass(message: dict) -> None:
    assert check_envelope(json.loads(json.dumps(message))) is None
