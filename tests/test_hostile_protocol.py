"""Protocol faults against a real `skill-lsp serve` process over stdio, in raw JSON-RPC frames.

A language server must answer every request it was sent (a request left unanswered hangs the
editor feature that sent it), answer faults with the JSON-RPC error the spec names, keep serving
after a bad frame, exit cleanly when told to or when the client vanishes, and never dump a
traceback on stderr: a refusal is an error response and at most a log line.

After each fault the test sends a plain `skills/list` and expects its answer: the server is alive
and not desynchronized.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures" / "hostile"))
from rawlsp import RawLsp, file_uri, frame  # noqa: E402

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "server_tree"
BREAD = "plugins/kitchen/skills/bread-baking/SKILL.md"
KNIFE = "plugins/kitchen/skills/knife-sharpening/SKILL.md"
WAIT_S = 10.0  # failure cap of every wait (an idle server answers in milliseconds), never a speed assertion

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
REQUEST_CANCELLED, SERVER_NOT_INITIALIZED = -32800, -32002


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    dest = tmp_path / "tree"
    shutil.copytree(FIXTURE, dest)
    return dest.resolve()


@pytest.fixture
def server(tree: Path) -> Iterator[RawLsp]:
    s = RawLsp(cwd=str(tree))
    try:
        s.initialize([tree])
        yield s
    finally:
        s.close()


def alive(s: RawLsp) -> None:
    """The server still answers, in order: a plain request after the fault gets its answer."""
    answer = s.call("skills/list", {}, timeout=WAIT_S)
    assert "result" in answer and answer["result"]["items"], answer


def no_traceback(s: RawLsp) -> None:
    text = s.stderr_text()
    assert "Traceback" not in text, text[-4000:]


def error_code(answer: dict[str, Any]) -> int | None:
    return answer.get("error", {}).get("code")


# --- framing and JSON ---------------------------------------------------------------------------
@pytest.mark.parametrize("body", [
    b'{"jsonrpc": "2.0", "id": 99, "method": ',  # cut short
    b'{"jsonrpc": "2.0", "id": 99, "method": "skills/list", }',  # trailing comma
    b'\xff\xfe{"jsonrpc": "2.0"}',  # not UTF-8
])
def test_malformed_json_is_answered_with_a_parse_error(server: RawLsp, body: bytes) -> None:
    server.send_bytes(frame(body))
    answer = server.wait_for(lambda m: "error" in m and m.get("id") is None, WAIT_S, "a parse error (id null)")
    assert error_code(answer) == PARSE_ERROR
    alive(server)
    no_traceback(server)


@pytest.mark.parametrize("payload", [
    [1, 2, 3], "a string", 42, None,
    {"id": 7, "method": "skills/list"},  # no "jsonrpc"
    {"jsonrpc": "1.0", "id": 7, "method": "skills/list"},
    {"jsonrpc": "2.0", "id": 7},  # neither method nor result
    {"jsonrpc": "2.0", "id": {"nested": 1}, "method": "skills/list"},
])
def test_well_formed_json_that_is_not_a_request_is_refused(server: RawLsp, payload: Any) -> None:
    server.send_bytes(frame(json.dumps(payload).encode()))
    alive(server)
    errors = [m for m in server.messages if "error" in m]
    assert all(error_code(m) == INVALID_REQUEST for m in errors), errors
    assert not server.notifications("window/showMessage"), "a protocol fault is no message for the user"
    no_traceback(server)


def test_a_batch_is_answered_or_refused_not_dropped(server: RawLsp) -> None:
    """LSP has no batches; JSON-RPC says a server without them answers Invalid Request."""
    server.send_bytes(frame(json.dumps([{"jsonrpc": "2.0", "id": 71, "method": "skills/list"}]).encode()))
    answer = server.wait_for(lambda m: "error" in m or m.get("id") == 71, WAIT_S, "an answer to the batch")
    assert "result" in answer or error_code(answer) == INVALID_REQUEST
    alive(server)
    no_traceback(server)


def test_a_content_length_too_short_costs_one_message_not_the_session(server: RawLsp) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 50, "method": "skills/list", "params": {}}).encode()
    server.send_bytes(b"Content-Length: %d\r\n\r\n" % (len(body) - 10) + body)
    alive(server)  # the next well-formed frame is read: the reader found its way back
    no_traceback(server)


@pytest.mark.parametrize("header", [
    b"Content-Length: abc\r\n\r\n",
    b"Content-Length: -5\r\n\r\n",
    b"Content-Type: application/vscode-jsonrpc\r\n\r\n",
    b"X-Garbage: 1\r\nContent-Length\r\n\r\n",
    b"\r\n\r\n\r\n",
])
def test_bad_headers_are_skipped(server: RawLsp, header: bytes) -> None:
    server.send_bytes(header)
    alive(server)
    no_traceback(server)


def test_a_content_length_too_long_then_a_vanished_client_exits_cleanly(server: RawLsp) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 51, "method": "skills/list"}).encode()
    server.send_bytes(b"Content-Length: 100000\r\n\r\n" + body)  # the server waits for bytes that never come
    server.proc.stdin.close()  # type: ignore[union-attr]
    server.wait_exit(WAIT_S)
    no_traceback(server)


# --- methods and params -------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["foo/bar", "textDocument/fooBar", "$/customThing", "skills/delete", ""])
def test_unknown_methods_are_method_not_found(server: RawLsp, method: str) -> None:
    assert error_code(server.call(method, {})) == METHOD_NOT_FOUND
    server.notify(method, {})  # an unknown notification: ignored, no answer
    alive(server)
    assert not [m for m in server.messages if m.get("method") == "window/showMessage"]
    no_traceback(server)


@pytest.mark.parametrize("method,params", [
    ("textDocument/hover", {"textDocument": {"uri": 5}, "position": "x"}),
    ("textDocument/hover", None),
    ("textDocument/hover", {"textDocument": {"uri": "URI"}, "position": {"line": -1, "character": -5}}),
    ("textDocument/definition", {"textDocument": {"uri": "URI"}, "position": {"line": 2 ** 31, "character": 0}}),
    ("textDocument/completion", {"textDocument": {"uri": "URI"}}),
    ("textDocument/references", {"textDocument": {"uri": "URI"}, "position": {"line": 0, "character": 0}}),
    ("textDocument/codeAction", {"textDocument": {"uri": "URI"}, "range": None, "context": {}}),
    ("workspace/symbol", {"query": 5}),
    ("textDocument/prepareCallHierarchy", {"textDocument": {"uri": "URI"}, "position": None}),
    ("callHierarchy/incomingCalls", {"item": {"uri": "URI"}}),
    ("callHierarchy/outgoingCalls", {"item": {"name": "x", "kind": 1, "uri": "URI", "data": {"a": [1]},
                                              "range": {"start": {"line": 0, "character": 0},
                                                        "end": {"line": 0, "character": 0}},
                                              "selectionRange": {"start": {"line": 0, "character": 0},
                                                                 "end": {"line": 0, "character": 0}}}}),
    ("textDocument/documentHighlight", {"textDocument": {"uri": "URI"}}),
    ("textDocument/codeLens", {"textDocument": 7}),
    ("workspace/willRenameFiles", {"files": [{"oldUri": "URI", "newUri": 3}]}),
    ("workspace/willRenameFiles", {"files": [{"oldUri": "URI", "newUri": "file:///etc/passwd"},
                                             {"oldUri": "untitled:x", "newUri": "URI"}]}),
    ("skills/route", {"query": 12, "limit": "many"}),
    ("skills/route", ["not", "an", "object"]),
    ("skills/resolve", {"id": None, "name": None}),
    ("workspace/executeCommand", {"command": "skill-lsp.route", "arguments": "nope"}),
    ("workspace/executeCommand", {"command": "no-such-command", "arguments": []}),
])
def test_requests_with_bad_params_get_an_error_answer(server: RawLsp, tree: Path, method: str, params: Any) -> None:
    """Every request is answered: InvalidParams (or a plain empty result), never silence."""
    if params is not None:
        params = json.loads(json.dumps(params).replace('"URI"', json.dumps(file_uri(tree / BREAD))))
    answer = server.call(method, params, timeout=WAIT_S)
    assert "result" in answer or error_code(answer) in (INVALID_PARAMS, METHOD_NOT_FOUND, INVALID_REQUEST), answer
    alive(server)
    no_traceback(server)


def test_agent_request_errors_are_not_tracebacks(server: RawLsp) -> None:
    for method, params in [("skills/route", {}), ("skills/resolve", {"id": "no/such/thing"}),
                           ("skills/list", {"root": "/etc"}),
                           ("workspace/executeCommand", {"command": "skill-lsp.resolve", "arguments": [{"id": "x"}]})]:
        assert error_code(server.call(method, params)) == INVALID_PARAMS
    alive(server)
    no_traceback(server)


# --- documents and positions ----------------------------------------------------------------------
def test_requests_for_documents_nobody_opened_get_empty_answers(server: RawLsp, tree: Path) -> None:
    for uri in (file_uri(tree / "nope.md"), file_uri(tree / "plugins/kitchen/skills/ghost/SKILL.md"),
                "file:///nonexistent/x.md", "untitled:Untitled-1"):
        doc = {"textDocument": {"uri": uri}}
        at = {**doc, "position": {"line": 0, "character": 0}}
        for method, params in [("textDocument/hover", at), ("textDocument/definition", at),
                               ("textDocument/completion", at), ("textDocument/documentSymbol", doc),
                               ("textDocument/documentLink", doc), ("textDocument/codeLens", doc),
                               ("textDocument/prepareCallHierarchy", at), ("textDocument/documentHighlight", at),
                               ("textDocument/references", {**at, "context": {"includeDeclaration": True}})]:
            answer = server.call(method, params, timeout=WAIT_S)
            assert answer.get("result") in (None, []), (method, uri, answer)
        server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                                 "contentChanges": [{"text": "# changed\n"}]})
        server.notify("textDocument/didClose", doc)
        server.notify("textDocument/didSave", doc)
    alive(server)
    no_traceback(server)


@pytest.mark.parametrize("line,character", [(10 ** 6, 0), (0, 10 ** 6), (3, 2 ** 31 - 1), (2 ** 31 - 1, 2 ** 31 - 1)])
def test_positions_outside_the_document_get_empty_answers(server: RawLsp, tree: Path, line: int, character: int) -> None:
    uri = server.open(tree / BREAD)
    at = {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}
    for method, params in [("textDocument/hover", at), ("textDocument/definition", at),
                           ("textDocument/completion", at), ("textDocument/prepareRename", at),
                           ("textDocument/documentHighlight", at), ("textDocument/prepareCallHierarchy", at),
                           ("textDocument/references", {**at, "context": {"includeDeclaration": True}}),
                           ("textDocument/codeAction", {"textDocument": {"uri": uri},
                                                        "range": {"start": at["position"], "end": at["position"]},
                                                        "context": {"diagnostics": []}})]:
        answer = server.call(method, params, timeout=WAIT_S)
        # references of "this document", the document as a call hierarchy item and generic
        # completions are fair answers anywhere in it
        lenient = method in ("textDocument/completion", "textDocument/references", "textDocument/prepareCallHierarchy")
        assert answer.get("result") in (None, []) or (lenient and "result" in answer) \
            or error_code(answer) in (INVALID_PARAMS, -32803), (method, answer)
    alive(server)
    no_traceback(server)


def test_a_position_inside_a_surrogate_pair_is_not_a_crash(server: RawLsp, tree: Path) -> None:
    text = "# 🔪🔪 Knife\n\nSee [bread](../bread-baking/SKILL.md) 🔪 and `bread-baking`.\n"
    uri = server.open(tree / KNIFE, text=text)
    for ch in range(0, 60):
        for method in ("textDocument/hover", "textDocument/definition", "textDocument/completion"):
            answer = server.call(method, {"textDocument": {"uri": uri}, "position": {"line": 2, "character": ch}})
            assert "result" in answer, answer
        server.call("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": ch}})
    alive(server)
    no_traceback(server)


@pytest.mark.parametrize("change", [
    {"range": {"start": {"line": 500, "character": 0}, "end": {"line": 600, "character": 4}}, "text": "X"},
    {"range": {"start": {"line": 5, "character": 9}, "end": {"line": 1, "character": 0}}, "text": "Y"},
    {"range": {"start": {"line": 0, "character": 10 ** 6}, "end": {"line": 0, "character": 10 ** 6}}, "text": "Z"},
    {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 10 ** 6, "character": 0}}, "text": ""},
])
def test_edits_with_impossible_ranges_leave_a_working_server(server: RawLsp, tree: Path, change: dict) -> None:
    uri = server.open(tree / BREAD)
    server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [change]})
    answer = server.call("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    assert "result" in answer
    alive(server)
    no_traceback(server)


def test_lone_surrogates_in_a_buffer_are_indexed_not_dropped(server: RawLsp, tree: Path) -> None:
    """JSON can carry "\\ud800"; the buffer is still the document (its other text is what the user sees)."""
    text = "---\nname: knife-sharpening\ndescription: Use when \ud800 knives are dull.\n---\n# Knife\n\nSee [x](nowhere.md).\n"
    server.open(tree / KNIFE, text=text)
    answer = server.call("skills/resolve", {"id": "home-kitchen/knife-sharpening"})
    assert "nowhere.md" in answer["result"]["text"], "the buffer was dropped; the index kept the disk text"
    alive(server)
    no_traceback(server)


def test_form_feeds_and_unicode_separators_do_not_skew_incremental_edits(server: RawLsp, tree: Path) -> None:
    """The client ends lines at \\n (and \\r\\n, \\r) only; an edit on line 2 lands on line 2."""
    for odd in ("\x0c", "\x0b", "\u2028", "\x85", "\x1c"):
        text = f"---\nname: knife-sharpening\n---\n# Knife {odd} tail\nline four\nline five\n"
        uri = server.open(tree / KNIFE, text=text, version=1)
        server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
            {"range": {"start": {"line": 5, "character": 0}, "end": {"line": 5, "character": 4}}, "text": "LINE"}]})
        got = server.call("skills/resolve", {"id": "home-kitchen/knife-sharpening"})["result"]["text"]
        assert got == text.replace("line five", "LINE five"), f"{odd!r}: {got!r}"
        server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    alive(server)


def test_a_buffer_over_the_size_limit_is_reported_not_parsed(tree: Path) -> None:
    s = RawLsp(cwd=str(tree))
    try:
        s.initialize([tree], init_options={"maxFileBytes": 5000})
        uri = s.open(tree / KNIFE, text="---\nname: knife-sharpening\n---\n" + "[x](nowhere.md) " * 2000)
        diags = s.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                           and m["params"]["uri"] == uri and m["params"]["diagnostics"], WAIT_S, "diagnostics")
        codes = [d["code"] for d in diags["params"]["diagnostics"]]
        assert codes == ["IO001"], codes
        alive(s)
        no_traceback(s)
    finally:
        s.close()


# --- cancellation and lifecycle ---------------------------------------------------------------------
def test_cancelled_requests_are_answered(server: RawLsp) -> None:
    """$/cancelRequest: the request still gets exactly one answer (its result, or RequestCancelled)."""
    ids = [server.request("skills/route", {"query": f"bread rises slowly {i}", "limit": 5}) for i in range(20)]
    for rid in ids:
        server.notify("$/cancelRequest", {"id": rid})
    server.notify("$/cancelRequest", {"id": 10 ** 9})  # nothing to cancel
    server.notify("$/cancelRequest", {"id": "not-a-number"})
    for rid in ids:
        answer = server.response(rid)
        assert "result" in answer or error_code(answer) == REQUEST_CANCELLED, answer
    for rid in ids:
        assert len([m for m in server.messages if m.get("id") == rid and "method" not in m]) == 1
    alive(server)
    no_traceback(server)


def test_requests_before_initialize_are_refused(tree: Path) -> None:
    s = RawLsp(cwd=str(tree))
    try:
        answer = s.call("skills/list", {}, timeout=WAIT_S)
        assert error_code(answer) == SERVER_NOT_INITIALIZED, answer
        s.initialize([tree])
        alive(s)
        no_traceback(s)
    finally:
        s.close()


def test_shutdown_then_exit_exits_zero(server: RawLsp) -> None:
    assert server.shutdown() == 0
    no_traceback(server)


def test_requests_after_shutdown_are_invalid_requests(server: RawLsp) -> None:
    assert "result" in server.call("shutdown")
    answer = server.call("skills/list", {}, timeout=WAIT_S)
    assert error_code(answer) == INVALID_REQUEST, answer
    server.notify("exit")
    assert server.wait_exit(WAIT_S) == 0


def test_exit_without_shutdown_exits_one(server: RawLsp) -> None:
    server.notify("exit")
    assert server.wait_exit(WAIT_S) == 1
    no_traceback(server)


def test_a_client_that_vanishes_mid_request_leaves_no_traceback(server: RawLsp, tree: Path) -> None:
    uri = server.open(tree / BREAD)
    for i in range(20):
        server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": i + 2},
                                                 "contentChanges": [{"text": f"# v{i}\n[x](y{i}.md)\n"}]})
        server.request("skills/route", {"query": "bread"})
    server.proc.stdin.close()  # type: ignore[union-attr]
    server.wait_exit(WAIT_S)
    no_traceback(server)


# A client process that starts the server, sends requests without reading the answers, and dies
# (os._exit: no goodbye, both pipes close with it). The server is then a child of nobody.
_VANISHING_CLIENT = r"""
import json, os, subprocess, sys
root, err = sys.argv[1], sys.argv[2]
srv = subprocess.Popen([sys.executable, "-m", "skill_lsp.cli", "serve"], stdin=subprocess.PIPE,
                       stdout=subprocess.PIPE, stderr=open(err, "wb"))
print(srv.pid, flush=True)
def send(obj):
    body = json.dumps(obj).encode()
    srv.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    srv.stdin.flush()
send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
      "params": {"processId": None, "capabilities": {}, "workspaceFolders": [{"uri": "file://" + root, "name": "t"}]}})
length = 0
while True:  # the initialize answer's header
    line = srv.stdout.readline()
    if line.lower().startswith(b"content-length:"):
        length = int(line.split(b":")[1])
    if line in (b"\r\n", b""):
        break
srv.stdout.read(length)
send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
for i in range(40):
    send({"jsonrpc": "2.0", "id": 10 + i, "method": "skills/route", "params": {"query": "bread " * 50}})
os._exit(0)
"""


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            return any(line.startswith("State:") and "Z" in line for line in fh)  # a zombie has exited
    except FileNotFoundError:
        return True


def test_a_client_that_dies_leaves_a_server_that_exits_without_traceback(tree: Path, tmp_path: Path) -> None:
    err = tmp_path / "server-stderr.txt"
    client = subprocess.run([sys.executable, "-c", _VANISHING_CLIENT, str(tree), str(err)],
                            capture_output=True, text=True, timeout=60)
    pid = int(client.stdout.split()[0])
    deadline = time.monotonic() + 60
    while not _gone(pid):
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            raise AssertionError("the server outlived its client")
        time.sleep(0.1)
    text = err.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in text, text[-4000:]


def test_a_message_over_the_size_limit_is_refused_unread(tree: Path) -> None:
    from rawlsp import SERVER_COMMAND

    s = RawLsp(cwd=str(tree), command=[*SERVER_COMMAND, "--max-message-bytes", "4096"])
    try:
        s.initialize([tree])
        s.send({"jsonrpc": "2.0", "id": 77, "method": "skills/route", "params": {"query": "bread " * 2000}})
        answer = s.wait_for(lambda m: "error" in m and m.get("id") is None, WAIT_S, "a refusal (id null)")
        assert error_code(answer) == INVALID_REQUEST and "limit" in answer["error"]["message"]
        assert not [m for m in s.messages if m.get("id") == 77], "the oversized request was read after all"
        alive(s)
        no_traceback(s)
    finally:
        s.close()
