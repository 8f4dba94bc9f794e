"""Rename a skill or a sheet: one WorkspaceEdit updates every reference, then renames the folder or file."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from server_harness import (
    BREAD,
    KITCHEN,
    KNIFE,
    PROOFING,
    ROUTER,
    apply_edit,
    copy_tree,
    find,
    open_doc,
    session,
    uri,
)
from skill_lsp.index import SkillIndex
from skill_lsp.rules import check_all


def doc_id(path: Path) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(uri=uri(path))


def edits_by_uri(edit: lsp.WorkspaceEdit) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for change in edit.document_changes:
        if isinstance(change, lsp.TextDocumentEdit):
            out.setdefault(change.text_document.uri, []).extend(e.new_text for e in change.edits)
    return out


async def test_rename_a_skill_from_a_routing_table_cell(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    router = tree / ROUTER
    async with session([tree]) as client:
        open_doc(client, router)
        position = find(router, "| bread-baking |", 5)
        prep = await client.text_document_prepare_rename_async(lsp.PrepareRenameParams(
            text_document=doc_id(router), position=position))
        assert prep.placeholder == "bread-baking"
        assert prep.range.start == find(router, "bread-baking |")

        edit = await client.text_document_rename_async(lsp.RenameParams(
            text_document=doc_id(router), position=position, new_name="bread-making"))
        by_uri = edits_by_uri(edit)
        # table cell and arrow by name, the link into the skill's folder by path
        assert sorted(by_uri[uri(router)]) == ["../bread-making/proofing-times.md#overnight-proof",
                                               "bread-making", "bread-making"]
        assert by_uri[uri(tree / KNIFE)] == ["../bread-making/SKILL.md"]
        assert by_uri[uri(tree / BREAD)] == ["bread-making"]  # the front-matter name
        [move] = [c for c in edit.document_changes if isinstance(c, lsp.RenameFile)]
        assert (move.old_uri, move.new_uri) == (uri(tree / KITCHEN / "bread-baking"), uri(tree / KITCHEN / "bread-making"))
        # the open router's edit is pinned to the version the client has
        [router_edit] = [c for c in edit.document_changes
                         if isinstance(c, lsp.TextDocumentEdit) and c.text_document.uri == uri(router)]
        assert router_edit.text_document.version == 1

    apply_edit(edit)
    ix = SkillIndex.from_roots([str(tree)])
    assert [f.code for f in check_all(ix)] == []  # every reference still resolves
    assert "bread-making" in {s.name for s in ix.skills.values()}


async def test_rename_a_sheet_from_a_link_and_what_is_refused(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    bread, router, knife = tree / BREAD, tree / ROUTER, tree / KNIFE
    knife_text = knife.read_text(encoding="utf-8") + "\nPart of the `home-kitchen` pack.\n\n**Route to:** `whetstone-care`\n"
    async with session([tree]) as client:
        open_doc(client, bread)
        open_doc(client, router)
        open_doc(client, knife, knife_text)
        await refusals(client, router, knife, knife_text)
        position = find(bread, "](proofing-times.md)", 4)
        prep = await client.text_document_prepare_rename_async(lsp.PrepareRenameParams(
            text_document=doc_id(bread), position=position))
        assert prep.placeholder == "proofing-times"
        edit = await client.text_document_rename_async(lsp.RenameParams(
            text_document=doc_id(bread), position=position, new_name="proof-schedule"))
    by_uri = edits_by_uri(edit)
    assert by_uri[uri(bread)] == ["proof-schedule.md"]
    assert by_uri[uri(tree / ROUTER)] == ["../bread-baking/proof-schedule.md#overnight-proof"]
    assert isinstance(edit.document_changes[-1], lsp.RenameFile)
    apply_edit(edit)
    assert (tree / PROOFING).with_name("proof-schedule.md").exists()
    assert [f.code for f in check_all(SkillIndex.from_roots([str(tree)]))] == []


async def refusals(client, router: Path, knife: Path, knife_text: str) -> None:  # noqa: ANN001
    """What cannot be renamed is refused with a reason the editor shows."""
    with pytest.raises(JsonRpcException, match="Nothing to rename here"):
        await client.text_document_prepare_rename_async(lsp.PrepareRenameParams(
            text_document=doc_id(router), position=find(router, "Read the table", 3)))
    line = knife_text.split("\n").index("Part of the `home-kitchen` pack.")
    with pytest.raises(JsonRpcException, match="plugin"):
        await client.text_document_prepare_rename_async(lsp.PrepareRenameParams(
            text_document=doc_id(knife), position=lsp.Position(line=line, character=16)))
    line = knife_text.split("\n").index("**Route to:** `whetstone-care`")
    with pytest.raises(JsonRpcException, match="does not resolve"):
        await client.text_document_prepare_rename_async(lsp.PrepareRenameParams(
            text_document=doc_id(knife), position=lsp.Position(line=line, character=20)))
    with pytest.raises(JsonRpcException, match="not a valid skill name"):
        await client.text_document_rename_async(lsp.RenameParams(
            text_document=doc_id(router), position=find(router, "| knife-sharpening |", 4), new_name="Knife Care"))
    with pytest.raises(JsonRpcException, match="already exists"):
        await client.text_document_rename_async(lsp.RenameParams(
            text_document=doc_id(router), position=find(router, "| knife-sharpening |", 4), new_name="bread-baking"))
    # the front-matter name of a skill can be renamed from the skill itself
    prep = await client.text_document_prepare_rename_async(lsp.PrepareRenameParams(
        text_document=doc_id(knife), position=find(knife, "name: knife-sharpening", 9)))
    assert prep.placeholder == "knife-sharpening"


# --- files renamed in the editor's explorer (workspace/willRenameFiles) --------------------------
async def will_rename(client, old: Path, new: Path) -> lsp.WorkspaceEdit | None:  # noqa: ANN001 - LanguageClient
    return await client.workspace_will_rename_files_async(lsp.RenameFilesParams(
        files=[lsp.FileRename(old_uri=uri(old), new_uri=uri(new))]))


def codes_of(tree: Path) -> list[str]:
    return sorted(f.code for f in check_all(SkillIndex.from_roots([str(tree)])))


async def test_a_sheet_renamed_in_the_explorer_keeps_its_links_and_names(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    bread, router = tree / BREAD, tree / ROUTER
    starter = tree / KITCHEN / "bread-baking/starter-care.md"
    async with session([tree]) as client:
        ops = client.init_result.capabilities.workspace.file_operations
        assert ops is not None and ops.will_rename is not None  # asked for by the client, offered
        open_doc(client, router)
        edit = await will_rename(client, tree / PROOFING, tree / KITCHEN / "bread-baking/proof-timing.md")
        assert edits_by_uri(edit) == {uri(router): ["../bread-baking/proof-timing.md#overnight-proof"],
                                      uri(bread): ["proof-timing.md"]}
        assert not [c for c in edit.document_changes if isinstance(c, lsp.RenameFile)]  # the client renames
        # a sheet named in code (`starter-care.md`) gets its new name there
        edit2 = await will_rename(client, starter, starter.with_name("starter-feeding.md"))
        assert edits_by_uri(edit2) == {uri(bread): ["starter-feeding.md"]}
        # files the index does not know, or moves to the same place, need nothing
        assert await will_rename(client, tree / "nowhere.md", tree / "elsewhere.md") is None
    before = codes_of(tree)
    apply_edit(edit)
    (tree / PROOFING).rename(tree / KITCHEN / "bread-baking/proof-timing.md")
    apply_edit(edit2)
    starter.rename(starter.with_name("starter-feeding.md"))
    assert codes_of(tree) == before  # nothing broke


async def test_a_moved_sheet_takes_its_own_links_along(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    notes = tree / KITCHEN / "bread-baking/oven-notes.md"
    notes.write_text("# Oven notes\n\nA dull [knife](../knife-sharpening/SKILL.md) tears the crust.\n",
                     encoding="utf-8")
    bread = tree / BREAD
    bread.write_text(bread.read_text(encoding="utf-8") + "\nSee [oven notes](oven-notes.md).\n", encoding="utf-8")
    dest = tree / KITCHEN / "knife-sharpening/oven-notes.md"
    async with session([tree]) as client:
        edit = await will_rename(client, notes, dest)
    assert edits_by_uri(edit) == {uri(bread): ["../knife-sharpening/oven-notes.md"], uri(notes): ["SKILL.md"]}
    before = codes_of(tree)
    apply_edit(edit)
    notes.rename(dest)
    assert codes_of(tree) == before


async def test_a_skill_folder_renamed_in_the_explorer_keeps_the_paths_into_it(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    router, knife = tree / ROUTER, tree / KNIFE
    old, new = tree / KITCHEN / "bread-baking", tree / KITCHEN / "bread-making"
    async with session([tree]) as client:
        edit = await will_rename(client, old, new)
    # paths change; names do not: the skill is still found by its front-matter name
    assert edits_by_uri(edit) == {uri(router): ["../bread-making/proofing-times.md#overnight-proof"],
                                  uri(knife): ["../bread-making/SKILL.md"]}
    apply_edit(edit)
    old.rename(new)
    assert codes_of(tree) == ["FM005"]  # only: the name now differs from its folder (it has a fix)
