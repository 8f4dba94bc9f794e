"""The reference graph as a call hierarchy: which documents send an agent here (incoming), and
where this document sends it (outgoing).

Editors already know how to walk a call hierarchy (VS Code's "Show Call Hierarchy", Neovim's
`vim.lsp.buf.incoming_calls()`), so a skill author can follow routes up to the top router and down
to the sheets without a view of our own. The edges are the resolved references of the index, the
same ones "find references" lists: routing-table rows, `Route to:` lines, links and skill mentions.
"""

from __future__ import annotations

from lsprotocol import types as lsp

from ..index import SkillIndex
from ..model import DocKind, Span
from .context import Ctx, reference_at, target_path
from .navigation import referring

SYMBOL_KIND: dict[DocKind, lsp.SymbolKind] = {
    DocKind.SKILL: lsp.SymbolKind.Module,
    DocKind.SHEET: lsp.SymbolKind.File,
    DocKind.COMMAND: lsp.SymbolKind.Function,
    DocKind.AGENT: lsp.SymbolKind.Object,
}


def prepare(ctx: Ctx, path: str, position: lsp.Position) -> list[lsp.CallHierarchyItem] | None:
    """The document a reference under the cursor leads to, or else the document itself."""
    line, col = ctx.to_points(path, position)
    res = reference_at(ctx.ix, path, line, col)
    if res is not None:
        target = target_path(ctx.ix, res)
        return [item(ctx, target)] if target is not None and target in ctx.ix.docs else None
    return [item(ctx, path)] if path in ctx.ix.docs else None


def item(ctx: Ctx, path: str) -> lsp.CallHierarchyItem:
    ix = ctx.ix
    doc = ix.docs[path]
    lines = ctx.lines(path)
    last = max(0, len(lines) - 1)
    whole = Span(0, 0, last, len(lines[last]) if lines else 0)
    fm = doc.parsed.front_matter
    name_key = fm.keys.get("name") if fm is not None else None
    selection = name_key.value_span if name_key is not None else Span(0, 0, 0, 0)
    return lsp.CallHierarchyItem(
        name=ix.name_of(path), kind=SYMBOL_KIND.get(doc.kind, lsp.SymbolKind.File), detail=ix.doc_id(path),
        uri=ctx.uri_of(path), range=ctx.range(path, whole), selection_range=ctx.range(path, selection),
        data=path,
    )


def incoming(ctx: Ctx, path: str) -> list[lsp.CallHierarchyIncomingCall]:
    """Every document with a reference that resolves to `path`, with where those references are."""
    spans: dict[str, list[Span]] = {}
    for src, res in referring(ctx.ix, path):
        if src != path and src in ctx.ix.docs:
            spans.setdefault(src, []).append(res.ref.span)
    return [lsp.CallHierarchyIncomingCall(from_=item(ctx, src), from_ranges=[ctx.range(src, s) for s in ss])
            for src, ss in spans.items()]


def outgoing(ctx: Ctx, path: str) -> list[lsp.CallHierarchyOutgoingCall]:
    """Every document `path` leads to, in the order it first names them, with where it does."""
    spans = _targets(ctx.ix, path)
    return [lsp.CallHierarchyOutgoingCall(to=item(ctx, target), from_ranges=[ctx.range(path, s) for s in ss])
            for target, ss in spans.items()]


def _targets(ix: SkillIndex, path: str) -> dict[str, list[Span]]:
    spans: dict[str, list[Span]] = {}
    for res in sorted(ix.resolutions.get(path, ()), key=lambda r: r.ref.span):
        target = target_path(ix, res)
        if target is not None and target != path and target in ix.docs:
            spans.setdefault(target, []).append(res.ref.span)
    return spans


def item_path(ctx: Ctx, it: lsp.CallHierarchyItem, path_of_uri: str | None) -> str | None:
    """The document an item stands for: its `data` when the client kept it, else its URI."""
    data = it.data
    if isinstance(data, str) and data in ctx.ix.docs:
        return data
    return path_of_uri if path_of_uri in ctx.ix.docs else None
