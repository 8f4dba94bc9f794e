"""Diagnostics over the protocol: pushed as the user types, pulled by clients that pull, and
republished in other files whenever an edit changes their findings."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types as lsp
from server_harness import (
    BREAD,
    KNIFE,
    PROOFING,
    ROUTER,
    capabilities,
    change_doc,
    codes,
    copy_tree,
    edit_doc,
    open_doc,
    pos_in,
    session,
    until,
    uri,
)


async def test_typing_in_the_router(tmp_path: Path) -> None:
    """A dead route appears as it is typed, a burst of keystrokes ends on the last text, a fix
    clears it, and closing an unsaved buffer brings back the disk's findings."""
    tree = copy_tree(tmp_path)
    router = tree / ROUTER
    text = router.read_text(encoding="utf-8")
    async with session([tree]) as client:
        open_doc(client, router)
        await until(lambda: uri(router) in client.diagnostics, "first publish for the open router")
        assert codes(client, router) == []

        broken = text.replace("| bread-baking |", "| bread-bakin |")
        change_doc(client, router, broken, 2)
        await until(lambda: "RT001" in codes(client, router), "RT001 for the dead route")
        [diag] = [d for d in client.diagnostics[uri(router)] if d.code == "RT001"]
        assert diag.source == "skill-lsp"
        assert diag.severity == lsp.DiagnosticSeverity.Error
        assert "bread-bakin" in diag.message and "bread-baking" in diag.message  # did you mean
        assert diag.code_description is not None and diag.code_description.href.endswith("#rt001")
        assert diag.range.start == pos_in(broken, "bread-bakin ")
        assert diag.related_information and diag.related_information[0].location.uri == uri(tree / BREAD)
        assert diag.data["fixes"][0]["title"] == "Use `bread-baking`"

        change_doc(client, router, text, 3)
        await until(lambda: codes(client, router) == [], "the diagnostic to clear once the route is fixed")

        # a burst of keystrokes: only the final buffer counts
        for version, name in enumerate(["bread-bakin", "knife", "knife-sharp", "knife-sharpenin"], start=4):
            change_doc(client, router, text.replace("| knife-sharpening |", f"| {name} |"), version)
        final = text.replace("| knife-sharpening |", "| knife-sharpenin |")
        await until(lambda: [d.range.start for d in client.diagnostics.get(uri(router), ())]
                    == [pos_in(final, "knife-sharpenin ")], "one RT001, at the final name")
        assert "`knife-sharpenin`" in client.diagnostics[uri(router)][0].message

        # the buffer was never saved: once closed, the disk (no dead route) wins again
        client.text_document_did_close(lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(
            uri=uri(router))))
        await until(lambda: codes(client, router) == [], "the disk text to win again")


async def test_deleting_a_heading_makes_the_anchor_in_another_open_file_dead(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    router, proofing = tree / ROUTER, tree / PROOFING
    outside = tmp_path / "elsewhere" / "notes.md"
    outside.parent.mkdir()
    outside.write_text("# Notes\n\n[gone](nowhere.md)\n", encoding="utf-8")
    async with session([tree]) as client:
        open_doc(client, outside)  # not in any workspace folder: never read, never reported
        open_doc(client, router)
        open_doc(client, proofing)
        await until(lambda: uri(proofing) in client.diagnostics and uri(router) in client.diagnostics, "publishes")
        assert codes(client, router) == []
        assert uri(outside) not in client.diagnostics
        assert await client.text_document_hover_async(lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri(outside)), position=lsp.Position(line=2, character=8))) is None

        # incremental edit in the sheet: rename the heading the router links to
        sheet = proofing.read_text(encoding="utf-8")
        start = pos_in(sheet, "Overnight Proof")
        edit_doc(client, proofing, lsp.Range(start=start, end=lsp.Position(line=start.line, character=start.character + 9)),
                 "Night", 2)
        await until(lambda: "LK003" in codes(client, router), "LK003 in the router, which was not edited")
        [diag] = client.diagnostics[uri(router)]
        assert "overnight-proof" in diag.message

        edit_doc(client, proofing, lsp.Range(start=start, end=lsp.Position(line=start.line, character=start.character + 5)),
                 "Overnight", 3)
        await until(lambda: codes(client, router) == [], "the anchor to resolve again")


async def test_renaming_a_sheet_on_disk_makes_links_to_it_dead_at_once(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    bread, proofing = tree / BREAD, tree / PROOFING
    async with session([tree]) as client:
        open_doc(client, bread)
        await until(lambda: uri(bread) in client.diagnostics, "first publish")
        moved = proofing.with_name("proof-schedule.md")
        proofing.rename(moved)
        # what an editor sends after a rename in its file explorer
        client.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams(changes=[
            lsp.FileEvent(uri=uri(proofing), type=lsp.FileChangeType.Deleted),
            lsp.FileEvent(uri=uri(moved), type=lsp.FileChangeType.Created),
        ]))
        await until(lambda: "LK001" in codes(client, bread), "LK001 in the open SKILL.md")
        # the router is not open, yet its findings changed too: it is published as well
        await until(lambda: "LK001" in codes(client, tree / ROUTER), "LK001 in the closed router")


async def test_positions_follow_the_negotiated_encoding(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    knife = tree / KNIFE
    text = knife.read_text(encoding="utf-8") + "\n🔪🔪 see [the guide](missing-guide.md)\n"
    line = text.split("\n").index("🔪🔪 see [the guide](missing-guide.md)")
    utf8_col = len("🔪🔪 see [the guide](".encode())
    utf16_col = len("🔪🔪 see [the guide](".encode("utf-16-le")) // 2
    for utf8, want in ((False, utf16_col), (True, utf8_col)):
        async with session([tree], capabilities(utf8=utf8)) as client:
            assert client.init_result.capabilities.position_encoding == ("utf-8" if utf8 else "utf-16")
            open_doc(client, knife, text)
            await until(lambda c=client: "LK001" in codes(c, knife), "LK001 for the missing guide")
            [diag] = client.diagnostics[uri(knife)]
            assert (diag.range.start.line, diag.range.start.character) == (line, want)


async def test_pull_client_gets_reports_and_no_pushes(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    router, proofing = tree / ROUTER, tree / PROOFING
    router.write_text(router.read_text(encoding="utf-8").replace("| knife-sharpening |", "| knife-sharpenin |"),
                      encoding="utf-8")
    # Neovim declares pull diagnostics (and offers UTF-8 positions first)
    async with session([tree], capabilities("neovim", pull=True), wait_ready=False) as client:
        assert client.init_result.capabilities.position_encoding == "utf-8"
        provider = client.init_result.capabilities.diagnostic_provider
        assert provider is not None and provider.workspace_diagnostics and provider.inter_file_dependencies
        open_doc(client, router)
        open_doc(client, proofing)
        # asked at once, maybe while the tree is still being indexed: answered from the full index
        report = await client.text_document_diagnostic_async(lsp.DocumentDiagnosticParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri(router))))
        assert report.kind == "full" and [d.code for d in report.items] == ["RT001"]

        await until(lambda: any(s.state == "ready" for s in client.statuses), "index ready")
        assert client.diagnostic_refresh_count == 0
        sheet = proofing.read_text(encoding="utf-8")
        change_doc(client, proofing, sheet.replace("## Overnight Proof", "## Cold Proof"), 2)
        # the sheet's edit changes the router's findings: the client is asked to pull again
        await until(lambda: client.diagnostic_refresh_count > 0, "workspace/diagnostic/refresh")
        again = await client.text_document_diagnostic_async(lsp.DocumentDiagnosticParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri(router)), previous_result_id=report.result_id))
        assert again.kind == "full" and sorted(d.code for d in again.items) == ["LK003", "RT001"]

        unchanged = await client.text_document_diagnostic_async(lsp.DocumentDiagnosticParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri(router)), previous_result_id=again.result_id))
        assert unchanged.kind == "unchanged"

        ws = await client.workspace_diagnostic_async(lsp.WorkspaceDiagnosticParams(previous_result_ids=[]))
        by_uri = {item.uri: item for item in ws.items}
        assert sorted(d.code for d in by_uri[uri(router)].items) == ["LK003", "RT001"]
        assert uri(tree / BREAD) not in by_uri  # clean files are left out
        assert client.diagnostics == {}  # nothing was pushed
