"""`skill-lsp serve`: the pygls adapter. Every LSP feature is a thin call into skill_lsp.features.

Concurrency: handlers run on the asyncio loop. A full (re)index runs in a worker thread on a *new*
SkillIndex, swapped in when finished; until then requests are answered from the previous index
(empty at start), and edits and disk changes that arrive meanwhile are re-applied after the swap.
Disk changes (our watchdog watcher, or the client's didChangeWatchedFiles) are applied by
`watch.apply_changes` in a worker thread, which commits under `ix.lock`; so every handler that
reads the index holds that lock too.

Edits reach the index lazily: didChange stores the buffer's text and arms a per-document debounce
timer; the timer, or any request that arrives first, hands pending texts to `ix.update`, then the
diagnostics of every file whose findings changed are republished (pushed, or for clients that pull,
announced with workspace/diagnostic/refresh).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import ipaddress
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, BinaryIO

import attrs
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from . import __version__, agent_api, heap
from .config import Settings, settings_from
from .features import code_actions as f_actions
from .features import completion as f_completion
from .features import diagnostics as f_diag
from .features import hierarchy as f_hierarchy
from .features import hover as f_hover
from .features import lenses as f_lenses
from .features import navigation as f_nav
from .features import rename as f_rename
from .features.context import Ctx
from .index import SkillIndex
from .model import Finding
from .protocol import (
    LIST,
    RESOLVE,
    ROUTE,
    ListParams,
    ResolveParams,
    RouteParams,
    SkillProtocol,
    lenient,
    lsp_workspace,
    make_converter,
    run_stdio,
    run_tcp,
)
from .route import Router
from .rules import check_path
from .watch import Change, TreeWatcher, apply_changes

log = logging.getLogger("skill_lsp.server")

STATUS = "skills/status"
SECTION = "skillLsp"
WATCH_GLOB = "**/*.{md,json}"
INITIAL = "initial index"
AGENT_WAIT_S = 120.0  # agent requests wait this long for the first index before answering
HAND_OVER_S = 0.001  # how long a background router build lets go of the index at each pause
WARM_ROUTER_DOCS = 5000  # trees up to this many documents get their router built right after indexing


# --- the server -----------------------------------------------------------------------------
def guarded(default: Any = None) -> Callable:
    """Never crash: log the exception to stderr and answer `default` (JSON-RPC errors pass).

    Synchronous handlers run holding the index lock: the watcher commits from another thread.
    """
    def fallback() -> Any:
        return default() if callable(default) else default

    def deco(fn: Callable) -> Callable:
        if asyncio.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(self: SkillServer, *args: Any) -> Any:
                try:
                    return await fn(self, *args)
                except (JsonRpcException, asyncio.CancelledError):
                    raise
                except Exception:
                    log.exception("%s failed", fn.__name__)
                    return fallback()
            return async_wrapper

        @functools.wraps(fn)
        def wrapper(self: SkillServer, *args: Any) -> Any:
            try:
                with self.ix.lock:
                    return fn(self, *args)
            except JsonRpcException:
                raise
            except Exception:
                log.exception("%s failed", fn.__name__)
                return fallback()
        return wrapper
    return deco


class SkillServer(LanguageServer):
    protocol: SkillProtocol

    def report_server_error(self, error: Exception, source: Any) -> None:
        """A log line, not a message box: the failing request already got its error answer, and
        what failed in a notification handler was logged with its traceback where it happened."""
        log.warning("%s: %s", getattr(source, "__name__", source), error)

    def __init__(self) -> None:
        super().__init__("skill-lsp", __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental,
                         protocol_cls=SkillProtocol, converter_factory=make_converter)
        self.ix = SkillIndex()
        self.roots: list[str] = []
        self.settings = Settings()
        self.init_options: Any = None
        self.init_errors: list[str] = []
        self.warned: set[str] = set()
        self.store = f_diag.DiagnosticStore()
        self.pull = False
        self.pending: dict[str, str] = {}  # path -> buffer text not yet given to the index
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.open_uris: dict[str, str] = {}  # path -> the uri the client opened it by
        self.build_seq = 0
        self.building = False
        self.build_lock: asyncio.Lock | None = None
        self.ready: asyncio.Event | None = None
        self.queued_disk: list[Change] = []  # disk changes that arrived during a build
        self.disk_queue: list[Change] = []
        self.disk_task: asyncio.Future | None = None
        self.watcher: TreeWatcher | None = None
        self.progress_seq = 0
        self.refresh_handles: dict[str, asyncio.TimerHandle] = {}  # what -> a pending "pull again"
        self.last_status: dict[str, Any] | None = None
        self.warm_task: asyncio.Future | None = None
        self.warm_ix: SkillIndex | None = None  # the index the warm task builds the router of
        self.warm_router = "auto"  # `serve --warm-router`: auto | always | never
        self._register()

    # --- small helpers -------------------------------------------------------------------
    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def _ready_event(self) -> asyncio.Event:
        if self.ready is None:
            self.ready = asyncio.Event()
        return self.ready

    def ctx(self) -> Ctx:
        codec = self.workspace.position_codec if self.protocol._workspace is not None else Ctx(self.ix).codec
        return Ctx(self.ix, codec, self.uri_of, self.version_of)

    def uri_of(self, path: str) -> str:
        return self.open_uris.get(path) or from_fs_path(path) or "file://" + path

    def version_of(self, path: str) -> int | None:
        uri = self.open_uris.get(path)
        if uri is None:
            return None
        doc = self.workspace.text_documents.get(uri)
        return doc.version if doc else None

    def in_roots(self, path: str) -> bool:
        return any(path == r or path.startswith(r + os.sep) for r in self.roots)

    def path_of(self, uri: str) -> str | None:
        """The index path of a client URI, or None for anything outside the roots."""
        # only absolute file URIs: `file:rel/path` would resolve against the server's own folder
        if not uri.startswith("file:/") or "\x00" in uri or "%00" in uri:
            return None
        fs = to_fs_path(uri)
        if not fs or "\x00" in fs or not os.path.isabs(fs):
            return None
        try:
            path = os.path.realpath(fs)
        except (OSError, ValueError):
            return None
        return path if self.in_roots(path) else None

    def supports(self, dotted: str) -> bool:
        node: Any = self.client_capabilities
        for part in dotted.split("."):
            node = getattr(node, part, None)
            if node is None:
                return False
        return bool(node)

    def warn(self, message: str, once: bool = False) -> None:
        if once:
            if message in self.warned:
                return
            self.warned.add(message)
        log.warning("%s", message)
        self.window_show_message(lsp.ShowMessageParams(type=lsp.MessageType.Warning, message=f"skill-lsp: {message}"))

    def _ask(self, request: Any, what: str) -> None:
        """Send a request to the client without waiting for it; a refusal is only logged."""
        async def run() -> None:
            try:
                await asyncio.wait_for(request, 30)
            except Exception as exc:
                log.info("the client did not accept %s: %s", what, exc)
        asyncio.ensure_future(run())

    def notify_status(self, state: str) -> None:
        skills = len(self.ix.skills)
        sheets = sum(len(paths) for paths in self.ix.sheets_by_stem.values())
        status = {"state": state, "skills": skills, "sheets": sheets, "roots": len(self.roots),
                  "router": "router" in self.ix.derived}  # built: a route is answered at once
        if status != self.last_status:
            self.last_status = status
            self.protocol.notify(STATUS, status)

    def _status_again(self) -> None:
        """The last status with what changed since (the router was built): same state."""
        self.notify_status((self.last_status or {}).get("state", "ready"))

    # --- registration ----------------------------------------------------------------------
    def _register(self) -> None:
        def f(name: str, options: Any = None) -> Callable[[Callable], Any]:
            return lambda method: self.feature(name, options)(_free(method))
        f(lsp.INITIALIZE)(self.on_initialize)
        f(lsp.INITIALIZED)(self.on_initialized)
        f(lsp.SHUTDOWN)(self.on_shutdown)
        f(lsp.TEXT_DOCUMENT_DID_OPEN)(self.did_open)
        f(lsp.TEXT_DOCUMENT_DID_CHANGE)(self.did_change)
        f(lsp.TEXT_DOCUMENT_DID_CLOSE)(self.did_close)
        f(lsp.TEXT_DOCUMENT_DID_SAVE)(self.did_save)
        f(lsp.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)(self.did_change_folders)
        f(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)(self.did_change_configuration)
        f(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)(self.did_change_watched_files)
        f(lsp.TEXT_DOCUMENT_COMPLETION,
          lsp.CompletionOptions(trigger_characters=["(", "/", "#", "`", ">"]))(self.completion)
        f(lsp.TEXT_DOCUMENT_HOVER)(self.hover)
        f(lsp.TEXT_DOCUMENT_DEFINITION)(self.definition)
        f(lsp.TEXT_DOCUMENT_REFERENCES)(self.references)
        f(lsp.TEXT_DOCUMENT_DOCUMENT_HIGHLIGHT)(self.document_highlight)
        f(lsp.TEXT_DOCUMENT_CODE_LENS, lsp.CodeLensOptions(resolve_provider=False))(self.code_lens)
        f(lsp.TEXT_DOCUMENT_DOCUMENT_LINK, lsp.DocumentLinkOptions(resolve_provider=False))(self.document_links)
        f(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)(self.document_symbols)
        f(lsp.WORKSPACE_SYMBOL)(self.workspace_symbols)
        f(lsp.TEXT_DOCUMENT_PREPARE_CALL_HIERARCHY)(self.prepare_call_hierarchy)
        f(lsp.CALL_HIERARCHY_INCOMING_CALLS)(self.incoming_calls)
        f(lsp.CALL_HIERARCHY_OUTGOING_CALLS)(self.outgoing_calls)
        f(lsp.TEXT_DOCUMENT_PREPARE_RENAME)(self.prepare_rename)
        f(lsp.TEXT_DOCUMENT_RENAME)(self.rename)
        f(lsp.WORKSPACE_WILL_RENAME_FILES, lsp.FileOperationRegistrationOptions(filters=[
            lsp.FileOperationFilter(pattern=lsp.FileOperationPattern(
                glob="**/*.md", matches=lsp.FileOperationPatternKind.File)),
            lsp.FileOperationFilter(pattern=lsp.FileOperationPattern(
                glob="**", matches=lsp.FileOperationPatternKind.Folder)),
        ]))(self.will_rename_files)
        f(lsp.TEXT_DOCUMENT_CODE_ACTION,
          lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]))(self.code_action)
        f(ROUTE)(self.route_request)
        f(LIST)(self.list_request)
        f(RESOLVE)(self.resolve_request)
        self.command("skill-lsp.route")(_free(self.route_command))
        self.command("skill-lsp.list")(_free(self.list_command))
        self.command("skill-lsp.resolve")(_free(self.resolve_command))

    # --- lifecycle -------------------------------------------------------------------------
    def on_initialize(self, params: lsp.InitializeParams) -> None:
        try:
            self._initialize(params)
        except Exception:  # a server that cannot read its start-up parameters still starts
            log.exception("initialize failed")

    def _initialize(self, params: lsp.InitializeParams) -> None:
        self.protocol._workspace = lsp_workspace(self.workspace)
        self.init_options = params.initialization_options
        # Pull only for clients that also accept "pull again" (refresh): a client that pulls but
        # cannot be told to re-pull (Neovim 0.11) would see another file's changes only on its
        # next edit, so it gets push instead. One or the other, never both.
        self.pull = self.supports("text_document.diagnostic") and self.supports(
            "workspace.diagnostics.refresh_support")
        if self.pull:
            self.feature(lsp.TEXT_DOCUMENT_DIAGNOSTIC, lsp.DiagnosticOptions(
                identifier="skill-lsp", inter_file_dependencies=True, workspace_diagnostics=True,
            ))(_free(self.document_diagnostic))
            self.feature(lsp.WORKSPACE_DIAGNOSTIC)(_free(self.workspace_diagnostic))
        folders = [f.uri for f in params.workspace_folders or []]
        if not folders and params.root_uri:
            folders = [params.root_uri]
        if not folders and params.root_path:
            folders = [from_fs_path(params.root_path) or ""]
        self.roots = _root_paths(folders)
        raw = _section(params.initialization_options)
        settings, errors = settings_from(raw, Settings())
        self.settings = settings
        self.init_errors = errors
        log.info("initialize: roots=%s pull=%s encoding=%s", self.roots, self.pull,
                 self.workspace.position_encoding)

    async def on_initialized(self, params: lsp.InitializedParams) -> None:
        try:
            for e in self.init_errors:
                self.warn(f"initializationOptions: {e}")
            await self._pull_configuration()
            self._register_dynamic()
            self._start_watching(self.roots)
        except Exception:
            log.exception("initialized failed")
        await self.rebuild(INITIAL)

    def on_shutdown(self, params: Any = None) -> None:
        self._stop_watcher()

    def _stop_watcher(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None

    # --- connections -------------------------------------------------------------------------
    def serve_stdio(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> int:
        """Serve one client over stdio until `exit` or the end of input; the process exit code."""
        return self._run(run_stdio(self.protocol, stdin or sys.stdin.buffer, stdout or sys.stdout.buffer))

    def serve_tcp(self, host: str, port: int) -> int:
        return self._run(run_tcp(self.protocol, host, port, lambda where: log.info("listening on %s", where)))

    def _run(self, connection: Coroutine[Any, Any, int]) -> int:
        async def main() -> int:
            asyncio.get_running_loop().set_exception_handler(_loop_exception)
            try:
                return await connection
            finally:
                self._stop_watcher()  # its thread must not call into a closed loop
                for timer in self.timers.values():
                    timer.cancel()
        try:
            return asyncio.run(main())
        except KeyboardInterrupt:
            return 130

    def _register_dynamic(self) -> None:
        regs = []
        if self.supports("workspace.did_change_watched_files.dynamic_registration"):
            regs.append(lsp.Registration(
                id="skill-lsp-watched-files", method=lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                register_options=lsp.DidChangeWatchedFilesRegistrationOptions(
                    watchers=[lsp.FileSystemWatcher(glob_pattern=WATCH_GLOB)]),
            ))
        if self.supports("workspace.did_change_configuration.dynamic_registration"):
            regs.append(lsp.Registration(id="skill-lsp-configuration", method=lsp.WORKSPACE_DID_CHANGE_CONFIGURATION,
                                         register_options={"section": SECTION}))
        if regs:
            # not awaited: a client that never answers must not hold up indexing
            self._ask(self.client_register_capability_async(lsp.RegistrationParams(registrations=regs)), "register")

    async def _pull_configuration(self) -> bool:
        """Settings from workspace/configuration, when the client offers it. True when they changed."""
        if not self.supports("workspace.configuration"):
            return False
        try:
            result = await asyncio.wait_for(self.workspace_configuration_async(
                lsp.ConfigurationParams(items=[lsp.ConfigurationItem(section=SECTION)])), 10)
        except Exception as exc:  # the client may refuse or time out; settings stay as they are
            log.warning("workspace/configuration failed: %s", exc)
            return False
        raw = result[0] if result else None
        if not isinstance(raw, dict):
            return False
        return self._apply_settings(raw, "workspace configuration")

    def _apply_settings(self, raw: dict[str, Any] | None, source: str) -> bool:
        base, _ = settings_from(_section(self.init_options), Settings())
        settings, errors = settings_from(raw, base)
        for e in errors:
            self.warn(f"{source}: {e}")
        changed = attrs.asdict(settings) != attrs.asdict(self.settings)
        self.settings = settings
        return changed

    # --- indexing --------------------------------------------------------------------------
    async def rebuild(self, reason: str) -> None:
        """Index every root anew in a worker thread, then swap the new index in."""
        if self.build_lock is None:
            self.build_lock = asyncio.Lock()
        self.build_seq += 1
        seq = self.build_seq
        ready = self._ready_event()
        ready.clear()
        self.building = True
        self.notify_status("indexing")
        async with self.build_lock:
            if seq != self.build_seq:
                return  # a newer rebuild was asked for while we waited; it will do the work
            token = await self._progress_begin(f"Indexing skills ({reason})")
            roots, settings = list(self.roots), self.settings
            overlay = self._buffer_texts()
            loop = self.loop

            def report(done: int, total: int, root: str) -> None:
                if token is not None:
                    loop.call_soon_threadsafe(self._progress_report, token, done, total, root)

            try:
                ix, findings = await asyncio.to_thread(_build_index, roots, settings, overlay, report)
            except Exception:
                log.exception("indexing failed")
                self._progress_end(token, "indexing failed")
                self.building = False
                ready.set()
                return
            if seq != self.build_seq:
                self._progress_end(token, "superseded")
                return
            self.ix = ix
            self.store.reset(findings)
            self.building = False
            queued, self.queued_disk = self.queued_disk, []
            try:
                with ix.lock:
                    touched = self._reconcile_buffers()
                    self.store.invalidate(touched)
                    # a pull client's requests waited for this first index: nothing to refresh
                    self._publish(set(self.store.findings) | touched | set(self.store.published), fresh=True,
                                  refresh=reason != INITIAL)
                for root in ix.roots:
                    for e in ix.settings_errors.get(root, ()):
                        self.warn(e, once=True)
            except Exception:
                log.exception("publishing after indexing failed")
            finally:
                self._progress_end(token, f"{len(ix.skills)} skills, {len(ix.docs)} documents")
                ready.set()
                self.notify_status("ready")
            heap.settle(collect=reason != INITIAL)
            # disk changes seen during the build may be missing from it: apply them (idempotent)
            self.on_disk_changes(queued)
            if self.warm_router == "always" or (self.warm_router == "auto" and len(ix.docs) <= WARM_ROUTER_DOCS):
                self._start_warm(ix)

    def _start_warm(self, ix: SkillIndex) -> asyncio.Future:
        if self.warm_task is None or self.warm_task.done() or self.warm_ix is not ix:
            self.warm_ix = ix
            self.warm_task = asyncio.ensure_future(self._warm(ix))
        return self.warm_task

    async def _warm(self, ix: SkillIndex) -> None:
        await asyncio.to_thread(_warm_router, ix)
        if ix is self.ix:
            self._status_again()  # now with the router built

    async def _router_ready(self) -> None:
        """A route needs the router: have it built in the background, where the build hands the
        index over to edits every hundred documents, and wait for that; built here, in the
        request, it would hold every message of the editor for as long (13 s at 10,000 skills)."""
        if "router" not in self.ix.derived:
            with contextlib.suppress(Exception):  # (a failed build is retried by the request itself)
                await asyncio.shield(self._start_warm(self.ix))

    def _buffer_texts(self) -> dict[str, str]:
        out = {}
        for path, uri in self.open_uris.items():
            doc = self.workspace.text_documents.get(uri)
            if doc is not None:
                out[path] = doc.source
        return out

    def _reconcile_buffers(self) -> set[str]:
        """Open buffers edited while the index was built: give their current text to the new index."""
        touched: set[str] = set()
        for path, text in self._buffer_texts().items():
            self.pending.pop(path, None)
            doc = self.ix.docs.get(path)
            norm = text.replace("\r\n", "\n")
            if doc is not None and doc.parsed.text == norm:
                continue
            if doc is None and (path in self.ix.files or self.ix.classify(path) is None):
                continue
            touched |= self.ix.update(path, text)
            touched.add(path)
        return touched

    async def _progress_begin(self, title: str) -> str | None:
        if not self.supports("window.work_done_progress"):
            return None
        self.progress_seq += 1
        token = f"skill-lsp/index/{self.progress_seq}"
        try:
            await asyncio.wait_for(self.work_done_progress.create_async(token), 10)
        except Exception as exc:
            log.warning("window/workDoneProgress/create failed: %s", exc)
            return None
        self.work_done_progress.begin(token, lsp.WorkDoneProgressBegin(title=title, percentage=0, cancellable=False))
        return token

    def _progress_report(self, token: str, done: int, total: int, root: str) -> None:
        pct = int(100 * done / total) if total else 100
        self.work_done_progress.report(token, lsp.WorkDoneProgressReport(message=os.path.basename(root), percentage=pct))

    def _progress_end(self, token: str | None, message: str) -> None:
        if token is not None:
            self.work_done_progress.end(token, lsp.WorkDoneProgressEnd(message=message))

    # --- diagnostics -------------------------------------------------------------------------
    def _publish(self, paths: Iterable[str], always: Iterable[str] = (), fresh: bool = False,
                 refresh: bool = True) -> None:
        """Push (or, for pull clients, announce) the diagnostics of `paths` that changed."""
        paths = set(paths)
        if not fresh:
            self.store.invalidate(paths)
        ctx = self.ctx()
        paths |= self.store.stale(ctx)
        if paths - set(always) and refresh and not self.building and self.supports(
                "workspace.code_lens.refresh_support"):
            self._schedule_refresh("code lens")  # reference counts shown above other files may move
        if self.pull:
            # The client pulls the file it edits by itself; tell it to pull again when other
            # files may have changed (not while indexing: the end of the build does that).
            others = paths - set(always)
            if others and refresh and not self.building and self.supports("workspace.diagnostics.refresh_support"):
                self._schedule_refresh()
            return
        for path, diags in self.store.changes(ctx, paths, set(always)):
            self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
                uri=self.uri_of(path), diagnostics=diags, version=self.version_of(path)))

    def _schedule_refresh(self, what: str = "diagnostic") -> None:
        """Ask the client to pull `what` again, once, 50 ms after the last change."""
        handle = self.refresh_handles.pop(what, None)
        if handle is not None:
            handle.cancel()
        ask = (self.workspace_code_lens_refresh_async if what == "code lens"
               else self.workspace_diagnostic_refresh_async)

        def fire() -> None:
            self.refresh_handles.pop(what, None)
            self._ask(ask(None), f"{what} refresh")
        self.refresh_handles[what] = self.loop.call_later(0.05, fire)

    def _flush(self, paths: Iterable[str] | None = None, always: Iterable[str] = ()) -> None:
        """Give pending buffer texts to the index and republish what they changed."""
        todo = list(self.pending) if paths is None else [p for p in paths if p in self.pending]
        if not todo:
            return
        touched: set[str] = set()
        with self.ix.lock:
            for path in todo:
                text = self.pending.pop(path)
                timer = self.timers.pop(path, None)
                if timer is not None:
                    timer.cancel()
                touched |= self.ix.update(path, text)
                touched.add(path)
            self._publish(touched, set(always) | set(todo))
        self.notify_status("indexing" if self.building else "ready")

    def sync(self) -> None:
        """Before answering a request: the index must hold what the buffers hold."""
        try:
            self._flush()
        except Exception:
            log.exception("applying pending edits failed")

    # --- documents -------------------------------------------------------------------------
    @guarded()
    def did_open(self, params: lsp.DidOpenTextDocumentParams) -> None:
        path = self.path_of(params.text_document.uri)
        if path is None:
            return
        self.open_uris[path] = params.text_document.uri
        doc = self.ix.docs.get(path)
        text = params.text_document.text
        if doc is not None and doc.parsed.text == text.replace("\r\n", "\n"):
            self._publish(set(), always={path})
            return
        self.pending[path] = text
        self._flush([path], always={path})

    @guarded()
    def did_change(self, params: lsp.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        path = self.path_of(uri)
        if path is None:
            return
        self.open_uris.setdefault(path, uri)
        self.pending[path] = self.workspace.get_text_document(uri).source
        timer = self.timers.pop(path, None)
        if timer is not None:
            timer.cancel()
        delay = max(0, self.settings.debounce_ms) / 1000
        self.timers[path] = self.loop.call_later(delay, self._debounced, path)

    def _debounced(self, path: str) -> None:
        self.timers.pop(path, None)
        try:
            self._flush([path])
        except Exception:
            log.exception("diagnostics after an edit failed")

    @guarded()
    def did_close(self, params: lsp.DidCloseTextDocumentParams) -> None:
        path = self.path_of(params.text_document.uri)
        if path is None:
            return
        self.pending.pop(path, None)
        timer = self.timers.pop(path, None)
        if timer is not None:
            timer.cancel()
        self.open_uris.pop(path, None)
        # the disk wins again once the buffer is gone
        touched = apply_changes(self.ix, [Change("modified", path)], set(self.open_uris))
        self._publish(touched)

    @guarded()
    def did_save(self, params: lsp.DidSaveTextDocumentParams) -> None:
        self.sync()

    @guarded()
    async def did_change_folders(self, params: lsp.DidChangeWorkspaceFoldersParams) -> None:
        removed = set(_root_paths([f.uri for f in params.event.removed]))
        added = [r for r in _root_paths([f.uri for f in params.event.added]) if r not in self.roots]
        self.roots = [r for r in self.roots if r not in removed] + added
        self._stop_watching(sorted(removed))
        self._start_watching(added)
        for path in [p for p in self.open_uris if not self.in_roots(p)]:
            self.open_uris.pop(path, None)
            self.pending.pop(path, None)
        await self.rebuild("workspace folders changed")

    @guarded()
    async def did_change_configuration(self, params: lsp.DidChangeConfigurationParams) -> None:
        raw = params.settings
        if isinstance(raw, dict) and (SECTION in raw or not self.supports("workspace.configuration")):
            changed = self._apply_settings(_section(raw), "settings")
        else:
            changed = await self._pull_configuration()
        if changed:
            await self.rebuild("settings changed")

    # --- disk changes --------------------------------------------------------------------------
    @guarded()
    def did_change_watched_files(self, params: lsp.DidChangeWatchedFilesParams) -> None:
        kinds = {lsp.FileChangeType.Created: "created", lsp.FileChangeType.Changed: "modified",
                 lsp.FileChangeType.Deleted: "deleted"}
        changes = []
        for ev in params.changes:
            fs = to_fs_path(ev.uri) if ev.uri.startswith("file:") else None
            if not fs:
                continue
            # a deleted path cannot be resolved through symlinks any more; its folder can
            path = os.path.join(os.path.realpath(os.path.dirname(fs)), os.path.basename(fs))
            if self.in_roots(path) and ev.type in kinds:
                changes.append(Change(kinds[ev.type], path))
        self.on_disk_changes(changes)

    def on_disk_changes(self, changes: list[Change]) -> None:
        """Changes on disk, from our watcher or the client's: applied in order, off the loop."""
        if not changes:
            return
        if self.building:
            self.queued_disk.extend(changes)
            return
        self.disk_queue.extend(changes)
        if self.disk_task is None or self.disk_task.done():
            self.disk_task = asyncio.ensure_future(self._drain_disk())

    async def _drain_disk(self) -> None:
        while self.disk_queue and not self.building:
            batch, self.disk_queue = self.disk_queue, []
            with self.ix.lock:
                self.sync()  # pending edits first: the buffers they belong to win over the disk
            ix = self.ix
            try:
                # reads and parses before taking the index lock; readers here hold the lock
                touched = await asyncio.to_thread(apply_changes, ix, batch, set(self.open_uris))
            except Exception:
                # its planning reads the index unlocked and may trip over an edit made meanwhile:
                # once more, here on the loop where nothing else moves
                log.warning("applying %d disk changes failed; retrying", len(batch), exc_info=True)
                try:
                    with ix.lock:
                        touched = apply_changes(ix, batch, set(self.open_uris))
                except Exception:
                    log.exception("applying %d disk changes failed", len(batch))
                    continue
            if ix is not self.ix or self.building:
                self.queued_disk.extend(batch)  # a rebuild started meanwhile: apply to its index too
                continue
            with ix.lock:
                self._publish(touched)
            self.notify_status("ready")
        if self.disk_queue and self.building:
            self.queued_disk.extend(self.disk_queue)
            self.disk_queue = []

    def _start_watching(self, roots: list[str]) -> None:
        if not roots:
            return
        loop = self.loop
        try:
            if self.watcher is None:
                self.watcher = TreeWatcher(
                    on_batch=lambda batch: loop.call_soon_threadsafe(self._on_watch_batch, batch),
                    ignore=list(self.settings.ignore))
            for root in roots:
                self.watcher.add_root(root)
        except Exception:
            log.exception("could not watch %s for changes", roots)

    def _on_watch_batch(self, batch: list[Change]) -> None:
        try:
            self.on_disk_changes([c for c in batch if self.in_roots(os.path.normpath(c.path))
                                  or (c.dest and self.in_roots(os.path.normpath(c.dest)))])
        except Exception:
            log.exception("applying disk changes failed")

    def _stop_watching(self, roots: list[str]) -> None:
        if self.watcher is None:
            return
        for root in roots:
            try:
                self.watcher.remove_root(root)
            except Exception:
                log.exception("could not stop watching %s", root)

    # --- features ------------------------------------------------------------------------------
    def _doc_path(self, uri: str) -> str | None:
        self.sync()
        path = self.path_of(uri)
        return path if path is not None and path in self.ix.docs else None

    @guarded()
    def completion(self, params: lsp.CompletionParams) -> lsp.CompletionList | None:
        path = self._doc_path(params.text_document.uri)
        if path is None:
            return None
        formats = getattr(getattr(getattr(self.client_capabilities.text_document, "completion", None),
                                  "completion_item", None), "documentation_format", None) or []
        return f_completion.complete(self.ctx(), path, params.position, markdown=lsp.MarkupKind.Markdown in formats)

    @guarded()
    def hover(self, params: lsp.HoverParams) -> lsp.Hover | None:
        path = self._doc_path(params.text_document.uri)
        return f_hover.hover(self.ctx(), path, params.position) if path else None

    @guarded()
    def definition(self, params: lsp.DefinitionParams) -> list[lsp.Location] | None:
        path = self._doc_path(params.text_document.uri)
        return f_nav.definition(self.ctx(), path, params.position) if path else None

    @guarded(list)
    def references(self, params: lsp.ReferenceParams) -> list[lsp.Location]:
        path = self._doc_path(params.text_document.uri)
        if path is None:
            return []
        return f_nav.references(self.ctx(), path, params.position, params.context.include_declaration)

    @guarded(list)
    def code_lens(self, params: lsp.CodeLensParams) -> list[lsp.CodeLens]:
        path = self._doc_path(params.text_document.uri)
        return f_lenses.lenses(self.ctx(), path) if path else []

    @guarded()
    def document_highlight(self, params: lsp.DocumentHighlightParams) -> list[lsp.DocumentHighlight] | None:
        path = self._doc_path(params.text_document.uri)
        return f_nav.highlights(self.ctx(), path, params.position) if path else None

    @guarded(list)
    def document_links(self, params: lsp.DocumentLinkParams) -> list[lsp.DocumentLink]:
        path = self._doc_path(params.text_document.uri)
        if path is None:
            return []
        return f_nav.document_links(self.ctx(), path, self.supports("text_document.document_link.tooltip_support"))

    @guarded(list)
    def document_symbols(self, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
        path = self._doc_path(params.text_document.uri)
        return f_nav.document_symbols(self.ctx(), path) if path else []

    @guarded()
    def prepare_call_hierarchy(self, params: lsp.CallHierarchyPrepareParams) -> list[lsp.CallHierarchyItem] | None:
        path = self._doc_path(params.text_document.uri)
        return f_hierarchy.prepare(self.ctx(), path, params.position) if path else None

    @guarded(list)
    def incoming_calls(self, params: lsp.CallHierarchyIncomingCallsParams) -> list[lsp.CallHierarchyIncomingCall]:
        return self._calls(params.item, f_hierarchy.incoming)

    @guarded(list)
    def outgoing_calls(self, params: lsp.CallHierarchyOutgoingCallsParams) -> list[lsp.CallHierarchyOutgoingCall]:
        return self._calls(params.item, f_hierarchy.outgoing)

    def _calls(self, item: lsp.CallHierarchyItem, answer: Callable[[Ctx, str], list[Any]]) -> list[Any]:
        self.sync()
        ctx = self.ctx()
        path = f_hierarchy.item_path(ctx, item, self.path_of(item.uri))
        return answer(ctx, path) if path else []

    @guarded(list)
    async def workspace_symbols(self, params: lsp.WorkspaceSymbolParams) -> list[lsp.WorkspaceSymbol]:
        # agents search skills this way too: an empty answer while indexing would read as "none"
        await self._wait_ready(AGENT_WAIT_S)
        if f_nav.reads_like_task(params.query):
            await self._router_ready()
        with self.ix.lock:
            self.sync()
            return f_nav.workspace_symbols(self.ix, params.query, uri_of=self.uri_of)

    def prepare_rename(self, params: lsp.PrepareRenameParams) -> lsp.PrepareRenamePlaceholder | None:
        path = self._doc_path(params.text_document.uri)
        if path is None:
            raise JsonRpcException("This file is not part of an indexed skill tree.", code=REQUEST_FAILED)
        try:
            with self.ix.lock:
                return f_rename.prepare_rename(self.ctx(), path, params.position)
        except f_rename.RenameRefused as exc:
            raise JsonRpcException(str(exc), code=REQUEST_FAILED) from None
        except Exception:
            log.exception("prepareRename failed")
            return None

    def rename(self, params: lsp.RenameParams) -> lsp.WorkspaceEdit | None:
        path = self._doc_path(params.text_document.uri)
        if path is None:
            raise JsonRpcException("This file is not part of an indexed skill tree.", code=REQUEST_FAILED)
        try:
            with self.ix.lock:
                return f_rename.rename(self.ctx(), path, params.position, params.new_name)
        except f_rename.RenameRefused as exc:
            raise JsonRpcException(str(exc), code=REQUEST_FAILED) from None
        except Exception:
            log.exception("rename failed")
            raise JsonRpcException("rename failed; see the server log", code=REQUEST_FAILED) from None

    @guarded()
    def will_rename_files(self, params: lsp.RenameFilesParams) -> lsp.WorkspaceEdit | None:
        """Files or folders about to be renamed in the editor: edits that keep links and names to
        them whole (a move out of the workspace gets none: its references are reported instead)."""
        self.sync()
        pairs = [(old, new) for f in params.files
                 if (old := self.path_of(f.old_uri)) is not None and (new := self.path_of(f.new_uri)) is not None]
        return f_rename.will_rename_files(self.ctx(), pairs)

    @guarded(list)
    def code_action(self, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        path = self._doc_path(params.text_document.uri)
        if path is None:
            return []
        ctx = self.ctx()
        return f_actions.code_actions(ctx, path, params.range, params.context, self.store.get(ctx, path))

    # --- pull diagnostics --------------------------------------------------------------------
    async def _wait_ready(self, timeout: float) -> None:
        ready = self._ready_event()
        if not ready.is_set() and (self.building or self.build_seq == 0):
            try:
                await asyncio.wait_for(ready.wait(), timeout)
            except TimeoutError:
                log.warning("answering before the index is ready")

    @guarded()
    async def document_diagnostic(self, params: lsp.DocumentDiagnosticParams) -> lsp.DocumentDiagnosticReport:
        await self._wait_ready(AGENT_WAIT_S)
        path = self.path_of(params.text_document.uri)
        if path is None:
            return lsp.RelatedFullDocumentDiagnosticReport(items=[])
        with self.ix.lock:
            self.sync()
            return f_diag.document_report(self.ctx(), self.store, path, params.previous_result_id)

    @guarded()
    async def workspace_diagnostic(self, params: lsp.WorkspaceDiagnosticParams) -> lsp.WorkspaceDiagnosticReport:
        await self._wait_ready(AGENT_WAIT_S)
        previous = {p.uri: p.value for p in params.previous_result_ids or []}
        with self.ix.lock:
            self.sync()
            return f_diag.workspace_report(self.ctx(), self.store, previous)

    # --- agent requests ------------------------------------------------------------------------
    async def _agent(self, name: str, params: Any, cls: type) -> dict[str, Any]:
        if params is None:
            params = cls()
        elif isinstance(params, dict):  # executeCommand arguments arrive as plain JSON
            params = lenient(cls)(params, cls)
        elif not isinstance(params, cls):
            params = cls(problems=["params must be a JSON object"])
        if params.problems:
            raise JsonRpcInvalidParams(f"{name}: " + "; ".join(params.problems))
        await self._wait_ready(AGENT_WAIT_S)
        if name == "route":
            await self._router_ready()
        fn = getattr(agent_api, f"{name}_request")
        payload = {k: v for k, v in attrs.asdict(params).items() if k != "problems" and v is not None}
        try:
            with self.ix.lock:
                self.sync()
                first_route = "router" not in self.ix.derived
                with heap.few_collections() if first_route else contextlib.nullcontext():
                    answer = fn(self.ix, payload)
                if first_route and "router" in self.ix.derived:
                    heap.settle()  # the router just built lives as long as the index
                    self._status_again()
                return answer
        except (KeyError, LookupError, ValueError) as exc:
            msg = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
            raise JsonRpcInvalidParams(f"{name}: {msg}") from None
        except JsonRpcException:
            raise
        except Exception:
            log.exception("%s failed", name)
            raise JsonRpcException(f"{name} failed; see the server log", code=REQUEST_FAILED) from None

    async def route_request(self, params: RouteParams | None) -> dict[str, Any]:
        return await self._agent("route", params, RouteParams)

    async def list_request(self, params: ListParams | None) -> dict[str, Any]:
        return await self._agent("list", params, ListParams)

    async def resolve_request(self, params: ResolveParams | None) -> dict[str, Any]:
        return await self._agent("resolve", params, ResolveParams)

    async def route_command(self, *args: Any) -> dict[str, Any]:
        return await self._agent("route", args[0] if args else None, RouteParams)

    async def list_command(self, *args: Any) -> dict[str, Any]:
        return await self._agent("list", args[0] if args else None, ListParams)

    async def resolve_command(self, *args: Any) -> dict[str, Any]:
        return await self._agent("resolve", args[0] if args else None, ResolveParams)


REQUEST_FAILED = lsp.LSPErrorCodes.RequestFailed.value


def _warm_router(ix: SkillIndex) -> None:
    """Worker thread: build the router of an index, then install it (an agent's first route is
    then as quick as the next).

    The build does not hold the index for its whole length: every hundred documents it hands
    the lock over (edits made meanwhile are applied and answered at once), and a last refresh
    under the lock catches up with them before the router is installed."""
    try:
        router = Router(ix)
        with heap.few_collections():
            with ix.lock:
                router.refresh(pause=_hand_over(ix.lock))
            with ix.lock:
                router.refresh()
                ix.derived.setdefault("router", router)
        heap.settle()  # it lives as long as the index
    except Exception:
        log.exception("building the router failed")


def _hand_over(lock: threading.RLock) -> Callable[[], None]:
    """A pause that lets whoever waits for `lock` (held once by this thread) take it."""
    def pause() -> None:
        lock.release()
        time.sleep(HAND_OVER_S)  # Python's locks are not fair: without a pause the builder takes it back
        lock.acquire()
    return pause


def _loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    exc = context.get("exception")
    if isinstance(exc, asyncio.CancelledError):
        # a handler cancelled because the connection closed; pygls' callbacks re-raise that
        log.debug("cancelled: %s", context.get("message"))
        return
    loop.default_exception_handler(context)


def _free(method: Callable) -> Callable:
    """A plain function calling a bound method: pygls sets attributes on what it registers."""
    if asyncio.iscoroutinefunction(method):
        async def call_async(*args: Any) -> Any:
            return await method(*args)
        call_async.__name__ = method.__name__
        return call_async

    def call(*args: Any) -> Any:
        return method(*args)
    call.__name__ = method.__name__
    return call


def _section(raw: Any) -> dict[str, Any] | None:
    """Our settings from initializationOptions or a didChangeConfiguration payload."""
    if not isinstance(raw, dict):
        return None
    inner = raw.get(SECTION)
    if isinstance(inner, dict):
        return inner
    return raw if SECTION not in raw else None


def _root_paths(uris: Iterable[str]) -> list[str]:
    out = []
    for uri in uris:
        if not uri or not uri.startswith("file:"):
            continue
        fs = to_fs_path(uri)
        if not fs:
            continue
        path = os.path.realpath(fs)
        if not os.path.isdir(path):
            log.warning("workspace folder %s is not a folder; skipped", path)
            continue
        if path not in out:
            out.append(path)
    return out


def _build_index(roots: list[str], settings: Settings, overlay: dict[str, str],
                 report: Callable[[int, int, str], None]) -> tuple[SkillIndex, dict[str, list[Finding]]]:
    """Worker thread: a new index of every root, and the findings of every file in it."""
    ix = SkillIndex(settings)
    for i, root in enumerate(roots):
        try:
            ix.add_root(root, overlay)
        except Exception:
            log.exception("indexing %s failed", root)
        report(i + 1, len(roots), root)
    findings = {}
    for path in set(ix.docs) | set(ix.read_problems):
        try:
            findings[path] = check_path(ix, path)
        except Exception:
            log.exception("checking %s failed", path)
            findings[path] = []
    return ix, findings


# --- entry point ------------------------------------------------------------------------------
def create_server() -> SkillServer:
    return SkillServer()


def _quiet_refusals(record: logging.LogRecord) -> bool:
    """pygls logs a traceback for every error answer; ours (a refused rename, bad params) are
    answers, not faults, so they are left out of the log."""
    exc = record.exc_info[1] if record.exc_info else None
    return not (isinstance(exc, JsonRpcException) and exc.code in (REQUEST_FAILED, JsonRpcInvalidParams.CODE))


def _setup_logging(log_file: str | None) -> None:
    handler: logging.Handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_quiet_refusals)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("skill_lsp").setLevel(logging.INFO)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(args: argparse.Namespace) -> int:
    _setup_logging(getattr(args, "log_file", None))
    server = create_server()
    limit = getattr(args, "max_message_bytes", None)
    if limit is not None:
        if limit < 1024:
            print("skill-lsp: error: --max-message-bytes must be at least 1024", file=sys.stderr)
            return 2
        server.protocol.max_message_bytes = limit
    server.warm_router = getattr(args, "warm_router", "auto")
    if getattr(args, "tcp", False):
        host = args.host
        if not is_loopback(host):
            print(f"skill-lsp: error: --host {host} is not a loopback address; the server listens on "
                  "127.0.0.1, ::1 or localhost only", file=sys.stderr)
            return 2
        return server.serve_tcp(host, args.port)
    return server.serve_stdio()


__all__ = ["SkillServer", "create_server", "serve"]
