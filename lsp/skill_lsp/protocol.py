"""The JSON-RPC side of the server: typed agent requests, a protocol that answers every message
it is sent, and the stdio and TCP connections that feed it.

Every frame goes through `SkillProtocol.receive`, which decides before pygls sees it:
- not JSON: Parse error (id null); JSON but no JSON-RPC 2.0 message: Invalid Request;
- before `initialize`: requests get ServerNotInitialized, notifications are dropped; after
  `shutdown`: requests get Invalid Request; `exit` ends the connection (exit code 0 after a
  shutdown, 1 without), as the LSP lifecycle says;
- an unknown method: Method not found; params that do not fit their type: Invalid params, with
  where and why (pygls would drop such a request and leave the editor waiting).
Only then does pygls dispatch. Writing to a client that has gone ends the connection quietly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

import attrs
import cattrs
from lsprotocol import types as lsp
from pygls.protocol import LanguageServerProtocol, default_converter
from pygls.protocol.json_rpc import JsonRPCNotification, JsonRPCRequestMessage, JsonRPCResponseMessage
from pygls.workspace import TextDocument, Workspace

from .transport import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    MAX_MESSAGE_BYTES,
    METHOD_NOT_FOUND,
    SERVER_NOT_INITIALIZED,
    Fault,
    FrameParser,
    Oversized,
    check_envelope,
    decode,
)

log = logging.getLogger("skill_lsp.protocol")

ROUTE, LIST, RESOLVE = "skills/route", "skills/list", "skills/resolve"
READ_CHUNK = 1 << 16


# --- typed custom requests ------------------------------------------------------------------
# Params are attrs classes structured by a lenient hook: a wrong type is not a structuring error
# but a list of problems, which the handler answers as InvalidParams naming each field.
@attrs.define
class RouteParams:
    query: str = ""
    limit: int | None = None
    root: str | None = None
    problems: list[str] = attrs.field(factory=list)


@attrs.define
class ListParams:
    root: str | None = None
    problems: list[str] = attrs.field(factory=list)


@attrs.define
class ResolveParams:
    id: str | None = None
    name: str | None = None
    problems: list[str] = attrs.field(factory=list)


_FIELD_TYPES: dict[type, dict[str, type]] = {
    RouteParams: {"query": str, "limit": int, "root": str},
    ListParams: {"root": str},
    ResolveParams: {"id": str, "name": str},
}


def lenient(cls: type) -> Callable[[Any, Any], Any]:
    """A structure hook for `cls`: fields of the wrong type become `problems`, never an exception."""
    def hook(obj: Any, _type: Any) -> Any:
        if obj is None:
            return cls()
        if not isinstance(obj, dict):
            return cls(problems=["params must be a JSON object"])
        values: dict[str, Any] = {}
        problems: list[str] = []
        for name, want in _FIELD_TYPES[cls].items():
            value = obj.get(name)
            if value is None:
                continue
            if isinstance(value, want) and not (want is int and isinstance(value, bool)):
                values[name] = value
            else:
                problems.append(f"`{name}` must be a {'string' if want is str else 'number'}")
        return cls(**values, problems=problems)
    return hook


def _request_type(method_name: str, params_cls: type) -> type:
    @attrs.define
    class Request:
        id: Any
        params: params_cls | None = None  # type: ignore[valid-type]
        method: str = method_name
        jsonrpc: str = "2.0"
    Request.__name__ = params_cls.__name__.replace("Params", "Request")
    attrs.resolve_types(Request, localns={"params_cls": params_cls, "Any": Any})
    return Request


CUSTOM_REQUESTS: dict[str, type] = {
    ROUTE: _request_type(ROUTE, RouteParams),
    LIST: _request_type(LIST, ListParams),
    RESOLVE: _request_type(RESOLVE, ResolveParams),
}


def make_converter() -> cattrs.Converter:
    conv = default_converter()
    for cls in _FIELD_TYPES:
        conv.register_structure_hook(cls, lenient(cls))
    return conv


# --- documents ----------------------------------------------------------------------------------
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


class LspTextDocument(TextDocument):
    """Lines end at \\n, \\r\\n and \\r only, as LSP says. `str.splitlines` (pygls) also ends them at
    form feeds, \\x85 and U+2028, so an edit after one of those landed a line too low."""

    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(_LINE.findall(self.source))


class LspWorkspace(Workspace):
    def _create_text_document(self, doc_uri: str, source: str | None = None, version: int | None = None,
                              language_id: str | None = None) -> TextDocument:
        return LspTextDocument(doc_uri, source=source, version=version, language_id=language_id,
                               sync_kind=self._sync_kind, position_codec=self._position_codec)


def lsp_workspace(ws: Workspace) -> LspWorkspace:
    """The same workspace (folders, sync kind, position encoding), with LSP's line endings."""
    return LspWorkspace(ws.root_uri, ws._sync_kind, list(ws.folders.values()), ws.position_encoding)


# --- the protocol -------------------------------------------------------------------------------
class SkillProtocol(LanguageServerProtocol):
    def __init__(self, server: Any, converter: cattrs.Converter) -> None:
        super().__init__(server, converter)
        self.initialize_seen = False
        self.closed = False
        self.exit_code: int | None = None
        self.on_close: Callable[[], None] | None = None
        self.max_message_bytes = MAX_MESSAGE_BYTES

    def get_message_type(self, method: str) -> type | None:
        return CUSTOM_REQUESTS.get(method) or super().get_message_type(method)

    # --- incoming -------------------------------------------------------------------------------
    def receive_frames(self, frames: list[bytes | Oversized]) -> None:
        for frame in frames:
            if self.closed:
                return
            if isinstance(frame, Oversized):
                log.warning("skipped a message of %d bytes (over the limit)", frame.length)
                self.refuse(Fault(INVALID_REQUEST, f"Invalid Request: a message of {frame.length:,} bytes "
                                                   "is over the limit; skipped"))
            else:
                self.receive(frame)

    def receive(self, body: bytes) -> None:
        """One frame's body, from bytes to a handled message or an error answer. Never raises."""
        try:
            data = decode(body)
            fault = data if isinstance(data, Fault) else check_envelope(data)
            if fault is not None:
                self.refuse(fault)
                return
            fault = self._gate(data)
            if fault is not None:
                if "id" in data:
                    self.refuse(fault)
                elif not data["method"].startswith("$/"):
                    log.info("notification %s dropped: %s", data["method"], fault.message)
                return
            if data.get("method") == lsp.EXIT:
                self.exit_code = 0 if self._shutdown else 1
                self.connection_lost("exit")
                return
            message = self._structure(data)
            if message is not None:
                self.handle_message(message)
        except Exception:
            log.exception("a message could not be handled")

    def _gate(self, data: dict[str, Any]) -> Fault | None:
        """The lifecycle and method checks: why this message is not handled (a request gets the
        fault as its answer, a notification is dropped), or None."""
        method = data.get("method")
        if method is None or method == lsp.EXIT:
            return None
        msg_id = data.get("id")
        if method == lsp.INITIALIZE and self.initialize_seen:
            return Fault(INVALID_REQUEST, "Invalid Request: the server is already initialized", msg_id)
        if not self.initialize_seen and method != lsp.INITIALIZE:
            return Fault(SERVER_NOT_INITIALIZED, f"{method}: the server is not initialized yet", msg_id)
        if self._shutdown:
            return Fault(INVALID_REQUEST, f"{method}: the server is shutting down", msg_id)
        if not self._handles(method):
            return Fault(METHOD_NOT_FOUND, f"Method not found: {method}", msg_id)
        return None

    def _handles(self, method: str) -> bool:
        return method == lsp.CANCEL_REQUEST or method in self.fm.builtin_features or method in self.fm.features

    def _structure(self, data: dict[str, Any]) -> Any:
        """The typed message (as pygls' own structuring), or None when its params do not fit."""
        method = data.get("method")
        try:
            if method is None:
                if "error" in data:
                    return self._converter.structure(data, lsp.ResponseErrorMessage)
                response_type = self._result_types.pop(data["id"], None) or JsonRPCResponseMessage
                return self._converter.structure(data, response_type)
            if "id" in data:
                message = self._converter.structure(data, self.get_message_type(method) or JsonRPCRequestMessage)
                if method == lsp.INITIALIZE:
                    self.initialize_seen = True
                if method == lsp.WORKSPACE_EXECUTE_COMMAND and message.params.command not in self.fm.commands:
                    self.refuse(Fault(INVALID_PARAMS, f"Invalid params: no command {message.params.command!r}; "
                                                      f"known: {', '.join(sorted(self.fm.commands))}", data["id"]))
                    return None
                return message
            return self._converter.structure(data, self.get_message_type(method) or JsonRPCNotification)
        except Exception as exc:
            where = _structure_problem(exc)
            if method is not None and "id" in data:
                self.refuse(Fault(INVALID_PARAMS, f"Invalid params for {method}: {where}", data["id"]))
            else:
                log.warning("dropped a %s with invalid params: %s", method or "response", where)
            return None

    def refuse(self, fault: Fault) -> None:
        self._send_data(lsp.ResponseErrorMessage(id=fault.id, error=lsp.ResponseError(code=fault.code, message=fault.message)))

    # --- outgoing -------------------------------------------------------------------------------
    def _send_data(self, data: Any) -> None:
        """Write one message. A client that has gone ends the connection; nothing is raised."""
        if not data or self.closed or self.writer is None:
            return
        try:
            body = json.dumps(data, default=self._serialize_message).encode("utf-8")
        except Exception:
            log.exception("a message could not be serialized")
            return
        try:
            self.writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        except (OSError, ValueError) as exc:  # a broken pipe, a reset connection, a closed file
            log.info("the client is gone (%s)", exc)
            self.connection_lost("the client is gone")

    def connection_lost(self, why: str) -> None:
        if self.closed:
            return
        self.closed = True
        log.info("connection closed: %s", why)
        if self.exit_code is None:
            self.exit_code = 0 if self._shutdown else 1
        if self.on_close is not None:
            self.on_close()


def _structure_problem(exc: BaseException) -> str:
    if isinstance(exc, cattrs.ClassValidationError):
        try:
            return "; ".join(cattrs.transform_error(exc, path="$")[:3])
        except Exception:  # noqa: S110 - the plain message below is good enough
            pass
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]


# --- connections --------------------------------------------------------------------------------
class _PipeWriter:
    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def write(self, data: bytes) -> None:
        self.stream.write(data)
        self.stream.flush()

    def close(self) -> None:
        self.stream.close()


class _SocketWriter:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer

    def write(self, data: bytes) -> None:
        if self.writer.is_closing():
            raise BrokenPipeError("the connection is closed")
        self.writer.write(data)

    def close(self) -> None:
        self.writer.close()


async def run_stdio(protocol: SkillProtocol, stdin: BinaryIO, stdout: BinaryIO) -> int:
    """Serve one client over a pair of pipes until `exit` or the end of input; the exit code.

    Input is read by a daemon thread: a blocked read must never keep the process alive after
    `exit`, which a pooled executor thread would (its pool is joined at interpreter exit). It
    reads the file descriptor, not the buffered stream: a daemon thread blocked inside a buffered
    read holds the buffer's lock, and the interpreter aborts when it finds it held at exit.
    """
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    protocol.on_close = done.set
    protocol.set_writer(_PipeWriter(stdout))
    read = _raw_reader(stdin)

    def deliver(fn: Callable[..., None], *args: Any) -> bool:
        try:
            loop.call_soon_threadsafe(fn, *args)
            return True
        except RuntimeError:  # the loop has closed: the server is on its way out
            return False

    def pump() -> None:
        parser = FrameParser(protocol.max_message_bytes)
        try:
            while not protocol.closed:
                chunk = read(READ_CHUNK)
                if not chunk:
                    break
                frames = parser.feed(chunk)
                if frames and not deliver(protocol.receive_frames, frames):
                    return
        except (OSError, ValueError) as exc:
            log.info("reading input failed: %s", exc)
        deliver(protocol.connection_lost, "end of input")

    threading.Thread(target=pump, name="skill-lsp-stdin", daemon=True).start()
    await done.wait()
    return protocol.exit_code or 0


def _raw_reader(stream: BinaryIO) -> Callable[[int], bytes]:
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):  # an in-memory stream (tests): no lock trouble
        return getattr(stream, "read1", None) or stream.read
    return lambda n: os.read(fd, n)


async def run_tcp(protocol: SkillProtocol, host: str, port: int, on_listen: Callable[[str], None]) -> int:
    """Serve the first client that connects to host:port until it leaves or sends `exit`."""
    done = asyncio.Event()
    protocol.on_close = done.set
    taken = False

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal taken
        if taken:  # one language client per server process
            writer.close()
            return
        taken = True
        protocol.set_writer(_SocketWriter(writer))
        parser = FrameParser(protocol.max_message_bytes)
        try:
            while not protocol.closed:
                chunk = await reader.read(READ_CHUNK)
                if not chunk:
                    break
                protocol.receive_frames(parser.feed(chunk))
        except (OSError, asyncio.IncompleteReadError) as exc:
            log.info("reading from the client failed: %s", exc)
        finally:
            protocol.connection_lost("the client disconnected")
            writer.close()

    server = await asyncio.start_server(connection, host, port)
    on_listen(", ".join(str(s.getsockname()[:2]) for s in server.sockets))
    async with server:
        await done.wait()
    return protocol.exit_code or 0


__all__ = ["CUSTOM_REQUESTS", "ListParams", "LspTextDocument", "ResolveParams", "RouteParams", "SkillProtocol",
           "lenient", "lsp_workspace", "make_converter", "run_stdio", "run_tcp"]
