"""JSON-RPC 2.0 over a byte stream, hardened: framing and envelope checks, no I/O of its own.

pygls' reader loop trusts its peer: a lying `Content-Length` desynchronizes it for good, a body
that is JSON but not a message object raises inside it, and a request whose params do not match
their type is dropped without an answer (the editor feature that sent it then waits forever).
This module holds the pure parts of our replacement, which `server.SkillProtocol` drives:

- `FrameParser`: bytes in, message bodies out (sans-I/O, so stdio and TCP share it). A header
  block is lines up to a blank line; `Content-Length` is found case-insensitively anywhere in a
  line, so a reader knocked off course by a short length finds the next frame again; header
  blocks without a valid length are skipped; a body over `max_body` bytes is skipped unread.
- `decode` and `check_envelope`: a body to a JSON object, or the JSON-RPC error to answer with
  (Parse error, Invalid Request), with the id to answer to when the message had a usable one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
SERVER_NOT_INITIALIZED = -32002

MAX_MESSAGE_BYTES = 64 << 20  # a body over this is skipped unread: nothing an editor sends is near it
MAX_HEADER_LINE = 8192  # a "header line" longer than this is garbage; only its tail is kept
_LENGTH = re.compile(rb"content-length[ \t]*:[ \t]*(\d{1,15})[ \t]*\r?\n", re.IGNORECASE)
_KEEP_TAIL = 64  # of a dropped over-long line: enough for a `Content-Length` header cut in two


@dataclass(frozen=True, slots=True)
class Oversized:
    """A frame whose declared body was over the limit; its bytes were skipped."""

    length: int


class FrameParser:
    """Incremental `Content-Length` framing: `feed` chunks as they arrive, get whole bodies back."""

    def __init__(self, max_body: int = MAX_MESSAGE_BYTES, max_header_line: int = MAX_HEADER_LINE) -> None:
        self.max_body = max_body
        self.max_header_line = max_header_line
        self._buf = bytearray()
        self._length: int | None = None  # from the header block being read
        self._body: int | None = None  # bytes of the body being read
        self._skip = 0  # bytes of an oversized body still to drop

    def feed(self, data: bytes) -> list[bytes | Oversized]:
        buf = self._buf
        buf += data
        out: list[bytes | Oversized] = []
        pos = 0
        while True:
            if self._skip:
                n = min(self._skip, len(buf) - pos)
                pos += n
                self._skip -= n
                if self._skip:
                    break
                continue
            if self._body is not None:
                if len(buf) - pos < self._body:
                    break
                out.append(bytes(buf[pos:pos + self._body]))
                pos += self._body
                self._body = None
                continue
            nl = buf.find(b"\n", pos)
            if nl < 0:
                if len(buf) - pos > self.max_header_line:
                    pos = len(buf) - _KEEP_TAIL
                break
            line = bytes(buf[pos:nl + 1])
            pos = nl + 1
            if line.strip():
                m = _LENGTH.search(line)
                if m:
                    self._length = int(m.group(1))
                continue
            if self._length is None:
                continue  # a blank line with no length before it: stray bytes between frames
            length, self._length = self._length, None
            if length > self.max_body:
                self._skip = length
                out.append(Oversized(length))
            else:
                self._body = length
        del buf[:pos]
        return out


@dataclass(frozen=True, slots=True)
class Fault:
    """What to answer instead of handling a message: a JSON-RPC error, to `id` (None: null)."""

    code: int
    message: str
    id: int | str | None = None


def valid_id(value: Any) -> bool:
    """LSP request ids are integers or strings (JSON-RPC's null and fractions are refused)."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def decode(body: bytes) -> Any | Fault:
    """A body's JSON value, or the Parse error to answer."""
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        return Fault(PARSE_ERROR, f"Parse error: {_short(exc)}")


def check_envelope(data: Any) -> Fault | None:
    """Why `data` is not a JSON-RPC 2.0 request, notification or response (None when it is one)."""
    if isinstance(data, list):
        return Fault(INVALID_REQUEST, "Invalid Request: batches are not part of LSP; send one message per frame")
    if not isinstance(data, dict):
        return Fault(INVALID_REQUEST, f"Invalid Request: a message is a JSON object, not {type(data).__name__}")
    has_id = "id" in data
    msg_id = data.get("id")
    answer_to = msg_id if valid_id(msg_id) else None
    if data.get("jsonrpc") != "2.0":
        return Fault(INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"', answer_to)
    if has_id and not valid_id(msg_id) and not ("method" not in data and msg_id is None and "error" in data):
        return Fault(INVALID_REQUEST, "Invalid Request: an id is an integer or a string")
    if "method" in data:
        if not isinstance(data["method"], str):
            return Fault(INVALID_REQUEST, "Invalid Request: the method must be a string", answer_to)
        params = data.get("params")
        if params is not None and not isinstance(params, dict | list):
            return Fault(INVALID_PARAMS, "Invalid params: params are an object or an array", answer_to)
        return None
    if not has_id or ("result" in data) == ("error" in data):
        return Fault(INVALID_REQUEST, "Invalid Request: neither a request, a notification nor a response",
                     answer_to)
    return None


def _short(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= limit else text[:limit] + "..."


__all__ = ["Fault", "FrameParser", "Oversized", "check_envelope", "decode", "valid_id"]
