"""The call hierarchy: who routes or links to a document (incoming) and where it leads (outgoing)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient
from server_harness import BREAD, KNIFE, PROOFING, ROUTER, change_doc, copy_tree, find, open_doc, session, uri

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def tree_client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Path, LanguageClient]]:
    tree = copy_tree(tmp_path_factory.mktemp("hierarchy"))
    async with session([tree]) as client:
        for rel in (ROUTER, BREAD, KNIFE):
            open_doc(client, tree / rel)
        yield tree, client


async def prepare(client: LanguageClient, path: Path, position: lsp.Position) -> list[lsp.CallHierarchyItem] | None:
    return await client.text_document_prepare_call_hierarchy_async(lsp.CallHierarchyPrepareParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri(path)), position=position))


async def incoming(client: LanguageClient, item: lsp.CallHierarchyItem) -> dict[str, list[int]]:
    calls = await client.call_hierarchy_incoming_calls_async(lsp.CallHierarchyIncomingCallsParams(item=item))
    return {c.from_.uri: [r.start.line for r in c.from_ranges] for c in calls or []}


async def outgoing(client: LanguageClient, item: lsp.CallHierarchyItem) -> list[tuple[str, list[int]]]:
    calls = await client.call_hierarchy_outgoing_calls_async(lsp.CallHierarchyOutgoingCallsParams(item=item))
    return [(c.to.uri, [r.start.line for r in c.from_ranges]) for c in calls or []]


async def test_a_reference_under_the_cursor_prepares_the_document_it_leads_to(tree_client) -> None:
    tree, client = tree_client
    router = tree / ROUTER
    [item] = await prepare(client, router, find(router, "| bread-baking |", 3))
    assert (item.name, item.detail, item.uri) == ("bread-baking", "home-kitchen/bread-baking", uri(tree / BREAD))
    assert item.kind == lsp.SymbolKind.Module
    assert item.selection_range.start == find(tree / BREAD, "bread-baking")  # the front-matter name
    [sheet] = await prepare(client, router, find(router, "proofing-times.md#overnight", 2))
    assert (sheet.name, sheet.kind, sheet.uri) == ("proofing-times", lsp.SymbolKind.File, uri(tree / PROOFING))
    # off any reference: the document itself
    [me] = await prepare(client, router, find(router, "Read the table", 2))
    assert me.uri == uri(router)


async def test_incoming_calls_are_the_routers_and_links_that_lead_here(tree_client) -> None:
    tree, client = tree_client
    router, knife = tree / ROUTER, tree / KNIFE
    [item] = await prepare(client, tree / BREAD, lsp.Position(line=6, character=0))
    got = await incoming(client, item)
    assert got == {
        uri(router): [find(router, "| bread-baking |").line, find(router, "`bread-baking`").line],
        uri(knife): [find(knife, "../bread-baking/SKILL.md").line],
    }
    # one level up: what leads to the router (nothing), as an editor expanding the tree asks
    [top] = await prepare(client, router, lsp.Position(line=6, character=0))
    assert await incoming(client, top) == {}


async def test_outgoing_calls_list_targets_in_the_order_the_document_names_them(tree_client) -> None:
    tree, client = tree_client
    router = tree / ROUTER
    [item] = await prepare(client, router, lsp.Position(line=6, character=0))
    got = await outgoing(client, item)
    assert got == [
        (uri(tree / BREAD), [find(router, "| bread-baking |").line, find(router, "`bread-baking`").line]),
        (uri(tree / KNIFE), [find(router, "| knife-sharpening |").line]),
        (uri(tree / PROOFING), [find(router, "proofing-times.md#overnight").line]),
    ]
    # a sheet with no references leads nowhere
    [sheet] = await prepare(client, router, find(router, "proofing-times.md#overnight", 2))
    assert await outgoing(client, sheet) == []


async def test_an_unsaved_edit_changes_the_hierarchy_at_once(tree_client) -> None:
    tree, client = tree_client
    knife = tree / KNIFE
    text = knife.read_text(encoding="utf-8")
    [bread] = await prepare(client, tree / BREAD, lsp.Position(line=6, character=0))
    change_doc(client, knife, text.replace("[bread-baking](../bread-baking/SKILL.md)", "bread"), 2)
    assert uri(knife) not in await incoming(client, bread)
    change_doc(client, knife, text, 3)
    assert uri(knife) in await incoming(client, bread)


async def test_an_item_the_server_does_not_know_gets_no_calls(tree_client) -> None:
    tree, client = tree_client
    [item] = await prepare(client, tree / BREAD, lsp.Position(line=6, character=0))
    outside = lsp.CallHierarchyItem(name="x", kind=lsp.SymbolKind.File, uri="file:///etc/passwd",
                                    range=item.range, selection_range=item.selection_range, data="/etc/passwd")
    assert await incoming(client, outside) == {}
    assert await outgoing(client, outside) == []
