"""`skill-lsp mcp`: the agent requests as MCP tools over stdio, for agents that speak MCP only.

Tools `route`, `list`, `resolve` and `check` answer with the shapes of the language server's
`skills/route`, `skills/list` and `skills/resolve` (they call the same `agent_api` functions) and
findings as `report.finding_json` dicts. Everything is confined to the roots the server was
started with: ids name indexed documents only, and a path must resolve (symlinks included) inside
a root; anything else is a tool error (an `is_error` result the model can read and correct).

The MCP SDK is an optional extra (`skill-lsp[mcp]`), imported only when the server starts. The
index follows the disk through `watch.TreeWatcher`, like `skill-lsp check --watch`.
"""

# No `from __future__ import annotations` here: the SDK reads the tool functions' annotations,
# and those name `Field`, which is imported only when the server starts.
import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import unquote, urlparse

from .agent_api import list_request, resolve_request, route_request
from .index import SkillIndex
from .model import Finding
from .report import finding_json
from .rules import check_path
from .rules.base import FILE_START, finding
from .rules.manifests import check_manifest, is_manifest, manifest_paths

if TYPE_CHECKING:
    from .watch import TreeWatcher

log = logging.getLogger(__name__)

INSTALL_HINT = "skill-lsp mcp needs the MCP Python SDK 2.x; install it with: pip install 'skill-lsp[mcp]'"
SERVER_NAME = "skill-lsp"
INSTRUCTIONS = (
    "Skills and reference sheets of the folders this server was started with. Call `route` with "
    "the task in a sentence to find the skill or sheet to read, then `resolve` its id to get the "
    "text and the sheets it links. `check` lists problems (broken links, dead routes, invalid "
    "front matter or plugin manifests) in a file or folder, for instance a skill you just wrote."
)
MAX_FINDINGS = 2000  # a whole large tree can hold thousands; an agent needs the first ones


class OutsideRoots(ValueError):
    """A path or id that does not lead into the served roots."""


@dataclass(slots=True)
class AgentTools:
    """The four tools over one index, free of MCP: errors are ValueError with a caller-facing text."""

    ix: SkillIndex
    busy: threading.Lock = field(default_factory=threading.Lock)  # one watcher batch at a time

    def route(self, query: str, limit: int = 5) -> dict[str, Any]:
        with self.ix.lock:
            return route_request(self.ix, {"query": query, "limit": limit})

    def list_all(self) -> dict[str, Any]:
        with self.ix.lock:
            return list_request(self.ix, {})

    def resolve(self, id: str | None = None, name: str | None = None) -> dict[str, Any]:  # noqa: A002
        if id is not None and _looks_like_path(id):
            raise OutsideRoots(f"{id!r} is not a skill id: ids look like 'plugin/skill' or "
                               "'plugin/skill/sheet.md' and name only documents inside the served roots "
                               f"({', '.join(self.ix.roots)}); use `list` or `route` to find one")
        with self.ix.lock:
            return resolve_request(self.ix, {"id": id, "name": name})

    def check(self, path: str | None = None) -> dict[str, Any]:
        target = self.confine(path) if path else None
        with self.ix.lock:
            found, checked = self._findings(target)
        found.sort(key=Finding.sort_key)
        out: dict[str, Any] = {
            "findings": [_json(f) for f in found[:MAX_FINDINGS]],
            "checked": checked,
            "counts": _counts(found),
        }
        if len(found) > MAX_FINDINGS:
            out["truncated"] = len(found) - MAX_FINDINGS
        return out

    # --- confinement ------------------------------------------------------------------------------
    def confine(self, path: str) -> str:
        """The indexed form of a path the caller gave (absolute, file URI, or relative to a root)."""
        if not isinstance(path, str) or "\0" in path:
            raise ValueError("'path' must be a file or folder path")
        raw = path.strip()
        if raw.startswith("file://"):
            raw = unquote(urlparse(raw).path)
        raw = os.path.expanduser(raw) if raw.startswith("~") else raw
        roots = self.ix.roots
        candidates = [raw] if os.path.isabs(raw) else [os.path.join(r, raw) for r in roots]
        inside = False
        for c in candidates:
            c = os.path.normpath(c)
            real = os.path.realpath(c)
            if self.ix.root_of(real) is None:
                continue  # leaves the roots, by itself or through a symlink
            inside = True
            if c in self.ix.files or c in self.ix.dirs or c in self.ix.docs:
                return c  # the index's own spelling (a symlink inside a root stays one)
            if os.path.exists(real):
                return real
        if not inside:
            raise OutsideRoots(f"{path!r} is outside the folders this server serves ({', '.join(roots)}); "
                               "give a path inside one of them, absolute or relative to it")
        raise ValueError(f"{path!r} does not exist in the served folders")

    def _findings(self, target: str | None) -> tuple[list[Finding], int]:
        ix = self.ix

        def wanted(p: str) -> bool:
            return target is None or p == target or p.startswith(target.rstrip(os.sep) + os.sep)

        docs = sorted(p for p in set(ix.docs) | set(ix.read_problems) if wanted(p))
        manifests = [m for m in manifest_paths(ix) if wanted(m)]
        if target is not None and is_manifest(target) and target not in manifests:
            manifests.append(target)
        found: list[Finding] = []
        for p in docs:
            found.extend(check_path(ix, p))
        for m in manifests:
            found.extend(check_manifest(ix, m))
        for path, code, message in ix.walk_problems:
            if wanted(path):
                found.append(finding(code, path, FILE_START, message))
        # check_path may learn about manifests one day: never report a finding twice
        unique = list({(f.path, f.span, f.code, f.message): f for f in found}.values())
        return unique, len(docs) + len(manifests)

    # --- keeping current ----------------------------------------------------------------------------
    def on_batch(self, batch: list[Any]) -> None:
        from .watch import apply_changes

        with self.busy:
            try:
                apply_changes(self.ix, batch, ())
            except Exception:  # a failed batch must not end the server; the next one reconciles
                log.exception("skill-lsp mcp: could not apply changes from disk")


def _looks_like_path(ident: str) -> bool:
    parts = ident.replace("\\", "/").split("/")
    return ident.startswith(("/", "~", "file:")) or ".." in parts or "\0" in ident or (
        len(ident) > 1 and ident[1] == ":")


def _json(f: Finding) -> dict[str, Any]:
    """`report.finding_json` with absolute paths: the caller's working folder is not ours."""
    out = finding_json(f)
    out["path"] = f.path
    for item, rel in zip(out["related"], f.related, strict=True):
        item["path"] = rel.path
    return out


def _counts(found: list[Finding]) -> dict[str, int]:
    counts = {"error": 0, "warning": 0, "information": 0, "hint": 0}
    for f in found:
        counts[f.severity.label] += 1
    return counts


# --- MCP ------------------------------------------------------------------------------------------
def build_server(tools: AgentTools) -> Any:
    """An `MCPServer` with the four tools; raises ImportError when the SDK (2.x) is missing."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations
    from pydantic import Field

    from . import __version__

    server = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    def call(fn: Any, *args: Any) -> dict[str, Any]:
        try:
            return fn(*args)
        except ValueError as exc:  # the caller's mistake: shown to the model as an is_error result
            raise ToolError(str(exc)) from exc

    @server.tool(annotations=read_only, description=(
        "Find the skills and reference sheets for a task. Give the task as a sentence; results come "
        "best first with id, name, kind, uri, score, description, the route from a top router and "
        "why it matched; `confident` is false when nothing matched well."))
    def route(query: Annotated[str, Field(description="the task, in words")],
              limit: Annotated[int, Field(description="how many results (1-50)", ge=1, le=50)] = 5,
              ) -> dict[str, Any]:
        return call(tools.route, query, limit)

    @server.tool(name="list", annotations=read_only, description=(
        "Every skill and sheet of the served folders: id, name, kind, uri and description."))
    def list_() -> dict[str, Any]:
        return call(tools.list_all)

    @server.tool(annotations=read_only, description=(
        "The text of one skill or sheet, by id (from route or list, e.g. 'plugin/skill' or "
        "'plugin/skill/sheet.md') or by name; a skill also lists its sheets."))
    def resolve(id: Annotated[str | None, Field(description="id from route or list")] = None,  # noqa: A002
                name: Annotated[str | None, Field(description="skill or sheet name")] = None,
                ) -> dict[str, Any]:
        return call(tools.resolve, id, name)

    @server.tool(annotations=read_only, description=(
        "Problems in skills, sheets and plugin manifests: broken links, dead routes, front matter, "
        "manifest fields. `path` is a file or folder inside the served folders (absolute or "
        "relative to one); without it the whole tree is checked. Each finding has path, range "
        "(0-based), code, severity and message."))
    def check(path: Annotated[str | None, Field(description="file or folder to check")] = None,
              ) -> dict[str, Any]:
        return call(tools.check, path)

    return server


def serve_mcp(roots: list[str]) -> int:
    """Serve until stdin closes. Exit status 2 when the SDK is missing or a root is not a folder."""
    try:
        import mcp.server.mcpserver  # noqa: F401
    except ImportError:
        print(f"skill-lsp: {INSTALL_HINT}", file=sys.stderr)
        return 2
    missing = [r for r in roots if not os.path.isdir(r)]
    if missing:
        print(f"skill-lsp: not a folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    ix = SkillIndex.from_roots(roots)
    tools = AgentTools(ix)
    server = build_server(tools)
    watcher = _start_watcher(tools)
    try:
        server.run("stdio")
    finally:
        if watcher is not None:
            watcher.stop()
    return 0


def _start_watcher(tools: AgentTools) -> "TreeWatcher | None":
    try:
        from .watch import TreeWatcher
    except ImportError:
        return None
    ix = tools.ix
    ignore = sorted({g for s in ix.root_settings.values() for g in s.ignore})
    debounce = min(s.debounce_ms for s in ix.root_settings.values()) / 1000 if ix.root_settings else 0.15
    watcher = TreeWatcher(tools.on_batch, ignore=ignore, debounce_s=debounce)
    for root in ix.roots:
        watcher.add_root(root)
    return watcher
