"""A real `skill-lsp serve` process over a tree that changes on disk, the way a `git pull` does.

Only the server's own watcher sees the disk here (the client sends no file events). The end
state is compared with a cold `skill-lsp check --format json` of the final tree, exactly.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from lsprotocol import types as lsp
from pygls.uris import to_fs_path
from server_harness import WAIT_S, capabilities, codes, find, open_doc, session, until, uri
from test_incremental import FIXTURE, skill_text, write

SEVERITY = {1: "error", 2: "warning", 3: "information", 4: "hint"}
ROUTER = "skills/using-garden/SKILL.md"
WATERING = "skills/deep-watering/SKILL.md"


def copy(tmp_path: Path) -> Path:
    dest = tmp_path / "garden"
    shutil.copytree(FIXTURE, dest)
    return dest.resolve()


def no_file_events() -> lsp.ClientCapabilities:
    caps = capabilities()
    caps.workspace.did_change_watched_files = None
    return caps


def cold_check(tree: Path) -> dict[str, set[tuple]]:
    """Findings of a cold `skill-lsp check --format json`, per file relative to the tree."""
    out = subprocess.run([sys.executable, "-m", "skill_lsp.cli", "check", "--format", "json", "."], cwd=tree,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode in (0, 1), out.stderr
    found: dict[str, set[tuple]] = {}
    for f in json.loads(out.stdout):
        r = f["range"]
        found.setdefault(f["path"], set()).add((r["start"]["line"], r["start"]["character"], r["end"]["line"],
                                                r["end"]["character"], f["code"], f["severity"], f["message"]))
    return found


def published(client, tree: Path) -> dict[str, set[tuple]]:  # noqa: ANN001 - the pytest-lsp client
    found: dict[str, set[tuple]] = {}
    for u, diags in client.diagnostics.items():
        if not diags:
            continue
        rel = str(Path(to_fs_path(u)).relative_to(tree))
        found[rel] = {(d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character,
                       str(d.code), SEVERITY[int(d.severity)], d.message) for d in diags}
    return found


async def test_disk_changes_move_the_published_diagnostics(tmp_path: Path) -> None:
    tree = copy(tmp_path)
    router, watering = tree / ROUTER, tree / WATERING
    async with session([tree], no_file_events()) as client:
        open_doc(client, router)
        await until(lambda: "RT001" in codes(client, router), "the dead route to be published")
        write(tree / "skills/soil-feeding/SKILL.md", skill_text("soil-feeding"))
        await until(lambda: "RT001" not in codes(client, router), "the dead route to go once the skill exists")
        (tree / "skills/deep-watering/root-depth.md").unlink()
        await until(lambda: "LK001" in codes(client, watering), "the link to the deleted sheet to die")
        want = await asyncio.to_thread(cold_check, tree)
        await until(lambda: published(client, tree) == want, "diagnostics equal to a cold check")


async def test_two_thousand_files_keep_the_server_answering(tmp_path: Path) -> None:
    tree = copy(tmp_path)
    router, watering = tree / ROUTER, tree / WATERING
    async with session([tree], no_file_events()) as client:
        open_doc(client, router)
        open_doc(client, watering)
        await until(lambda: "RT001" in codes(client, router), "the first diagnostics")
        hover_at = find(router, "deep-watering |", 2)

        done = threading.Event()

        def burst() -> None:
            """500 skills of four files each, as a checkout would write them; one sheet deleted."""
            try:
                pack = tree / "plugins/fruit-orchard/skills"
                for i in range(500):
                    folder = pack / f"tree-care-{i:03d}"
                    folder.mkdir()
                    (folder / "SKILL.md").write_text(
                        skill_text(f"tree-care-{i:03d}", f"Read [pests](pests-{i}.md) and [soil](soil-{i % 7}.md)."),
                        encoding="utf-8")
                    (folder / f"pests-{i}.md").write_text(f"# Pests {i}\n\nSee `tree-care-{(i + 1) % 600:03d}`.\n",
                                                          encoding="utf-8")
                    (folder / f"soil-{i % 5}.md").write_text(f"# Soil {i}\n", encoding="utf-8")
                    (folder / "notes.txt").write_text("plain text\n", encoding="utf-8")
                (tree / "skills/deep-watering/root-depth.md").unlink()
                write(tree / "skills/soil-feeding/SKILL.md", skill_text("soil-feeding"))
            finally:
                done.set()

        writer = asyncio.get_running_loop().run_in_executor(None, burst)
        answered = 0
        # requests keep being answered while the files land and while the server indexes them
        while not done.is_set() or answered < 3:
            symbols = await asyncio.wait_for(client.text_document_document_symbol_async(
                lsp.DocumentSymbolParams(text_document=lsp.TextDocumentIdentifier(uri=uri(router)))), WAIT_S)
            assert symbols, "document symbols of the router"
            await asyncio.wait_for(client.text_document_hover_async(lsp.HoverParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri(router)), position=hover_at)), WAIT_S)
            answered += 1
        await writer

        want = await asyncio.to_thread(cold_check, tree)
        assert any(p.startswith("plugins/fruit-orchard/skills/tree-care-") for p in want)  # the burst shows
        for path in (ROUTER, WATERING):
            await until(lambda p=path: published(client, tree).get(p, set()) == want.get(p, set()),
                        f"the open file {path} to match a cold check", timeout=WAIT_S * 3)
        # and every file's diagnostics, not only the open ones
        await until(lambda: published(client, tree) == want, "every file to match a cold check",
                    timeout=WAIT_S * 3)
        # the server still answers, from the new index
        symbols = await asyncio.wait_for(client.text_document_document_symbol_async(
            lsp.DocumentSymbolParams(text_document=lsp.TextDocumentIdentifier(
                uri=uri(tree / "plugins/fruit-orchard/skills/tree-care-499/SKILL.md")))), WAIT_S)
        assert symbols
