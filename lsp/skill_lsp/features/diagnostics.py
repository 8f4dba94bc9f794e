"""Findings -> LSP diagnostics, and the store that decides what to (re)publish.

One store serves push and pull alike: it caches each file's findings until an index change
touches the file, and remembers what the client was last given so that only changes go out.
"""

from __future__ import annotations

import hashlib
from typing import Any

from lsprotocol import types as lsp

from ..model import Finding, Fix
from ..rules import BY_CODE, check_path
from .context import Ctx

SOURCE = "skill-lsp"


def fix_data(fix: Fix) -> dict[str, Any]:
    """A fix as plain JSON, carried in Diagnostic.data so code actions can be built from it."""
    return {
        "title": fix.title,
        "edits": [{"path": p, "span": list(_span_tuple(s)), "text": t} for p, s, t in fix.edits],
        "create": [{"path": p, "text": t} for p, t in fix.create],
        "rename": [{"old": o, "new": n} for o, n in fix.rename],
    }


def _span_tuple(span) -> tuple[int, int, int, int]:  # noqa: ANN001 - a model Span
    return span.start_line, span.start_col, span.end_line, span.end_col


def to_diagnostic(ctx: Ctx, f: Finding) -> lsp.Diagnostic:
    rule = BY_CODE.get(f.code)
    related = [lsp.DiagnosticRelatedInformation(location=ctx.location(r.path, r.span), message=r.message)
               for r in f.related]
    data: dict[str, Any] = {"code": f.code}
    if f.fixes:
        data["fixes"] = [fix_data(x) for x in f.fixes]
    return lsp.Diagnostic(
        range=ctx.range(f.path, f.span),
        message=f.message,
        severity=lsp.DiagnosticSeverity(int(f.severity)),
        code=f.code,
        code_description=lsp.CodeDescription(href=rule.url) if rule else None,
        source=SOURCE,
        related_information=related or None,
        data=data,
    )


def findings_of(ctx: Ctx, path: str) -> list[Finding]:
    return check_path(ctx.ix, path)


def diagnostics_of(ctx: Ctx, path: str) -> list[lsp.Diagnostic]:
    return [to_diagnostic(ctx, f) for f in findings_of(ctx, path)]


def result_id(diags: list[lsp.Diagnostic]) -> str:
    """A stable id of one file's report, so unchanged reports can be answered as unchanged."""
    h = hashlib.blake2b(digest_size=12)
    for d in diags:
        h.update(repr((d.code, d.range.start.line, d.range.start.character, d.range.end.line,
                       d.range.end.character, d.message, d.severity)).encode())
    return h.hexdigest()


def checked_paths(ctx: Ctx) -> set[str]:
    """Every file that can have findings: documents and files that could not be read."""
    return set(ctx.ix.docs) | set(ctx.ix.read_problems)


class DiagnosticStore:
    """Findings per file (cached until touched) and what was last handed to the client."""

    def __init__(self) -> None:
        self.findings: dict[str, list[Finding]] = {}
        self.published: dict[str, list[lsp.Diagnostic]] = {}

    def reset(self, findings: dict[str, list[Finding]] | None = None) -> None:
        self.findings = dict(findings or {})

    def invalidate(self, paths: set[str]) -> None:
        for p in paths:
            self.findings.pop(p, None)

    def get(self, ctx: Ctx, path: str) -> list[Finding]:
        found = self.findings.get(path)
        if found is None:
            if path not in ctx.ix.docs and path not in ctx.ix.read_problems:
                return []
            found = findings_of(ctx, path)
            self.findings[path] = found
        return found

    def diagnostics(self, ctx: Ctx, path: str) -> list[lsp.Diagnostic]:
        return [to_diagnostic(ctx, f) for f in self.get(ctx, path)]

    def changes(self, ctx: Ctx, paths: set[str], always: set[str] = frozenset()) -> list[tuple[str, list[lsp.Diagnostic]]]:
        """(path, diagnostics) for each of `paths` whose diagnostics differ from the last ones sent.

        Files in `always` are sent even when unchanged (the open file being edited: its version moves).
        Files that left the index get an empty list once, to clear what the client shows.
        """
        out = []
        for p in sorted(paths | always):
            gone = p not in ctx.ix.docs and p not in ctx.ix.read_problems
            diags = [] if gone else self.diagnostics(ctx, p)
            before = self.published.get(p)
            if before is None and not diags and p not in always:
                continue
            if before == diags and p not in always:
                continue
            if diags:
                self.published[p] = diags
            else:
                self.published.pop(p, None)
            out.append((p, diags))
        return out

    def stale(self, ctx: Ctx) -> set[str]:
        """Published files that are no longer in the index (deleted, renamed, root removed)."""
        return {p for p in self.published if p not in ctx.ix.docs and p not in ctx.ix.read_problems}


def workspace_report(ctx: Ctx, store: DiagnosticStore, previous: dict[str, str]) -> lsp.WorkspaceDiagnosticReport:
    """Every file with findings, and every file the client had findings for that now has none."""
    items: list[lsp.WorkspaceFullDocumentDiagnosticReport | lsp.WorkspaceUnchangedDocumentDiagnosticReport] = []
    seen: set[str] = set()
    for path in sorted(checked_paths(ctx)):
        findings = store.get(ctx, path)
        uri = ctx.uri_of(path)
        seen.add(uri)
        if not findings and uri not in previous:
            continue
        diags = [to_diagnostic(ctx, f) for f in findings]
        rid = result_id(diags)
        version = ctx.version_of(path)
        if previous.get(uri) == rid:
            items.append(lsp.WorkspaceUnchangedDocumentDiagnosticReport(uri=uri, result_id=rid, version=version))
        else:
            items.append(lsp.WorkspaceFullDocumentDiagnosticReport(uri=uri, items=diags, result_id=rid,
                                                                   version=version))
    for uri in previous:
        if uri not in seen:  # the file left the index: clear it
            items.append(lsp.WorkspaceFullDocumentDiagnosticReport(uri=uri, items=[], version=None))
    return lsp.WorkspaceDiagnosticReport(items=items)


def document_report(ctx: Ctx, store: DiagnosticStore, path: str, previous: str | None
                    ) -> lsp.RelatedFullDocumentDiagnosticReport | lsp.RelatedUnchangedDocumentDiagnosticReport:
    diags = store.diagnostics(ctx, path)
    rid = result_id(diags)
    if previous == rid:
        return lsp.RelatedUnchangedDocumentDiagnosticReport(result_id=rid)
    return lsp.RelatedFullDocumentDiagnosticReport(items=diags, result_id=rid)

