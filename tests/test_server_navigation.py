"""Definition, references, document links, document symbols and workspace symbols."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient
from server_harness import (
    BREAD,
    KNIFE,
    PROOFING,
    ROUTER,
    change_doc,
    copy_tree,
    find,
    open_doc,
    session,
    until,
    uri,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def tree_client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Path, LanguageClient]]:
    tree = copy_tree(tmp_path_factory.mktemp("navigation"))
    async with session([tree]) as client:
        for rel in (ROUTER, BREAD, PROOFING):
            open_doc(client, tree / rel)
        yield tree, client


def doc_id(path: Path) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(uri=uri(path))


async def test_definition_of_a_name_and_of_a_link_with_an_anchor(tree_client) -> None:
    tree, client = tree_client
    router = tree / ROUTER
    [loc] = await client.text_document_definition_async(lsp.DefinitionParams(
        text_document=doc_id(router), position=find(router, "| knife-sharpening |", 3)))
    assert loc.uri == uri(tree / KNIFE)
    [loc] = await client.text_document_definition_async(lsp.DefinitionParams(
        text_document=doc_id(router), position=find(router, "proofing-times.md#overnight", 3)))
    assert loc.uri == uri(tree / PROOFING)
    assert loc.range.start == find(tree / PROOFING, "## Overnight Proof")  # the heading, not the top
    assert await client.text_document_definition_async(lsp.DefinitionParams(
        text_document=doc_id(router), position=find(router, "Read the table", 2))) is None


async def test_references_to_a_skill_come_from_every_file_that_routes_or_links_to_it(tree_client) -> None:
    tree, client = tree_client
    router = tree / ROUTER
    locations = await client.text_document_references_async(lsp.ReferenceParams(
        text_document=doc_id(router), position=find(router, "| bread-baking |", 4),
        context=lsp.ReferenceContext(include_declaration=True)))
    got = {(loc.uri, loc.range.start.line) for loc in locations}
    knife = tree / KNIFE
    assert (uri(router), find(router, "| bread-baking |").line) in got  # the table cell
    assert (uri(router), find(router, "`bread-baking`").line) in got  # the arrow
    assert (uri(knife), find(knife, "../bread-baking/SKILL.md").line) in got  # a link from another skill
    assert (uri(tree / BREAD), find(tree / BREAD, "name: bread-baking").line) in got  # the declaration


async def test_references_from_inside_a_sheet_list_who_links_it(tree_client) -> None:
    tree, client = tree_client
    proofing = tree / PROOFING
    locations = await client.text_document_references_async(lsp.ReferenceParams(
        text_document=doc_id(proofing), position=lsp.Position(line=2, character=3),
        context=lsp.ReferenceContext(include_declaration=False)))
    assert {loc.uri for loc in locations} == {uri(tree / ROUTER), uri(tree / BREAD)}


async def test_highlights_are_this_documents_references_to_the_same_target(tree_client) -> None:
    tree, client = tree_client
    router = tree / ROUTER
    got = await client.text_document_document_highlight_async(lsp.DocumentHighlightParams(
        text_document=doc_id(router), position=find(router, "`bread-baking`", 3)))
    assert [(h.range.start, h.kind) for h in got] == [
        (find(router, "bread-baking |"), lsp.DocumentHighlightKind.Read),
        (find(router, "`bread-baking`", 1), lsp.DocumentHighlightKind.Read),
    ]
    # the knife row is another target; plain prose is no reference at all
    [knife] = await client.text_document_document_highlight_async(lsp.DocumentHighlightParams(
        text_document=doc_id(router), position=find(router, "| knife-sharpening |", 3)))
    assert knife.range.start == find(router, "knife-sharpening |")
    assert await client.text_document_document_highlight_async(lsp.DocumentHighlightParams(
        text_document=doc_id(router), position=find(router, "Read the table", 2))) is None


async def lens_titles(client: LanguageClient, path: Path) -> list[str]:
    got = await client.text_document_code_lens_async(lsp.CodeLensParams(text_document=doc_id(path)))
    return [lens.command.title for lens in got or []]


async def test_code_lenses_count_the_references_and_name_the_routers(tree_client) -> None:
    tree, client = tree_client
    bread = tree / BREAD
    [lens] = await client.text_document_code_lens_async(lsp.CodeLensParams(text_document=doc_id(bread)))
    assert lens.range.start == lsp.Position(line=0, character=0)
    assert lens.command.title == "3 references in 2 files · routed from using-kitchen"
    # what VS Code's "show references" takes: the document, a position, the locations
    assert lens.command.command == "skill-lsp.showReferences"
    where, _position, locations = lens.command.arguments
    assert where == uri(bread)
    assert sorted((loc["uri"], loc["range"]["start"]["line"]) for loc in locations) == sorted([
        (uri(tree / ROUTER), find(tree / ROUTER, "| bread-baking |").line),
        (uri(tree / ROUTER), find(tree / ROUTER, "`bread-baking`").line),
        (uri(tree / KNIFE), find(tree / KNIFE, "../bread-baking/SKILL.md").line),
    ])
    assert await lens_titles(client, tree / KNIFE) == ["1 reference · routed from using-kitchen"]
    assert await lens_titles(client, tree / ROUTER) == ["no references"]


async def test_an_edit_elsewhere_asks_the_editor_to_refresh_its_lenses(tree_client) -> None:
    tree, client = tree_client
    knife = tree / KNIFE
    text = knife.read_text(encoding="utf-8")
    before = client.lens_refreshes
    open_doc(client, knife)
    change_doc(client, knife, text.replace("[bread-baking](../bread-baking/SKILL.md)", "bread"), 2)
    await until(lambda: client.lens_refreshes > before, "a code lens refresh")
    assert await lens_titles(client, tree / BREAD) == ["2 references · routed from using-kitchen"]
    change_doc(client, knife, text, 3)
    await until(lambda: client.lens_refreshes > before + 1, "another code lens refresh")
    assert await lens_titles(client, tree / BREAD) == ["3 references in 2 files · routed from using-kitchen"]


async def test_document_links_point_at_target_files(tree_client) -> None:
    tree, client = tree_client
    router = tree / ROUTER
    links = await client.text_document_document_link_async(lsp.DocumentLinkParams(text_document=doc_id(router)))
    targets = {link.target for link in links}
    assert uri(tree / BREAD) in targets and uri(tree / KNIFE) in targets
    proofing_line = find(tree / PROOFING, "## Overnight Proof").line + 1
    assert f"{uri(tree / PROOFING)}#L{proofing_line}" in targets


async def test_document_symbols_are_the_nested_heading_outline(tree_client) -> None:
    tree, client = tree_client
    symbols = await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(
        text_document=doc_id(tree / PROOFING)))
    [top] = symbols
    assert top.name == "Proofing Times"
    assert [c.name for c in top.children] == ["Overnight Proof", "Warm Kitchen"]
    overnight = top.children[0]
    # a section runs to the line before the next heading of its level
    assert overnight.range.end.line == find(tree / PROOFING, "## Warm Kitchen").line - 1
    assert overnight.selection_range.start == find(tree / PROOFING, "## Overnight Proof")


async def test_workspace_symbols_match_names_fuzzily(tree_client) -> None:
    tree, client = tree_client
    symbols = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="bred bakng"))
    assert symbols and symbols[0].name == "bread-baking"
    assert symbols[0].kind == lsp.SymbolKind.Module
    everything = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query=""))
    names = {s.name: s for s in everything}
    assert {"bread-baking", "knife-sharpening", "using-kitchen", "proofing-times", "starter-care"} <= set(names)
    assert names["proofing-times"].kind == lsp.SymbolKind.File
    assert names["proofing-times"].container_name == "home-kitchen/bread-baking"


async def test_a_task_sentence_as_workspace_symbol_query_returns_the_routed_skill_first(tree_client) -> None:
    """Agents that can only send standard requests route through workspace/symbol."""
    tree, client = tree_client
    symbols = await client.workspace_symbol_async(
        lsp.WorkspaceSymbolParams(query="my knife went dull and chipped after a month, how do I fix the edge"))
    assert symbols, "a task sentence must be routed"
    first = symbols[0]
    assert first.name == "knife-sharpening"
    assert first.kind == lsp.SymbolKind.Module
    assert first.location.uri == uri(tree / KNIFE)
    # the container names the route from the top router to the target
    assert first.container_name == "using-kitchen → knife-sharpening"
    bread = await client.workspace_symbol_async(
        lsp.WorkspaceSymbolParams(query="the dough did not rise overnight in a cold kitchen"))
    assert bread[0].name in ("bread-baking", "proofing-times")
    # a one-word query still matches names fuzzily
    short = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="knife"))
    assert short[0].name == "knife-sharpening"
