"""Quick fixes from findings: attached to their diagnostics, and they really fix the file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from pygls.uris import to_fs_path
from pytest_lsp import LanguageClient
from server_harness import (
    BREAD,
    KITCHEN,
    KNIFE,
    ROUTER,
    apply_edit,
    change_doc,
    codes,
    copy_tree,
    open_doc,
    session,
    until,
    uri,
)
from skill_lsp.index import SkillIndex
from skill_lsp.rules import check_all

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def tree_client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Path, LanguageClient]]:
    """One server for the file; each test works on its own file of the tree."""
    tree = copy_tree(tmp_path_factory.mktemp("actions"))
    bread = tree / BREAD
    bread.write_text(bread.read_text(encoding="utf-8").replace("](proofing-times.md)", "](proofing-time.md)"),
                     encoding="utf-8")
    router = tree / ROUTER
    router.write_text(router.read_text(encoding="utf-8").replace("| knife-sharpening |", "| knife-sharpenin |"),
                      encoding="utf-8")
    pastry = tree / KITCHEN / "pastry" / "skill.md"
    pastry.parent.mkdir()
    pastry.write_text("---\nname: pastry\ndescription: Use when pastry shrinks in the oven.\n---\n\n# Pastry\n",
                      encoding="utf-8")
    async with session([tree]) as client:
        yield tree, client


async def actions_for(client, path: Path, code: str) -> tuple[lsp.Diagnostic, list[lsp.CodeAction]]:
    await until(lambda: code in codes(client, path), f"{code} on {path.name}")
    [diag] = [d for d in client.diagnostics[uri(path)] if d.code == code]
    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri(path)), range=diag.range,
        context=lsp.CodeActionContext(diagnostics=[diag])))
    return diag, actions


async def test_did_you_mean_fix_rewrites_the_link(tree_client) -> None:
    tree, client = tree_client
    bread = tree / BREAD
    open_doc(client, bread)
    diag, actions = await actions_for(client, bread, "LK001")
    fix = next(a for a in actions if a.title == "Use `proofing-times.md`")
    assert fix.kind == lsp.CodeActionKind.QuickFix and fix.is_preferred
    assert list(fix.diagnostics) == [diag]
    assert any(a.title == "Disable LK001 on this line" for a in actions)
    apply_edit(fix.edit)
    change_doc(client, bread, bread.read_text(encoding="utf-8"), 2)
    await until(lambda: codes(client, bread) == [], "the fixed link to stop being reported")


async def test_dead_route_offers_to_create_the_sheet(tree_client) -> None:
    tree, client = tree_client
    knife = tree / KNIFE
    text = knife.read_text(encoding="utf-8") + "\n**Route to:** `honing-rod`\n"
    open_doc(client, knife, text)
    _diag, actions = await actions_for(client, knife, "RT001")
    create = next(a for a in actions if a.title == "Create sheet `honing-rod.md`")
    [new_file, insert] = create.edit.document_changes
    assert isinstance(new_file, lsp.CreateFile)
    assert to_fs_path(new_file.uri) == str(tree / KITCHEN / "knife-sharpening" / "honing-rod.md")
    assert insert.edits[0].new_text == "# Honing rod\n"


async def test_actions_are_found_without_the_client_sending_diagnostics(tree_client) -> None:
    tree, client = tree_client
    router = tree / ROUTER
    open_doc(client, router)
    await until(lambda: "RT001" in codes(client, router), "RT001")
    [diag] = client.diagnostics[uri(router)]
    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri(router)), range=diag.range,
        context=lsp.CodeActionContext(diagnostics=[])))
    fix = next(a for a in actions if a.title == "Use `knife-sharpening`")
    assert fix.diagnostics[0].code == "RT001"
    apply_edit(fix.edit)
    assert [f.code for f in check_all(SkillIndex.from_roots([str(tree)])) if f.path == str(router)] == []


async def test_a_rename_fix_becomes_a_file_rename(tree_client) -> None:
    tree, client = tree_client
    pastry = tree / KITCHEN / "pastry" / "skill.md"
    open_doc(client, pastry)
    _diag, actions = await actions_for(client, pastry, "FM011")
    fix = next(a for a in actions if a.title == "Rename to SKILL.md")
    [move] = fix.edit.document_changes
    assert isinstance(move, lsp.RenameFile)
    assert (move.old_uri, move.new_uri) == (uri(pastry), uri(pastry.with_name("SKILL.md")))
