"""Completion: names in routing positions, paths and anchors in link targets, front-matter keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient
from server_harness import BREAD, ROUTER, change_doc, copy_tree, open_doc, pos_in, session, uri

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def tree_client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Path, LanguageClient]]:
    tree = copy_tree(tmp_path_factory.mktemp("completion"))
    async with session([tree]) as client:
        yield tree, client


_versions: dict[str, int] = {}


async def complete_at(client: LanguageClient, path: Path, text: str, needle: str, offset: int) -> dict[str, lsp.CompletionItem]:
    """Put `text` in the buffer of `path`, complete just after `needle[:offset]`; items by label."""
    key = str(path)
    if key not in _versions:
        open_doc(client, path, text)
        _versions[key] = 1
    else:
        _versions[key] += 1
        change_doc(client, path, text, _versions[key])
    result = await client.text_document_completion_async(lsp.CompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri(path)), position=pos_in(text, needle, offset)))
    items = result.items if isinstance(result, lsp.CompletionList) else (result or [])
    return {i.label: i for i in items}


async def test_routing_table_cell_offers_skills_with_their_descriptions(tree_client) -> None:
    tree, client = tree_client
    router = tree / ROUTER
    text = router.read_text(encoding="utf-8").replace(
        '| "The blade tears tomatoes" | knife-sharpening |',
        '| "The blade tears tomatoes" | knife-sharpening |\n| "Crust too pale" | br |')
    items = await complete_at(client, router, text, "| br |", 4)
    assert "bread-baking" in items and "home-kitchen/bread-baking" in items
    assert "knife-sharpening" not in items  # filtered on what was typed
    item = items["bread-baking"]
    assert item.kind == lsp.CompletionItemKind.Module
    assert isinstance(item.documentation, lsp.MarkupContent) and item.documentation.kind == lsp.MarkupKind.Markdown
    assert "bread dough will not rise" in item.documentation.value
    # the typed word is replaced, not appended to
    start = pos_in(text, "| br |", 2)
    assert item.text_edit.range.start == start and item.text_edit.new_text == "bread-baking"


async def test_route_to_line_and_arrow_offer_names(tree_client) -> None:
    tree, client = tree_client
    router = tree / ROUTER
    base = router.read_text(encoding="utf-8")
    text = base + "\n**Route to:** kni\n"
    assert "knife-sharpening" in await complete_at(client, router, text, "Route to:** kni", 17)
    text = base + "\nBlunt edge → kn\n"
    assert "knife-sharpening" in await complete_at(client, router, text, "→ kn", 4)


async def test_backticks_in_a_skill_offer_its_sheets_by_stem(tree_client) -> None:
    tree, client = tree_client
    bread = tree / BREAD
    text = bread.read_text(encoding="utf-8") + "\nSee `sta` for feeding.\n"
    items = await complete_at(client, bread, text, "`sta`", 4)
    assert items["starter-care"].kind == lsp.CompletionItemKind.File
    assert "Starter Care" in items["starter-care"].documentation.value


async def test_link_target_offers_relative_paths_then_anchors(tree_client) -> None:
    tree, client = tree_client
    router = tree / ROUTER
    base = router.read_text(encoding="utf-8")
    text = base + "\nSee [timing](../bread-baking/pro)\n"
    items = await complete_at(client, router, text, "](../bread-baking/pro", 21)
    assert "../bread-baking/proofing-times.md" in items
    assert items["../bread-baking/proofing-times.md"].kind == lsp.CompletionItemKind.File
    text = base + "\nSee [timing](../bread-baking/proofing-times.md#)\n"
    anchors = await complete_at(client, router, text, "proofing-times.md#", 18)
    assert {"proofing-times", "overnight-proof", "warm-kitchen"} <= set(anchors)


async def test_front_matter_line_start_offers_missing_keys(tree_client) -> None:
    tree, client = tree_client
    bread = tree / BREAD
    text = bread.read_text(encoding="utf-8").replace("description:", "lic\ndescription:", 1)
    items = await complete_at(client, bread, text, "lic", 3)
    assert "license" in items and "allowed-tools" in items
    assert "name" not in items and "description" not in items  # already there
    assert items["license"].text_edit.new_text == "license: "


async def test_plain_prose_offers_nothing(tree_client) -> None:
    tree, client = tree_client
    bread = tree / BREAD
    text = bread.read_text(encoding="utf-8") + "\nJust some words her\n"
    assert await complete_at(client, bread, text, "words her", 9) == {}
