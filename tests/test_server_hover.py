"""Hover on references and on a skill's front-matter name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient
from server_harness import BREAD, KNIFE, ROUTER, copy_tree, find, open_doc, session, uri

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def tree_client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Path, LanguageClient]]:
    tree = copy_tree(tmp_path_factory.mktemp("hover"))
    async with session([tree]) as client:
        for rel in (ROUTER, BREAD, KNIFE):
            open_doc(client, tree / rel)
        yield tree, client


async def hover(client: LanguageClient, path: Path, position: lsp.Position) -> lsp.Hover | None:
    return await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri(path)), position=position))


async def test_hover_on_a_routing_table_cell_shows_the_skill_card(tree_client) -> None:
    tree, client = tree_client
    router = tree / ROUTER
    result = await hover(client, router, find(router, "| bread-baking |", 6))
    assert result is not None and isinstance(result.contents, lsp.MarkupContent)
    text = result.contents.value
    assert "**bread-baking**" in text and "`home-kitchen/bread-baking`" in text
    assert "Use when bread dough will not rise" in text
    assert "plugins/kitchen/skills/bread-baking/SKILL.md" in text
    assert "words" in text
    assert "`proofing-times.md`" in text and "`starter-care.md`" in text  # the sheets it links
    assert "Bread fails in two places" in text  # the head of its body
    start = find(router, "bread-baking |")
    assert result.range.start == start and result.range.end.character == start.character + len("bread-baking")


async def test_hover_on_a_link_with_an_anchor_names_the_sheet_and_section(tree_client) -> None:
    tree, client = tree_client
    router = tree / ROUTER
    result = await hover(client, router, find(router, "../bread-baking/proofing-times.md#overnight-proof", 5))
    text = result.contents.value
    assert "**proofing-times** — sheet `home-kitchen/bread-baking/proofing-times.md`" in text
    assert "`#overnight-proof`" in text


async def test_hover_on_front_matter_name_describes_the_skill_itself(tree_client) -> None:
    tree, client = tree_client
    knife = tree / KNIFE
    result = await hover(client, knife, find(knife, "name: knife-sharpening", 8))
    text = result.contents.value
    assert "**knife-sharpening**" in text and "Use when a kitchen knife is dull" in text
    # the front matter itself is not repeated in the body excerpt
    assert "description:" not in text


async def test_hover_on_a_plugin_name_lists_its_skills(tree_client) -> None:
    tree, client = tree_client
    knife = tree / KNIFE
    text = knife.read_text(encoding="utf-8") + "\nPart of the `home-kitchen` pack.\n"
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri(knife), version=2),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)]))
    lines = text.split("\n")
    line = next(i for i, s in enumerate(lines) if "`home-kitchen` pack" in s)
    result = await hover(client, knife, lsp.Position(line=line, character=lines[line].index("home-kitchen") + 2))
    assert result is not None
    assert "**home-kitchen** — plugin" in result.contents.value
    assert "`bread-baking`" in result.contents.value


async def test_no_hover_on_plain_text(tree_client) -> None:
    tree, client = tree_client
    bread = tree / BREAD
    assert await hover(client, bread, find(bread, "Bake on a hot stone", 3)) is None
