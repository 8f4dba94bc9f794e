"""Start-up, workspace folders, settings and transports of `skill-lsp serve`."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
from pathlib import Path

from lsprotocol import types as lsp
from server_harness import (
    KNIFE,
    SERVER_COMMAND,
    WAIT_S,
    codes,
    copy_tree,
    open_doc,
    session,
    until,
    uri,
)

TEA = "skills/tea-brewing/SKILL.md"


async def test_capabilities_progress_and_status(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    async with session([tree]) as client:
        caps = client.init_result.capabilities
        assert caps.diagnostic_provider is None  # a client that does not pull gets pushes only
        assert caps.text_document_sync.change == lsp.TextDocumentSyncKind.Incremental
        assert caps.rename_provider.prepare_provider
        assert caps.workspace.workspace_folders.change_notifications
        assert {"(", "#", "/"} <= set(caps.completion_provider.trigger_characters)
        # indexing is announced as work-done progress and as skills/status
        [reports] = client.progress_reports.values()
        assert [r.kind for r in reports][0] == "begin" and reports[-1].kind == "end"
        states = [s.state for s in client.statuses]
        assert states[0] == "indexing" and states[-1] == "ready"
        last = client.statuses[-1]
        assert (last.skills, last.sheets, last.roots) == (3, 2, 1)
        # the client is asked to send file events for Markdown and JSON files
        [reg] = [r for r in client.registrations if r.method == lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES]
        assert reg.register_options["watchers"][0]["globPattern"] == "**/*.{md,json}"


async def test_workspace_folders_come_and_go(tmp_path: Path) -> None:
    kitchen = copy_tree(tmp_path)
    tea_tree = copy_tree(tmp_path, "server_tree_b")
    tea = tea_tree / TEA
    async with session([kitchen, tea_tree]) as client:
        assert client.statuses[-1].roots == 2 and client.statuses[-1].skills == 4
        open_doc(client, tea)
        # the route to bread-baking crosses into the other root, and resolves there
        await until(lambda: uri(tea) in client.diagnostics, "the tea skill's publish")
        assert codes(client, tea) == []

        client.workspace_did_change_workspace_folders(lsp.DidChangeWorkspaceFoldersParams(
            event=lsp.WorkspaceFoldersChangeEvent(added=[], removed=[lsp.WorkspaceFolder(uri=uri(kitchen), name="k")])))
        await until(lambda: "RT001" in codes(client, tea), "RT001 once the kitchen root is gone")
        await until(lambda: client.statuses[-1].roots == 1 and client.statuses[-1].state == "ready", "status")

        client.workspace_did_change_workspace_folders(lsp.DidChangeWorkspaceFoldersParams(
            event=lsp.WorkspaceFoldersChangeEvent(added=[lsp.WorkspaceFolder(uri=uri(kitchen), name="k")], removed=[])))
        await until(lambda: codes(client, tea) == [], "the route to resolve again")
        symbols = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="bread-baking"))
        assert symbols and symbols[0].name == "bread-baking"


async def test_settings_from_init_options_configuration_and_changes(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    knife = tree / KNIFE
    knife.write_text(knife.read_text(encoding="utf-8").replace(
        "Use when a kitchen knife is dull, chipped or rolls its edge; picks", "Stones and"), encoding="utf-8")

    def severity(client) -> lsp.DiagnosticSeverity | None:  # noqa: ANN001
        found = [d.severity for d in client.diagnostics.get(uri(knife), ()) if d.code == "FM007"]
        return found[0] if found else None

    # initializationOptions with a bad value and an unknown key: warned about, the rest applies
    init = {"severity": {"FM007": "error"}, "wordBudget": "lots", "bogus": 1}
    async with session([tree], init_options=init) as client:
        open_doc(client, knife)
        await until(lambda: severity(client) == lsp.DiagnosticSeverity.Error, "FM007 raised to error")
        warnings = [m.message for m in client.messages if m.type == lsp.MessageType.Warning]
        assert any("wordBudget" in m for m in warnings) and any("bogus" in m for m in warnings)

        client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(
            settings={"skillLsp": {"severity": {"FM007": "off"}}}))
        await until(lambda: uri(knife) in client.diagnostics and severity(client) is None, "FM007 turned off")

    # workspace/configuration is pulled from clients that offer it
    async with session([tree], configuration={"skillLsp": {"severity": {"FM007": "hint"}}}) as client:
        open_doc(client, knife)
        await until(lambda: severity(client) == lsp.DiagnosticSeverity.Hint, "FM007 as a hint")


def test_tcp_refuses_a_non_loopback_host() -> None:
    out = subprocess.run([*SERVER_COMMAND, "--tcp", "--host", "0.0.0.0", "--port", "0"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "not a loopback address" in out.stderr


async def test_tcp_on_loopback_answers_initialize(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(*SERVER_COMMAND, "--tcp", "--host", "127.0.0.1", "--port", str(port),
                                                stderr=asyncio.subprocess.DEVNULL)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while True:  # the port opens once the server has started
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                assert loop.time() < deadline, "the server never listened"
                await asyncio.sleep(0.05)
        async def send(message: dict) -> None:
            body = json.dumps({"jsonrpc": "2.0", **message}).encode()
            writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            await writer.drain()

        async def reply_to(rid: int) -> dict:
            while True:
                header = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT_S)
                length = int(header.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                message = json.loads(await asyncio.wait_for(reader.readexactly(length), WAIT_S))
                if message.get("id") == rid and "method" not in message:
                    return message

        await send({"id": 1, "method": "initialize", "params": {
            "processId": None, "rootUri": uri(tree), "capabilities": {}}})
        reply = await reply_to(1)
        assert reply["id"] == 1 and reply["result"]["serverInfo"]["name"] == "skill-lsp"
        await send({"method": "initialized", "params": {}})
        await send({"id": 2, "method": "shutdown"})
        assert "result" in await reply_to(2)
        await send({"method": "exit"})
        assert await asyncio.wait_for(proc.wait(), WAIT_S) == 0, "shutdown + exit over TCP ends the server with 0"
        writer.close()
    finally:
        if proc.returncode is None:
            proc.terminate()
        await proc.wait()
