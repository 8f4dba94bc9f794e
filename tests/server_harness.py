"""Shared by the tests/test_server_*.py files: a real `skill-lsp serve` subprocess driven by pytest-lsp.

Every wait is bounded by a generous failure cap (the machine is small and noisy); nothing sleeps
for a fixed time: waits poll for the state the test needs and return as soon as it is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities, make_test_lsp_client

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SERVER_COMMAND = [sys.executable, "-m", "skill_lsp.cli", "serve"]
WAIT_S = 60.0  # failure cap of every wait, never a speed assertion

KITCHEN = "plugins/kitchen/skills"
ROUTER = f"{KITCHEN}/using-kitchen/SKILL.md"
BREAD = f"{KITCHEN}/bread-baking/SKILL.md"
PROOFING = f"{KITCHEN}/bread-baking/proofing-times.md"
STARTER = f"{KITCHEN}/bread-baking/starter-care.md"
KNIFE = f"{KITCHEN}/knife-sharpening/SKILL.md"


def copy_tree(tmp_path: Path, name: str = "server_tree") -> Path:
    """A private copy of a fixture tree: servers and tests may edit, rename and delete in it."""
    dest = tmp_path / name
    shutil.copytree(FIXTURES / name, dest)
    return dest.resolve()


def uri(path: Path | str) -> str:
    return from_fs_path(str(path)) or ""


def _client_factory() -> LanguageClient:
    client = make_test_lsp_client()
    client.statuses = []  # type: ignore[attr-defined]

    @client.feature("skills/status")
    def on_status(ls: LanguageClient, params: Any) -> None:
        ls.statuses.append(params)  # type: ignore[attr-defined]

    client.lens_refreshes = 0  # type: ignore[attr-defined]

    @client.feature(lsp.WORKSPACE_CODE_LENS_REFRESH)
    def on_lens_refresh(ls: LanguageClient, params: Any) -> None:
        ls.lens_refreshes += 1  # type: ignore[attr-defined]

    @client.feature(lsp.CLIENT_REGISTER_CAPABILITY)
    def on_register(ls: LanguageClient, params: lsp.RegistrationParams) -> None:
        ls.registrations = getattr(ls, "registrations", []) + list(params.registrations)  # type: ignore[attr-defined]

    return client


def capabilities(name: str = "visual-studio-code", pull: bool | None = None, utf8: bool = False
                 ) -> lsp.ClientCapabilities:
    """A real client's capabilities; `pull` adds (True) or drops (False) pull-diagnostics support,
    `utf8` offers UTF-8 positions."""
    caps = client_capabilities(name)
    if pull:
        caps.text_document.diagnostic = lsp.DiagnosticClientCapabilities(related_document_support=True)
        caps.workspace.diagnostics = lsp.DiagnosticWorkspaceClientCapabilities(refresh_support=True)
    elif pull is False:
        caps.text_document.diagnostic = None
    if utf8:
        caps.general = lsp.GeneralClientCapabilities(position_encodings=[lsp.PositionEncodingKind.Utf8,
                                                                         lsp.PositionEncodingKind.Utf16])
    return caps


@contextlib.asynccontextmanager
async def session(roots: list[Path], caps: lsp.ClientCapabilities | None = None,
                  init_options: Any = None, configuration: dict[str, Any] | None = None,
                  wait_ready: bool = True, server_args: tuple[str, ...] = ()) -> AsyncIterator[LanguageClient]:
    """A started, initialized server over `roots`; ready (first index done) unless told otherwise."""
    config = ClientServerConfig(server_command=[*SERVER_COMMAND, *server_args], client_factory=_client_factory,
                                server_env={**os.environ, "PYTHONUNBUFFERED": "1"})
    client = await config.start()
    if configuration is not None:
        client.set_configuration(configuration)
    try:
        result = await asyncio.wait_for(client.initialize_session(lsp.InitializeParams(
            capabilities=caps or capabilities(),
            workspace_folders=[lsp.WorkspaceFolder(uri=uri(r), name=r.name) for r in roots],
            initialization_options=init_options,
        )), WAIT_S)
        client.init_result = result  # type: ignore[attr-defined]
        if wait_ready:
            await until(lambda: any(s.state == "ready" for s in client.statuses), "index ready")  # type: ignore[attr-defined]
        yield client
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.shutdown_session(), 20)
        await client.stop()


async def until(predicate: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.02)


def open_doc(client: LanguageClient, path: Path, text: str | None = None, version: int = 1) -> str:
    u = uri(path)
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=u, language_id="markdown", version=version,
        text=path.read_text(encoding="utf-8") if text is None else text)))
    return u


def change_doc(client: LanguageClient, path: Path, text: str, version: int) -> None:
    """Replace the whole buffer (full sync)."""
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri(path), version=version),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)]))


def edit_doc(client: LanguageClient, path: Path, rng: lsp.Range, text: str, version: int) -> None:
    """One incremental edit."""
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri(path), version=version),
        content_changes=[lsp.TextDocumentContentChangePartial(range=rng, text=text)]))


def codes(client: LanguageClient, path: Path) -> list[str]:
    return sorted(str(d.code) for d in client.diagnostics.get(uri(path), ()))


def find(path: Path, needle: str, offset: int = 0) -> lsp.Position:
    """Position (UTF-16, as the client counts) of `needle` in the file, plus `offset` characters."""
    for i, line in enumerate(path.read_text(encoding="utf-8").split("\n")):
        col = line.find(needle)
        if col != -1:
            units = len(line[: col + offset].encode("utf-16-le")) // 2
            return lsp.Position(line=i, character=units)
    raise AssertionError(f"{needle!r} not in {path}")


def pos_in(text: str, needle: str, offset: int = 0) -> lsp.Position:
    for i, line in enumerate(text.split("\n")):
        col = line.find(needle)
        if col != -1:
            return lsp.Position(line=i, character=len(line[: col + offset].encode("utf-16-le")) // 2)
    raise AssertionError(f"{needle!r} not in text")


def apply_edit(edit: lsp.WorkspaceEdit) -> None:
    """Apply a WorkspaceEdit to the disk as an editor would (UTF-16 positions, in order)."""
    from pygls.uris import to_fs_path

    for change in edit.document_changes or ():
        if isinstance(change, lsp.TextDocumentEdit):
            path = Path(to_fs_path(change.text_document.uri))
            text = path.read_text(encoding="utf-8") if path.exists() else ""
            lines = text.split("\n")
            # offsets in the original text; applied from the end so earlier ones stay valid
            spans = sorted(((_offset(lines, e.range.start), _offset(lines, e.range.end), e.new_text)
                            for e in change.edits), reverse=True)
            for start, end, new_text in spans:
                text = text[:start] + new_text + text[end:]
            path.write_text(text, encoding="utf-8")
        elif isinstance(change, lsp.CreateFile):
            path = Path(to_fs_path(change.uri))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        elif isinstance(change, lsp.RenameFile):
            Path(to_fs_path(change.old_uri)).rename(to_fs_path(change.new_uri))


def _offset(lines: list[str], p: lsp.Position) -> int:
    """String offset of a UTF-16 position."""
    line = lines[p.line] if p.line < len(lines) else ""
    units, col = 0, 0
    while col < len(line) and units < p.character:
        units += len(line[col].encode("utf-16-le")) // 2
        col += 1
    return sum(len(s) + 1 for s in lines[: p.line]) + col
