"""Confinement: nothing outside the roots is read, returned or written through the tree or a request.

The tree (tests/fixtures/hostile/confine_tree) links out of itself every way an author or an
attacker might write it: `../` runs, absolute paths, `file://` URIs, `~` and `$VAR` paths, encoded
slashes, symlinks to a file and to a skill folder outside. Beside the root lies a folder holding a
secret. The secret must never appear in anything the index holds or the server says; no URI the
server sends may point outside the root; no edit it proposes may touch a file outside the root.

The pure functions (index, agent API, features) are checked first; then a real `skill-lsp serve`
process over stdio, driven with raw JSON-RPC so that the requests can be as hostile as needed, and
every byte it writes (stdout and stderr) is searched for the secret.
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types as lsp
from pygls.protocol import default_converter
from skill_lsp.agent_api import list_request, resolve_request, route_request
from skill_lsp.features import completion as f_completion
from skill_lsp.features import hover as f_hover
from skill_lsp.features import navigation as f_nav
from skill_lsp.features.context import Ctx
from skill_lsp.index import SkillIndex
from skill_lsp.model import Status
from skill_lsp.rules import check_all

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures" / "hostile"))
from rawlsp import RawLsp, file_uri  # noqa: E402

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "hostile" / "confine_tree"
SECRET = "TOP-SECRET-c0ffee-never-leaves-the-disk"
ALPHA = "skills/alpha/SKILL.md"
NOTES = "skills/alpha/notes.md"
HUB = "skills/using-hub/SKILL.md"
CONVERTER = default_converter()


def build(base: Path) -> tuple[Path, Path]:
    """tree/ (the root) and outside/ beside it, with the symlinks that point out."""
    root = base / "tree"
    shutil.copytree(FIXTURE, root)
    out = base / "outside"
    (out / "skills" / "stolen").mkdir(parents=True)
    (out / "secret.md").write_text(f"# Secret\n\n{SECRET}\n", encoding="utf-8")
    (out / "skills" / "stolen" / "SKILL.md").write_text(
        f"---\nname: stolen\ndescription: Use when {SECRET}\n---\n# Stolen\n\n{SECRET}\n", encoding="utf-8")
    (root / "skills/alpha/linked.md").symlink_to(out / "secret.md")
    (root / "skills/stolen").symlink_to(out / "skills" / "stolen", target_is_directory=True)
    return root.resolve(), out.resolve()


@pytest.fixture(scope="module")
def confined(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, SkillIndex]:
    root, out = build(tmp_path_factory.mktemp("confine"))
    return root, out, SkillIndex.from_roots([root])


URI_KEYS = {"uri", "targetUri", "target", "newUri", "oldUri", "href"}
CLICKABLE = re.compile(r"\]\((file://[^)\s]+)\)|<(file://[^>\s]+)>")


def unstructure(obj: Any) -> Any:
    return CONVERTER.unstructure(obj) if hasattr(obj, "__attrs_attrs__") else obj


def walk(obj: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """(key, string) for every string inside a JSON-like value."""
    obj = unstructure(obj)
    if isinstance(obj, str):
        yield key, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield "", str(k)
            yield from walk(v, str(k))
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from walk(v, key)


def _inside(uri: str, root: Path) -> bool:
    if not uri.startswith("file:"):
        return True  # http links and the like are the author's, not files of ours
    path = unquote(urlparse(uri).path)
    return path == str(root) or path.startswith(str(root) + "/")


def assert_confined(obj: Any, root: Path, what: str = "") -> None:
    """No secret anywhere; every URI the client would open (fields, clickable links) inside the root.

    Messages may quote what the author or the client wrote (`file:///etc/passwd`): that is not a
    leak. A Location, a DocumentLink target or a link in hover Markdown that points out would be.
    """
    for key, s in walk(obj):
        assert SECRET not in s, f"{what}: the secret leaked: {s[:200]!r}"
        if key in URI_KEYS:
            assert _inside(s, root), f"{what}: `{key}` outside the root: {s}"
        if key == "text":
            continue  # a document's own text, verbatim (its author's links are not our answer)
        for m in CLICKABLE.finditer(s):
            uri = m.group(1) or m.group(2)
            assert _inside(uri, root), f"{what}: a clickable link outside the root: {uri}"


def positions_of(text: str, needle: str) -> list[lsp.Position]:
    out = []
    for i, line in enumerate(text.split("\n")):
        start = 0
        while (col := line.find(needle, start)) != -1:
            out.append(lsp.Position(line=i, character=col + min(len(needle) - 1, 3)))
            start = col + 1
    return out


HOSTILE_TARGETS = ["etc/passwd", "outside/secret.md", "file:///etc/passwd", "~/.ssh", "$HOME", "%2F",
                   "linked.md", "stolen", "../../x"]


# --- the index ----------------------------------------------------------------------------------
def test_the_index_holds_nothing_from_outside(confined) -> None:
    root, out, ix = confined
    assert sorted(ix.doc_id(p) for p in ix.docs) == ["alpha", "alpha/notes.md", "using-hub"]
    for path in list(ix.files) + list(ix.dirs):
        assert path == str(root) or path.startswith(str(root) + "/"), path
    for doc in ix.docs.values():
        assert SECRET not in doc.parsed.text
    assert_confined([repr(f) for f in check_all(ix)], root, "findings")


def test_escaping_references_never_resolve_to_a_file_outside(confined) -> None:
    root, _out, ix = confined
    seen = 0
    for path in ix.docs:
        for res in ix.resolutions.get(path, ()):
            if res.target is not None and res.status is Status.OK:
                assert res.target.key.startswith(str(root) + "/"), (res.ref.target, res.target.key)
            if any(h in res.ref.target for h in ("outside", "passwd", "../../x", "linked", "stolen")):
                seen += 1
                assert res.status is not Status.OK, res
    assert seen >= 8, "the fixture's escapes were all read as references"


# --- the agent API ------------------------------------------------------------------------------
@pytest.mark.parametrize("params", [
    {"id": "../../outside/secret.md"}, {"id": "../outside"}, {"id": "/etc/passwd"}, {"id": "alpha/../../outside"},
    {"id": "alpha/linked.md"}, {"id": "stolen"}, {"id": "alpha/%2e%2e/%2e%2e/outside/secret.md"},
    {"id": "file:///etc/passwd"}, {"id": "alpha\\..\\..\\outside"}, {"id": "alpha/notes.md\x00.txt"},
    {"name": "../../outside/secret"}, {"name": "secret"}, {"name": "secret.md"}, {"name": "stolen"},
    {"name": "/etc/passwd"}, {"name": "linked"}, {"name": "linked.md"}, {"name": "../stolen"},
    {"name": "alpha", "root": "/etc"}, {"name": "alpha", "root": "file:///tmp"},
])
def test_resolve_refuses_every_way_out(confined, params: dict[str, str]) -> None:
    root, _out, ix = confined
    try:
        answer = resolve_request(ix, params)
    except ValueError as exc:
        assert_confined(str(exc), root, "resolve error")
        return
    assert_confined(answer, root, f"resolve {params}")
    assert answer["id"] in ("alpha", "alpha/notes.md", "using-hub")


def confined_answers(calls: list, root: Path, what: str) -> list[Any]:
    """Each call's answer, or its ValueError: neither may hold anything of outside the root."""
    answers = []
    for call in calls:
        try:
            answer = call()
        except ValueError as exc:
            assert_confined(str(exc), root, what)
            continue
        assert_confined(answer, root, what)
        answers.append(answer)
    return answers


HOSTILE_PIECES = st.sampled_from(["..", ".", "/", "\\", "%2e", "%2f", "~", "$HOME", "etc", "passwd", "outside",
                                  "secret", "secret.md", "stolen", "alpha", "notes.md", "linked.md", "skills",
                                  "file://", ":", "\x00", "using-hub", "SKILL.md", " ", "#x", "é"])


@settings(derandomize=True, deadline=None, max_examples=150,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(HOSTILE_PIECES, max_size=8).map("".join), st.sampled_from(["id", "name", "root"]))
def test_any_spelling_of_an_id_name_or_root_is_confined(confined, text: str, field: str) -> None:
    root, _out, ix = confined
    params = {"id": "alpha", field: text} if field == "root" else {field: text}
    confined_answers([lambda: resolve_request(ix, params),
                      lambda: route_request(ix, {"query": "secret " + text, "root": text} if field == "root"
                                            else {"query": "secret " + (text or "x")}),
                      lambda: list_request(ix, {"root": text} if field == "root" else {})],
                     root, f"{field}={text!r}")


@pytest.mark.parametrize("root_param", ["/etc", "file:///etc", "/", "..", "../outside", "~", "$HOME",
                                        "file:///%2e%2e/etc", "OUTSIDE"])
def test_route_and_list_refuse_roots_that_are_not_indexed(confined, root_param: str) -> None:
    root, out, ix = confined
    root_param = root_param.replace("OUTSIDE", str(out))
    for call in (lambda: route_request(ix, {"query": f"secret {SECRET}", "root": root_param}),
                 lambda: list_request(ix, {"root": root_param})):
        try:
            answer = call()
        except ValueError as exc:
            assert "not an indexed root" in str(exc) or "string" in str(exc)
            continue
        assert_confined(answer, root, f"root={root_param}")


def test_a_root_spelled_through_a_symlink_or_dotdot_is_still_confined(confined) -> None:
    root, out, ix = confined
    for spelled in (f"{root}/skills/stolen", f"{root}/../outside", f"{root}/skills/alpha/../../../outside"):
        for call in (lambda spelled=spelled: route_request(ix, {"query": "secret stolen", "root": spelled}),
                     lambda spelled=spelled: list_request(ix, {"root": spelled})):
            try:
                answer = call()
            except ValueError:
                continue
            assert_confined(answer, root, spelled)


def test_route_answers_come_from_the_tree_only(confined) -> None:
    root, _out, ix = confined
    for query in (f"read the secret {SECRET}", "steal it", "stolen secret files", "root files etc passwd"):
        answer = route_request(ix, {"query": query, "limit": 50})
        assert_confined(answer, root, query)
        assert {r["id"] for r in answer["results"]} <= {"alpha", "alpha/notes.md", "using-hub"}


@pytest.mark.parametrize("path", [
    "/etc/passwd", "/etc", "file:///etc/passwd", "../outside/secret.md", "../../outside", "~", "~/.ssh",
    "skills/alpha/linked.md", "skills/stolen", "skills/stolen/SKILL.md", "OUTSIDE/secret.md", "OUTSIDE",
    "skills/../../outside/secret.md", "skills/alpha/../../../outside", "/", "file:///%2e%2e/etc",
    "skills/alpha/SKILL.md\x00", "ROOT/../outside/skills/stolen",
])
def test_mcp_tools_confine_check_and_resolve(confined, path: str) -> None:
    """The MCP bridge takes paths and ids from a model: the same walls."""
    from skill_lsp.mcp_server import AgentTools

    root, out, ix = confined
    tools = AgentTools(ix)
    path = path.replace("OUTSIDE", str(out)).replace("ROOT", str(root))
    calls = [lambda: tools.check(path), lambda: tools.resolve(id=path), lambda: tools.resolve(name=path)]
    for answer in confined_answers(calls, root, f"mcp answer for {path!r}"):
        for f in answer.get("findings", ()):
            assert not f["path"].startswith(("/etc", str(out))) and ".." not in f["path"].split("/")[:1], f


# --- the editor features ------------------------------------------------------------------------
def test_hover_definition_links_and_completion_stay_inside(confined) -> None:
    root, _out, ix = confined
    ctx = Ctx(ix)
    for rel in (ALPHA, NOTES, HUB):
        path = str(root / rel)
        text = ix.docs[path].parsed.text
        assert_confined(f_nav.document_links(ctx, path, True), root, f"links of {rel}")
        assert_confined(f_nav.document_symbols(ctx, path), root, f"symbols of {rel}")
        for needle in HOSTILE_TARGETS + ["](", "| ", "-> "]:
            for pos in positions_of(text, needle):
                where = f"{rel}:{pos.line}:{pos.character} ({needle})"
                assert_confined(f_hover.hover(ctx, path, pos), root, "hover " + where)
                assert_confined(f_nav.definition(ctx, path, pos), root, "definition " + where)
                assert_confined(f_nav.references(ctx, path, pos, True), root, "references " + where)
                assert_confined(f_completion.complete(ctx, path, pos), root, "completion " + where)
    assert_confined(f_nav.workspace_symbols(ix, "secret stolen passwd"), root, "workspace symbols")


def test_path_completion_after_dotdot_does_not_list_outside(confined, tmp_path: Path) -> None:
    """Typing `](../../../` must not offer (or read) what lies beside the root."""
    root, _out, ix = confined
    path = str(root / ALPHA)
    for typed in ("../../../", "../../../outside/", "/etc/", "file:///etc/", "~/"):
        text = ix.docs[path].parsed.text + f"\nSee [x]({typed}"
        ix2 = SkillIndex.from_roots([root])
        ix2.update(path, text)
        line = text.count("\n")
        pos = lsp.Position(line=line, character=len(text.split("\n")[-1]))
        result = f_completion.complete(Ctx(ix2), path, pos)
        assert_confined(result, root, f"completion after {typed}")
        labels = " ".join(i.label for i in (result.items if result else []))
        assert "secret" not in labels and "passwd" not in labels and "outside" not in labels


# --- the real server ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, RawLsp]]:
    root, out = build(tmp_path_factory.mktemp("served"))
    server = RawLsp(cwd=str(root))
    try:
        server.initialize([root], capabilities={
            "textDocument": {"hover": {"contentFormat": ["markdown"]},
                             "documentLink": {"tooltipSupport": True},
                             "completion": {"completionItem": {"documentationFormat": ["markdown"]}},
                             "rename": {"prepareSupport": True}},
            "workspace": {"workspaceEdit": {"documentChanges": True, "resourceOperations": ["create", "rename"]}},
        })
        for rel in (ALPHA, NOTES, HUB):
            server.open(root / rel)
        yield root, out, server
    finally:
        server.close()


HOSTILE_URIS = [
    "file:///etc/passwd", "OUT/secret.md", "OUT/skills/stolen/SKILL.md", "ROOT/skills/alpha/linked.md",
    "ROOT/skills/stolen/SKILL.md", "ROOT/../outside/secret.md", "ROOT/skills/..%2F..%2Foutside/secret.md",
    "file://localhost/etc/passwd", "file:///%2e%2e/etc/passwd", "untitled:Untitled-1",
    "ROOT/skills/alpha/SKILL.md%00.txt", "file:///" + "a" * 5000 + ".md",
]


def _uri(template: str, root: Path, out: Path) -> str:
    return template.replace("ROOT", file_uri(root)).replace("OUT", file_uri(out))


def _position_requests(uri: str, pos: dict[str, int]) -> list[tuple[str, dict[str, Any]]]:
    doc = {"textDocument": {"uri": uri}, "position": pos}
    return [("textDocument/hover", doc), ("textDocument/definition", doc),
            ("textDocument/completion", doc), ("textDocument/references", {**doc, "context": {"includeDeclaration": True}}),
            ("textDocument/documentLink", {"textDocument": {"uri": uri}}),
            ("textDocument/documentSymbol", {"textDocument": {"uri": uri}}),
            ("textDocument/prepareRename", doc),
            ("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": {"start": pos, "end": pos},
                                         "context": {"diagnostics": []}})]


def test_server_requests_on_hostile_uris_reveal_nothing(served) -> None:
    root, out, server = served
    for template in HOSTILE_URIS:
        uri = _uri(template, root, out)
        target = unquote(urlparse(uri).path)
        try:
            text = Path(target).read_text(encoding="utf-8")
        except (OSError, ValueError):  # not a file, a name too long, a NUL in the name
            text = f"# x\n{SECRET}\n"
        server.open(uri, uri=uri, text=text)  # an editor opens it, with its real text
        for method, params in _position_requests(uri, {"line": 3, "character": 2}):
            answer = server.call(method, params)
            assert_confined(answer.get("result"), root, f"{method} on {template}")
    published = {m["params"]["uri"] for m in server.notifications("textDocument/publishDiagnostics")}
    for uri in published:
        assert uri.startswith(file_uri(root) + "/"), f"diagnostics published for {uri}"


def test_a_relative_file_uri_is_not_resolved_against_the_server_folder(tmp_path: Path) -> None:
    """`file:skills/alpha/SKILL.md` names no file: it must not become `<server cwd>/skills/...`."""
    root, _out = build(tmp_path)
    server = RawLsp(cwd=str(root))  # its own server: this test would spoil the shared one's buffers
    try:
        server.initialize([root])
        uri = "file:skills/alpha/SKILL.md"
        server.open(uri, uri=uri, text="# Replaced\n\n[x](nowhere.md)\n")
        answer = server.call("textDocument/hover", {"textDocument": {"uri": uri},
                                                    "position": {"line": 2, "character": 2}})
        assert answer.get("result") is None
        text = server.call("skills/resolve", {"id": "alpha"})["result"]["text"]
        assert text == (root / ALPHA).read_text(encoding="utf-8"), "the buffer replaced the real skill"
        assert not [m for m in server.notifications("textDocument/publishDiagnostics") if m["params"]["uri"] == uri]
    finally:
        server.close()


def test_server_features_at_every_escape_reveal_nothing(served) -> None:
    root, _out, server = served
    for rel in (ALPHA, NOTES):
        text = (root / rel).read_text(encoding="utf-8")
        uri = file_uri(root / rel)
        for needle in HOSTILE_TARGETS + ["]("]:
            for pos in positions_of(text, needle):
                p = {"line": pos.line, "character": pos.character}
                for method, params in _position_requests(uri, p):
                    answer = server.call(method, params)
                    assert_confined(answer.get("result"), root, f"{method} at {rel}:{pos.line}:{pos.character}")
                rename = server.call("textDocument/rename", {"textDocument": {"uri": uri}, "position": p,
                                                             "newName": "../../../outside/pwned"})
                assert_confined(rename.get("result"), root, f"rename at {rel}:{pos.line}:{pos.character}")


@pytest.mark.parametrize("new_name", ["../../../outside/pwned", "/tmp/pwned", "..", "a/../../../../x",
                                      "file:///tmp/pwned", "pwned\x00", "~/pwned"])
def test_rename_never_edits_outside_the_root(served, new_name: str) -> None:
    root, _out, server = served
    uri = file_uri(root / ALPHA)
    text = (root / ALPHA).read_text(encoding="utf-8")
    for needle in ("name: alpha", "notes.md"):
        pos = positions_of(text, needle)[0]
        p = {"line": pos.line, "character": pos.character + (6 if needle.startswith("name") else 0)}
        answer = server.call("textDocument/rename", {"textDocument": {"uri": uri}, "position": p, "newName": new_name})
        assert_confined(answer.get("result"), root, f"rename {needle} -> {new_name!r}")


def test_agent_requests_over_the_wire_reveal_nothing(served) -> None:
    root, out, server = served
    hostile = [
        ("skills/resolve", {"id": "../../outside/secret.md"}), ("skills/resolve", {"name": "stolen"}),
        ("skills/resolve", {"name": str(out / "secret.md")}), ("skills/resolve", {"id": "alpha/linked.md"}),
        ("skills/resolve", {"name": "secret"}), ("skills/resolve", {"id": "/etc/passwd"}),
        ("skills/route", {"query": f"secret {SECRET}", "root": str(out)}),
        ("skills/route", {"query": "stolen", "root": "file:///etc"}),
        ("skills/route", {"query": "stolen", "root": f"{root}/../outside"}),
        ("skills/route", {"query": "read the secret", "limit": 50}),
        ("skills/list", {"root": "/"}), ("skills/list", {"root": str(root / "skills/stolen")}), ("skills/list", {}),
        ("workspace/symbol", {"query": "secret"}), ("workspace/symbol", {"query": "stolen"}),
    ]
    for cmd in ("skill-lsp.resolve", "skill-lsp.route", "skill-lsp.list"):
        for args in ({"id": "../../outside/secret.md"}, {"name": "stolen", "query": "secret", "root": str(out)}):
            hostile.append(("workspace/executeCommand", {"command": cmd, "arguments": [args]}))
    for method, params in hostile:
        answer = server.call(method, params)
        assert "result" in answer or answer["error"]["code"] in (-32602, -32603, -32803), answer
        assert_confined(answer, root, f"{method} {params}")


def test_disk_events_for_paths_outside_are_ignored(served) -> None:
    root, out, server = served
    changes = [{"uri": file_uri(out / "secret.md"), "type": 1}, {"uri": file_uri(out / "skills/stolen/SKILL.md"), "type": 2},
               {"uri": file_uri(root / "skills/alpha/linked.md"), "type": 1},
               {"uri": file_uri(root / "skills/stolen/SKILL.md"), "type": 2}, {"uri": "file:///etc/passwd", "type": 2}]
    server.notify("workspace/didChangeWatchedFiles", {"changes": changes})
    answer = server.call("skills/list", {})
    assert sorted(i["id"] for i in answer["result"]["items"]) == ["alpha", "alpha/notes.md", "using-hub"]
    assert_confined(answer, root, "list after hostile disk events")


def test_symlinks_out_made_while_serving_are_not_followed(served) -> None:
    """The server's own watcher sees a link out appear beside a new skill: the skill comes, the link does not."""
    root, out, server = served
    (root / "skills/alpha/late-link.md").symlink_to(out / "secret.md")
    (root / "skills/late-stolen").symlink_to(out / "skills" / "stolen", target_is_directory=True)
    (root / "skills/late").mkdir()
    (root / "skills/late/SKILL.md").write_text("---\nname: late\ndescription: Use when late.\n---\n# Late\n",
                                               encoding="utf-8")
    deadline = time.monotonic() + 60
    while True:
        ids = [i["id"] for i in server.call("skills/list", {})["result"]["items"]]
        if "late" in ids or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "late" in ids, "the watcher never reported the new skill"
    assert not [i for i in ids if "stolen" in i or "late-link" in i], ids
    answer = server.call("skills/route", {"query": f"stolen secret {SECRET}", "limit": 50})
    assert_confined(answer, root, "route after late links")


def test_nothing_the_server_ever_said_holds_the_secret(served) -> None:
    """Last in the module: every byte of stdout and stderr of the whole session."""
    root, _out, server = served
    server.call("skills/list", {})
    said = server.everything_said()
    assert SECRET.encode() not in said
    for msg in server.messages:
        assert_confined(msg, root, msg.get("method") or f"answer #{msg.get('id')}")


def test_the_hostile_session_left_no_traceback(served) -> None:
    """Refusals are JSON-RPC errors and log lines, never exceptions dumped on stderr."""
    _root, _out, server = served
    server.call("skills/list", {})
    assert "Traceback" not in server.stderr_text(), server.stderr_text()[-4000:]

