"""Go to definition, find references, highlights of one target's references, document links, the heading outline and workspace symbols."""

from __future__ import annotations

import re

from lsprotocol import types as lsp
from rapidfuzz import fuzz, process

from ..index import SkillIndex
from ..model import DocKind, Heading, Resolution, Span, Status, TargetKind
from ..route import router_for
from .context import FOUND, Ctx, heading_span, path_uri, reference_at, target_path

SYMBOL_LIMIT = 200


def definition(ctx: Ctx, path: str, position: lsp.Position) -> list[lsp.Location] | None:
    line, col = ctx.to_points(path, position)
    res = reference_at(ctx.ix, path, line, col)
    if res is None:
        return None
    if res.status is Status.AMBIGUOUS:
        # every candidate: the editor lets the user pick
        return [ctx.location(p) for p in res.candidates if p in ctx.ix.files] or None
    target = target_path(ctx.ix, res)
    if target is None:
        if res.target is not None and res.target.kind is TargetKind.DIR and res.status is Status.OK:
            return [lsp.Location(uri=ctx.uri_of(res.target.key), range=_zero())]
        return None
    return [ctx.location(target, heading_span(ctx.ix, target, res.ref.anchor))]


def _zero() -> lsp.Range:
    return lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=0, character=0))


def target_key_at(ctx: Ctx, path: str, line: int, col: int) -> str | None:
    """What "find references" looks for at (line, col): a reference's target, else this document."""
    res = reference_at(ctx.ix, path, line, col)
    if res is not None:
        if res.target is None or res.status not in FOUND + (Status.AMBIGUOUS,):
            return None
        return res.target.key
    return path if path in ctx.ix.docs else None


def references(ctx: Ctx, path: str, position: lsp.Position, include_declaration: bool = False) -> list[lsp.Location]:
    line, col = ctx.to_points(path, position)
    key = target_key_at(ctx, path, line, col)
    if key is None:
        return []
    out = [ctx.location(p, res.ref.span) for p, res in referring(ctx.ix, key)]
    if include_declaration:
        out.insert(0, declaration(ctx, key))
    return out


def highlights(ctx: Ctx, path: str, position: lsp.Position) -> list[lsp.DocumentHighlight] | None:
    """Every reference of this document to the target of the one under the cursor (a skill named
    in a table, an arrow and a link lights up together)."""
    line, col = ctx.to_points(path, position)
    res = reference_at(ctx.ix, path, line, col)
    if res is None or res.target is None or res.status not in FOUND:
        return None
    key = res.target.key
    return [lsp.DocumentHighlight(range=ctx.range(path, r.ref.span), kind=lsp.DocumentHighlightKind.Read)
            for r in sorted(ctx.ix.resolutions.get(path, ()), key=lambda r: r.ref.span)
            if r.target is not None and r.target.key == key and r.status in FOUND]


def referring(ix: SkillIndex, key: str) -> list[tuple[str, Resolution]]:
    """(path, resolution) of every reference that resolves to `key`, in file and line order."""
    out = []
    for p in sorted(ix.referrers(key)):
        for res in ix.resolutions.get(p, ()):
            if res.target is not None and res.target.key == key and res.status in FOUND:
                out.append((p, res))
    out.sort(key=lambda item: (item[0], item[1].ref.span))
    return out


def declaration(ctx: Ctx, key: str) -> lsp.Location:
    doc = ctx.ix.docs.get(key)
    if doc is not None and doc.kind is DocKind.SKILL:
        fm = doc.parsed.front_matter
        if fm is not None and "name" in fm.keys:
            return ctx.location(key, fm.keys["name"].value_span)
    return lsp.Location(uri=ctx.uri_of(key), range=_zero())


def document_links(ctx: Ctx, path: str, tooltips: bool = False) -> list[lsp.DocumentLink]:
    ix = ctx.ix
    out = []
    for res in ix.resolutions.get(path, ()):
        if res.status not in FOUND or res.target is None:
            continue
        target = target_path(ix, res)
        uri = None
        if target is not None:
            uri = ctx.uri_of(target)
            span = heading_span(ix, target, res.ref.anchor)
            if span is not None:
                uri += f"#L{span.start_line + 1}"
        elif res.target.kind is TargetKind.DIR:
            uri = ctx.uri_of(res.target.key)
        if uri is None:
            continue
        tip = ix.doc_id(target) if (tooltips and target in ix.docs) else None
        out.append(lsp.DocumentLink(range=ctx.range(path, res.ref.span), target=uri, tooltip=tip))
    return out


def document_symbols(ctx: Ctx, path: str) -> list[lsp.DocumentSymbol]:
    """The heading outline, nested by level; each heading's range runs to its section's end."""
    doc = ctx.doc(path)
    if doc is None:
        return []
    lines = ctx.lines(path)
    last_line = max(0, len(lines) - 1)
    end_span = Span(last_line, len(lines[last_line]) if lines else 0, last_line, len(lines[last_line]) if lines else 0)
    heads = doc.parsed.headings
    roots: list[lsp.DocumentSymbol] = []
    stack: list[tuple[Heading, lsp.DocumentSymbol]] = []
    for i, h in enumerate(heads):
        end = end_span
        for later in heads[i + 1:]:
            if later.level <= h.level:
                prev = max(later.span.start_line - 1, h.span.end_line)
                end = Span(prev, len(lines[prev]) if prev < len(lines) else 0, prev,
                           len(lines[prev]) if prev < len(lines) else 0)
                break
        full = Span(h.span.start_line, h.span.start_col, end.end_line, end.end_col)
        sym = lsp.DocumentSymbol(
            name=h.text or "(empty heading)", detail="#" * h.level, kind=lsp.SymbolKind.String,
            range=ctx.range(path, full), selection_range=ctx.range(path, h.span), children=[],
        )
        while stack and stack[-1][0].level >= h.level:
            stack.pop()
        if stack:
            stack[-1][1].children.append(sym)
        else:
            roots.append(sym)
        stack.append((h, sym))
    return roots


TASK_WORDS = 3  # a query of this many words reads like a task, not like a name


def reads_like_task(query: str) -> bool:
    return len(re.findall(r"[^\W_]+", query)) >= TASK_WORDS


def workspace_symbols(ix: SkillIndex, query: str, limit: int = SYMBOL_LIMIT,
                      uri_of=path_uri) -> list[lsp.WorkspaceSymbol]:  # noqa: ANN001 - Callable[[str], str]
    """Skills and sheets for `query`, best first.

    A query that reads like a task ("my dough does not rise overnight") is routed: the answer is
    the router's ranking, each symbol's container naming the route that leads to it, so agents
    that can only send standard requests (Claude Code's LSP tool) get the routed answer. A short
    query keeps fuzzy matching on names, as editors expect from a symbol search.
    """
    query = query.strip()
    if reads_like_task(query):
        return _routed_symbols(ix, query, limit, uri_of)
    entries: list[tuple[str, str]] = []  # (path, name)
    for p, d in ix.docs.items():
        if d.kind in (DocKind.SKILL, DocKind.SHEET):
            entries.append((p, ix.name_of(p)))
    if query:
        choices = {i: f"{name} {ix.doc_id(p)}" for i, (p, name) in enumerate(entries)}
        scored = process.extract(query, choices, scorer=fuzz.WRatio, limit=limit, score_cutoff=60)
        # an exact or prefix hit on the name beats a fuzzy hit on the id
        ranked = sorted(scored, key=lambda s: (not entries[s[2]][1].startswith(query.lower()), -s[1]))
        picked = [entries[s[2]] for s in ranked]
    else:
        picked = sorted(entries, key=lambda e: (ix.docs[e[0]].kind is not DocKind.SKILL, e[1]))[:limit]
    out = []
    for p, name in picked:
        d = ix.docs[p]
        skill = ix.skills.get(d.skill_dir) if d.skill_dir else None
        if d.kind is DocKind.SKILL:
            container = ix.plugin_name_of(p)
        else:
            container = ix.doc_id(skill.path) if skill else None
        out.append(_symbol(ix, p, name, container, uri_of))
    return out


def _symbol(ix: SkillIndex, path: str, name: str, container: str | None, uri_of) -> lsp.WorkspaceSymbol:  # noqa: ANN001
    kind = lsp.SymbolKind.Module if ix.docs[path].kind is DocKind.SKILL else lsp.SymbolKind.File
    return lsp.WorkspaceSymbol(name=name, kind=kind, container_name=container,
                               location=lsp.Location(uri=uri_of(path), range=_zero()))


def _routed_symbols(ix: SkillIndex, query: str, limit: int, uri_of) -> list[lsp.WorkspaceSymbol]:  # noqa: ANN001
    router = router_for(ix)
    answer = router.route(query, limit=min(limit, 20))
    out = []
    for hit in answer.hits:
        route = router.route_of(hit.path)
        container = " → ".join(ix.name_of(p) for p in route) if len(route) > 1 else ix.doc_id(hit.path)
        out.append(_symbol(ix, hit.path, ix.name_of(hit.path), container, uri_of))
    return out

