"""Code lenses: above a skill, sheet, command or agent, how many references lead to it and which
routers send there ("3 references · routed from using-kitchen").

A lens carries the command `skill-lsp.showReferences` with (uri, position, locations), the shape
of VS Code's `editor.action.showReferences`: the editor clients we ship handle it themselves (the
VS Code extension shows the references peek, the Neovim config fills the quickfix list). It is not
a server command: a client that cannot show it still shows the count.
"""

from __future__ import annotations

from lsprotocol import types as lsp

from ..model import DocKind
from .context import Ctx
from .navigation import referring

SHOW_REFERENCES = "skill-lsp.showReferences"
LENS_KINDS = (DocKind.SKILL, DocKind.SHEET, DocKind.COMMAND, DocKind.AGENT)
ROUTER_NAMES = 3  # routers named in a lens title; more are counted


def lenses(ctx: Ctx, path: str) -> list[lsp.CodeLens]:
    ix = ctx.ix
    doc = ix.docs.get(path)
    if doc is None or doc.kind not in LENS_KINDS:
        return []
    refs = [(src, res) for src, res in referring(ix, path) if src != path]
    routers: list[str] = []
    for src, res in refs:
        if res.ref.kind.routing and src not in routers:
            routers.append(src)
    title = _title(len(refs), len({src for src, _res in refs}), [ix.name_of(r) for r in routers])
    top = lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=0, character=0))
    locations = [ctx.location(src, res.ref.span) for src, res in refs]
    command = lsp.Command(title=title, command=SHOW_REFERENCES,
                          arguments=[ctx.uri_of(path), top.start, locations])
    return [lsp.CodeLens(range=top, command=command)]


def _title(n: int, files: int, routers: list[str]) -> str:
    if n == 0:
        return "no references"
    title = f"{n} reference{'s' if n != 1 else ''}"
    if files > 1:
        title += f" in {files} files"
    if routers:
        shown = ", ".join(routers[:ROUTER_NAMES])
        more = len(routers) - ROUTER_NAMES
        title += f" · routed from {shown}" + (f" and {more} more" if more > 0 else "")
    return title
