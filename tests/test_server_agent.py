"""Agent requests on the LSP connection: skills/route, skills/list, skills/resolve, and the same as
workspace/executeCommand commands for clients that can only send commands."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams
from pytest_lsp import LanguageClient
from server_harness import BREAD, ROUTER, change_doc, copy_tree, open_doc, session, until, uri

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def tree_client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Path, LanguageClient]]:
    tree = copy_tree(tmp_path_factory.mktemp("agent"))
    async with session([tree]) as client:
        yield tree, client


def _get(obj, key):  # noqa: ANN001, ANN202 - custom results arrive as plain objects
    return obj[key] if isinstance(obj, dict) else getattr(obj, key)


async def test_route_request_ranks_the_matching_skill_first(tree_client) -> None:
    tree, client = tree_client
    result = await client.protocol.send_request_async("skills/route", {"query": "my bread dough does not rise",
                                                                       "limit": 3})
    results = _get(result, "results")
    top = results[0]
    assert _get(top, "id") == "home-kitchen/bread-baking"
    assert _get(top, "kind") == "skill" and _get(top, "uri") == uri(tree / BREAD)
    assert "bread dough" in _get(top, "description")
    assert len(results) <= 3


async def test_list_and_resolve_requests(tree_client) -> None:
    tree, client = tree_client
    listed = await client.protocol.send_request_async("skills/list", {})
    ids = {_get(i, "id") for i in _get(listed, "items")}
    assert {"home-kitchen/bread-baking", "home-kitchen/bread-baking/proofing-times.md",
            "home-kitchen/using-kitchen"} <= ids
    resolved = await client.protocol.send_request_async("skills/resolve", {"id": "home-kitchen/bread-baking"})
    assert "# Bread Baking" in _get(resolved, "text")
    assert {_get(s, "id") for s in _get(resolved, "sheets")} == {
        "home-kitchen/bread-baking/proofing-times.md", "home-kitchen/bread-baking/starter-care.md"}


async def test_resolve_answers_with_the_open_buffer_text(tree_client) -> None:
    tree, client = tree_client
    bread = tree / BREAD
    text = bread.read_text(encoding="utf-8")
    open_doc(client, bread)
    change_doc(client, bread, text.replace("# Bread Baking", "# Bread Baking (draft)"), 2)
    resolved = await client.protocol.send_request_async("skills/resolve", {"name": "bread-baking"})
    assert "# Bread Baking (draft)" in _get(resolved, "text")


async def test_unknown_id_and_bad_params_are_invalid_params_errors(tree_client) -> None:
    _tree, client = tree_client
    with pytest.raises(JsonRpcInvalidParams, match="no skill or sheet with id 'home-kitchen/nope'"):
        await client.protocol.send_request_async("skills/resolve", {"id": "home-kitchen/nope"})
    with pytest.raises(JsonRpcInvalidParams, match="limit"):
        await client.protocol.send_request_async("skills/route", {"query": "bread", "limit": "ten"})
    with pytest.raises(JsonRpcInvalidParams, match="query"):
        await client.protocol.send_request_async("skills/route", {})
    # the server is still there and answering
    assert _get(await client.protocol.send_request_async("skills/list", {}), "items")


async def test_the_same_requests_as_execute_command(tree_client) -> None:
    tree, client = tree_client
    commands = client.init_result.capabilities.execute_command_provider.commands
    assert {"skill-lsp.route", "skill-lsp.list", "skill-lsp.resolve"} <= set(commands)
    routed = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
        command="skill-lsp.route", arguments=[{"query": "dull knife edge", "limit": 2}]))
    assert _get(_get(routed, "results")[0], "id") == "home-kitchen/knife-sharpening"
    resolved = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
        command="skill-lsp.resolve", arguments=[{"id": "home-kitchen/using-kitchen"}]))
    assert _get(resolved, "uri") == uri(tree / ROUTER)
    with pytest.raises(JsonRpcInvalidParams, match="no skill or sheet"):
        await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
            command="skill-lsp.resolve", arguments=[{"id": "missing/thing"}]))


@pytest.mark.parametrize("warm", ["auto", "always"])
async def test_the_router_is_built_right_after_indexing_and_the_status_says_so(tmp_path: Path, warm: str) -> None:
    tree = copy_tree(tmp_path)
    async with session([tree], server_args=("--warm-router", warm)) as client:
        await until(lambda: any(s.state == "ready" and s.router for s in client.statuses), "router built")


async def test_with_warm_router_never_the_first_route_builds_it(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    async with session([tree], server_args=("--warm-router", "never")) as client:
        await client.protocol.send_request_async("skills/list", {})  # a round trip after ready
        assert not any(s.router for s in client.statuses), "nothing asked for a route yet"
        result = await client.protocol.send_request_async("skills/route", {"query": "my bread dough does not rise"})
        assert _get(_get(result, "results")[0], "id") == "home-kitchen/bread-baking"
        await until(lambda: any(s.router for s in client.statuses), "router built by the first route")
