"""`skill-lsp mcp` driven by the MCP SDK's own stdio client: a real subprocess, real JSON-RPC.

Every wait is bounded by a generous failure cap (the machine is small and noisy); none of them
is a speed assertion.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

mcp = pytest.importorskip("mcp", reason="the MCP SDK (skill-lsp[mcp]) is not installed")
from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402
from mcp.types import CallToolResult  # noqa: E402

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "mcp_tree"
WAIT_S = 60.0  # failure cap of every call, never a speed assertion
ROUTE_QUERY = "my apple tree is too tall, how do I cut it back"
EXPECTED = "garden/pruning"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A private copy: the server watches it, and tests may change it."""
    dest = tmp_path / "mcp_tree"
    shutil.copytree(FIXTURE, dest)
    return dest.resolve()


@asynccontextmanager
async def server(*roots: Path, cwd: Path | None = None) -> AsyncIterator[Client]:
    args = ["-m", "skill_lsp.cli", "mcp"]
    for r in roots:
        args += ["--root", str(r)]
    params = StdioServerParameters(command=sys.executable, args=args, cwd=str(cwd) if cwd else None)
    with anyio.fail_after(WAIT_S):
        async with Client(params, read_timeout_seconds=WAIT_S) as client:
            yield client


async def call(client: Client, name: str, arguments: dict[str, Any]) -> CallToolResult:
    with anyio.fail_after(WAIT_S):
        return await client.call_tool(name, arguments)


def payload(result: CallToolResult) -> dict[str, Any]:
    """The structured result; the text content carries the same JSON for clients without it."""
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert json.loads(text_of(result)) == result.structured_content
    return result.structured_content


def text_of(result: CallToolResult) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


async def test_tools_are_listed_with_their_parameters(tree: Path) -> None:
    async with server(tree) as client:
        with anyio.fail_after(WAIT_S):
            listed = await client.list_tools()
    tools = {t.name: t for t in listed.tools}
    assert set(tools) == {"route", "list", "resolve", "check"}
    assert tools["route"].input_schema["required"] == ["query"]
    assert set(tools["resolve"].input_schema["properties"]) == {"id", "name"}
    assert set(tools["check"].input_schema["properties"]) == {"path"}
    assert all(t.description for t in tools.values())


async def test_route_then_resolve_the_answer(tree: Path) -> None:
    async with server(tree) as client:
        routed = payload(await call(client, "route", {"query": ROUTE_QUERY, "limit": 3}))
        first = routed["results"][0]
        assert first["id"] == EXPECTED
        assert first["kind"] == "skill"
        assert first["uri"] == (tree / "plugins/garden/skills/pruning/SKILL.md").as_uri()
        assert set(first) >= {"id", "name", "kind", "uri", "score", "description", "route", "why"}
        assert len(routed["results"]) <= 3
        assert isinstance(routed["confident"], bool)

        resolved = payload(await call(client, "resolve", {"id": first["id"]}))
        assert resolved["id"] == EXPECTED
        assert resolved["name"] == "pruning"
        assert resolved["text"] == (tree / "plugins/garden/skills/pruning/SKILL.md").read_text(encoding="utf-8")
        assert [s["id"] for s in resolved["sheets"]] == ["garden/pruning/fruit-trees.md"]

        by_name = payload(await call(client, "resolve", {"name": "hot-heaps"}))
        assert by_name["kind"] == "sheet" and by_name["id"] == "garden/composting/hot-heaps.md"


async def test_list_has_every_skill_and_sheet(tree: Path) -> None:
    async with server(tree) as client:
        items = payload(await call(client, "list", {}))["items"]
    assert [i["id"] for i in items] == [
        "garden/composting", "garden/composting/hot-heaps.md", "garden/composting/worm-bins.md",
        "garden/pruning", "garden/pruning/fruit-trees.md", "garden/using-garden", "garden/watering",
    ]


async def test_check_reports_findings_of_a_broken_skill(tree: Path) -> None:
    skill = tree / "plugins/garden/skills/pruning/SKILL.md"
    async with server(tree) as client:
        whole = payload(await call(client, "check", {}))
        one = payload(await call(client, "check", {"path": "plugins/garden/skills/pruning/SKILL.md"}))
        absolute = payload(await call(client, "check", {"path": str(skill)}))
        clean = payload(await call(client, "check", {"path": "plugins/garden/skills/watering"}))
    [broken] = [f for f in whole["findings"] if f["code"] == "LK001"]
    assert broken["path"] == str(skill)
    assert broken["severity"] == "error"
    assert "roses.md" in broken["message"]
    assert broken["range"] == {"start": {"line": 12, "character": 20}, "end": {"line": 12, "character": 28}}
    assert one["findings"] == [broken] == absolute["findings"]
    assert one["counts"]["error"] == 1
    assert clean["findings"] == []


async def test_check_includes_plugin_manifests(tree: Path) -> None:
    manifest = tree / "plugins/garden/.claude-plugin/plugin.json"
    manifest.write_text('{"name": "Garden Tools",}\n', encoding="utf-8")
    async with server(tree) as client:
        found = payload(await call(client, "check", {"path": str(manifest)}))["findings"]
    assert [(f["code"], f["path"]) for f in found] == [("PL001", str(manifest))]
    assert found[0]["range"]["start"] == {"line": 0, "character": 24}


OUTSIDE_PATHS = ["../../etc/passwd", "/etc/passwd", "plugins/../../../etc", "file:///etc/hosts", "escape/SKILL.md"]
OUTSIDE_IDS = ["../../etc/passwd", "/etc/passwd", "garden/../../../etc/passwd"]


async def test_paths_and_ids_outside_the_roots_are_tool_errors(tree: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "SKILL.md").write_text("---\nname: secret\ndescription: x\n---\n", encoding="utf-8")
    (tree / "escape").symlink_to(secret, target_is_directory=True)  # a way out through a symlink
    async with server(tree) as client:
        for bad in OUTSIDE_PATHS:
            result = await call(client, "check", {"path": bad})
            assert result.is_error, bad
            assert "outside the folders this server serves" in text_of(result), bad
            assert "root:" not in text_of(result)  # nothing of /etc/passwd came back
        for bad in OUTSIDE_IDS:
            result = await call(client, "resolve", {"id": bad})
            assert result.is_error, bad
            assert "is not a skill id" in text_of(result) and "served roots" in text_of(result), bad
        secret_by_name = await call(client, "resolve", {"name": "secret"})
        assert secret_by_name.is_error and "no skill or sheet named 'secret'" in text_of(secret_by_name)


async def test_unknown_ids_and_bad_arguments_are_tool_errors(tree: Path) -> None:
    async with server(tree) as client:
        unknown = await call(client, "resolve", {"id": "garden/roses"})
        nothing = await call(client, "resolve", {})
        empty = await call(client, "route", {"query": "  "})
        too_many = await call(client, "route", {"query": "compost", "limit": 500})
    assert unknown.is_error and "no skill or sheet with id 'garden/roses'" in text_of(unknown)
    assert nothing.is_error and "needs 'id' or 'name'" in text_of(nothing)
    assert empty.is_error and "non-empty" in text_of(empty)
    assert too_many.is_error and "limit" in text_of(too_many)


async def test_index_follows_the_disk(tree: Path) -> None:
    async with server(tree) as client:
        before = payload(await call(client, "check", {"path": "plugins/garden/skills/pruning"}))
        assert [f["code"] for f in before["findings"]] == ["LK001"]
        (tree / "plugins/garden/skills/pruning/roses.md").write_text("# Roses\n\nCut above an outward bud.\n",
                                                                     encoding="utf-8")
        # the watcher delivers the change after its debounce: poll, bounded by the failure cap
        with anyio.fail_after(WAIT_S):
            while True:
                after = payload(await call(client, "check", {"path": "plugins/garden/skills/pruning"}))
                if not after["findings"]:
                    break
                await anyio.sleep(0.1)
        ids = [i["id"] for i in payload(await call(client, "list", {}))["items"]]
        assert "garden/pruning/roses.md" in ids


def test_missing_root_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "skill_lsp.cli", "mcp", "--root", str(tmp_path / "nope")],
                          capture_output=True, text=True, timeout=WAIT_S, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert "not a folder" in proc.stderr


def test_missing_sdk_tells_how_to_install(tmp_path: Path) -> None:
    # A package named `mcp` that is not the SDK shadows it, as if the extra were not installed.
    fake = tmp_path / "shadow" / "mcp"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("", encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(fake.parent))
    proc = subprocess.run([sys.executable, "-m", "skill_lsp.cli", "mcp", "--root", str(FIXTURE)],
                          capture_output=True, text=True, timeout=WAIT_S, env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert "pip install 'skill-lsp[mcp]'" in proc.stderr
    assert proc.stdout == ""  # stdout is the protocol channel: nothing else may go there
