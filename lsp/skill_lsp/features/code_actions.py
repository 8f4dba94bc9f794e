"""Quick fixes: each Finding.fix becomes a code action attached to its diagnostic.

A fix travels in Diagnostic.data (see diagnostics.fix_data), so the action is built from what the
client shows; findings the client did not send back are recomputed from the index.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types as lsp

from ..model import Finding, Fix, Span
from .context import Ctx
from .diagnostics import SOURCE, findings_of, to_diagnostic

DocumentChange = lsp.TextDocumentEdit | lsp.CreateFile | lsp.RenameFile


def fix_from_data(data: Any) -> Fix | None:
    """Rebuild a Fix from its JSON form; None when the data is not ours or is malformed."""
    try:
        edits = tuple((e["path"], Span(*[int(x) for x in e["span"]]), str(e["text"])) for e in data.get("edits", ()))
        create = tuple((c["path"], str(c["text"])) for c in data.get("create", ()))
        rename = tuple((r["old"], r["new"]) for r in data.get("rename", ()))
        return Fix(str(data["title"]), edits, create, rename)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def fix_changes(ctx: Ctx, fix: Fix) -> list[DocumentChange]:
    """Document changes of one fix: created files first, then text edits, then renames."""
    out: list[DocumentChange] = []
    zero = lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=0, character=0))
    for path, text in fix.create:
        uri = ctx.uri_of(path)
        out.append(lsp.CreateFile(uri=uri, options=lsp.CreateFileOptions(ignore_if_exists=True)))
        out.append(lsp.TextDocumentEdit(text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=uri, version=None),
                                        edits=[lsp.TextEdit(range=zero, new_text=text)]))
    by_path: dict[str, list[tuple[Span, str]]] = {}
    for path, span, text in fix.edits:
        by_path.setdefault(path, []).append((span, text))
    for path in sorted(by_path):
        out.append(lsp.TextDocumentEdit(
            text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=ctx.uri_of(path), version=ctx.version_of(path)),
            edits=[lsp.TextEdit(range=ctx.range(path, span), new_text=text) for span, text in sorted(by_path[path])],
        ))
    for old, new in fix.rename:
        out.append(lsp.RenameFile(old_uri=ctx.uri_of(old), new_uri=ctx.uri_of(new)))
    return out


def _overlaps(a: Span, b: Span) -> bool:
    return (a.start_line, a.start_col) <= (b.end_line, b.end_col) and (b.start_line, b.start_col) <= (a.end_line, a.end_col)


def _action(ctx: Ctx, fix: Fix, diag: lsp.Diagnostic, preferred: bool) -> lsp.CodeAction:
    return lsp.CodeAction(title=fix.title, kind=lsp.CodeActionKind.QuickFix, diagnostics=[diag],
                          is_preferred=preferred or None,
                          edit=lsp.WorkspaceEdit(document_changes=fix_changes(ctx, fix)))


def _disable_action(ctx: Ctx, path: str, code: str, line: int, diag: lsp.Diagnostic) -> lsp.CodeAction | None:
    """`<!-- skill-lsp: disable=CODE -->` at the end of the line: for a deliberate exception."""
    doc = ctx.doc(path)
    lines = ctx.lines(path)
    if doc is None or line < doc.parsed.body_start_line or line >= len(lines):
        return None  # never inside the YAML front matter
    text = lines[line]
    pos = ctx.position(path, line, len(text))
    comment = ("" if text.endswith(" ") or not text else " ") + f"<!-- skill-lsp: disable={code} -->"
    edit = lsp.TextDocumentEdit(
        text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=ctx.uri_of(path), version=ctx.version_of(path)),
        edits=[lsp.TextEdit(range=lsp.Range(start=pos, end=pos), new_text=comment)],
    )
    return lsp.CodeAction(title=f"Disable {code} on this line", kind=lsp.CodeActionKind.QuickFix,
                          diagnostics=[diag], edit=lsp.WorkspaceEdit(document_changes=[edit]))


def code_actions(ctx: Ctx, path: str, rng: lsp.Range, context: lsp.CodeActionContext,
                 findings: list[Finding] | None = None) -> list[lsp.CodeAction]:
    if context.only and not any(str(k).startswith("quickfix") for k in context.only):
        return []
    if ctx.doc(path) is None:
        return []
    span = ctx.span_of(path, rng)
    actions: list[lsp.CodeAction] = []
    covered: set[tuple[str, int, int, int, int]] = set()
    for diag in context.diagnostics:
        if diag.source != SOURCE or not isinstance(diag.data, dict):
            continue
        fixes = [f for f in (fix_from_data(d) for d in diag.data.get("fixes", ())) if f is not None]
        for i, fix in enumerate(fixes):
            actions.append(_action(ctx, fix, diag, preferred=i == 0 and len(fixes) == 1))
        covered.add(_key(diag))
        code = str(diag.code or "")
        if code:
            d_span = ctx.span_of(path, diag.range)
            extra = _disable_action(ctx, path, code, d_span.start_line, diag)
            if extra:
                actions.append(extra)
    for f in findings if findings is not None else findings_of(ctx, path):
        if not _overlaps(f.span, span):
            continue
        diag = to_diagnostic(ctx, f)
        if _key(diag) in covered:
            continue
        covered.add(_key(diag))
        for i, fix in enumerate(f.fixes):
            actions.append(_action(ctx, fix, diag, preferred=i == 0 and len(f.fixes) == 1))
        extra = _disable_action(ctx, path, f.code, f.span.start_line, diag)
        if extra:
            actions.append(extra)
    return actions


def _key(diag: lsp.Diagnostic) -> tuple[str, int, int, int, int]:
    r = diag.range
    return str(diag.code), r.start.line, r.start.character, r.end.line, r.end.character
