"""Files changed outside the editor: the server's own watcher keeps index and diagnostics current,
and an open buffer keeps winning over the disk."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types as lsp
from server_harness import (
    BREAD,
    PROOFING,
    ROUTER,
    capabilities,
    codes,
    copy_tree,
    open_doc,
    session,
    until,
    uri,
)


async def test_disk_edits_deletions_and_creations_reach_diagnostics(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    bread, router = tree / BREAD, tree / ROUTER
    # a client that sends no file events: only our watcher can see the disk
    caps = capabilities()
    caps.workspace.did_change_watched_files = None
    async with session([tree], caps) as client:
        # an edit on disk to a file nobody has open
        text = bread.read_text(encoding="utf-8")
        bread.write_text(text + "\nSee [the oven notes](oven-notes.md).\n", encoding="utf-8")
        await until(lambda: "LK001" in codes(client, bread), "LK001 after a disk edit")

        # the missing file appears
        (bread.parent / "oven-notes.md").write_text("# Oven Notes\n\nPreheat for an hour.\n", encoding="utf-8")
        await until(lambda: codes(client, bread) == [], "the link to resolve once the file exists")

        # a sheet is deleted: links to it die in every file
        (tree / PROOFING).unlink()
        await until(lambda: "LK001" in codes(client, router) and "LK001" in codes(client, bread), "dead links")

        status = await until(lambda: [s for s in client.statuses if s.state == "ready" and s.sheets == 2
                                      and s is client.statuses[-1]], "status with the new sheet count")
        assert status[0].skills == 3


async def test_the_open_buffer_wins_over_the_disk(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    bread, router = tree / BREAD, tree / ROUTER
    async with session([tree]) as client:
        open_doc(client, bread)
        await until(lambda: uri(bread) in client.diagnostics, "first publish")
        bread.write_text(bread.read_text(encoding="utf-8") + "\n[gone](nowhere.md)\n", encoding="utf-8")
        # the client reports the change too; the server must still keep the buffer's text
        client.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams(changes=[
            lsp.FileEvent(uri=uri(bread), type=lsp.FileChangeType.Changed)]))
        # a later change elsewhere: once it shows, the bread change has been handled too
        router.write_text(router.read_text(encoding="utf-8") + "\n[gone](nowhere.md)\n", encoding="utf-8")
        client.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams(changes=[
            lsp.FileEvent(uri=uri(router), type=lsp.FileChangeType.Changed)]))
        await until(lambda: "LK001" in codes(client, router), "the router's disk change")
        assert codes(client, bread) == []
        # closing the buffer hands the file back to the disk
        client.text_document_did_close(lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(
            uri=uri(bread))))
        await until(lambda: "LK001" in codes(client, bread), "the disk's dead link once the buffer is closed")
