"""Findings as text lines, JSON and SARIF 2.1.0 (for the CLI and the MCP bridge)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

from . import __version__
from .model import Finding, Severity
from .rules.registry import BY_CODE, RULES


def display_path(path: str, base: str | None = None) -> str:
    base = base or os.getcwd()
    try:
        rel = os.path.relpath(path, base)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def to_text(findings: list[Finding], base: str | None = None) -> str:
    lines = []
    for f in sorted(findings, key=Finding.sort_key):
        lines.append(f"{display_path(f.path, base)}:{f.span.start_line + 1}:{f.span.start_col + 1}: "
                     f"{f.code} [{f.severity.label}] {f.message}")
    return "\n".join(lines)


def summary(findings: list[Finding], files: int, skills: int, sheets: int) -> str:
    counts = {s: 0 for s in Severity}
    for f in findings:
        counts[f.severity] += 1
    return (f"{counts[Severity.ERROR]} errors, {counts[Severity.WARNING]} warnings, "
            f"{counts[Severity.INFORMATION] + counts[Severity.HINT]} notes "
            f"in {files} files ({skills} skills, {sheets} sheets)")


def finding_json(f: Finding, base: str | None = None) -> dict[str, Any]:
    return {
        "path": display_path(f.path, base),
        "range": f.span.to_json(),
        "code": f.code,
        "severity": f.severity.label,
        "message": f.message,
        "related": [{"path": display_path(r.path, base), "range": r.span.to_json(), "message": r.message}
                    for r in f.related],
        "fixes": [x.title for x in f.fixes],
    }


def to_json(findings: Iterable[Finding], base: str | None = None) -> str:
    return json.dumps([finding_json(f, base) for f in sorted(findings, key=Finding.sort_key)], indent=2)


_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning",
                Severity.INFORMATION: "note", Severity.HINT: "note"}


def to_sarif(findings: list[Finding], base: str | None = None) -> str:
    used = sorted({f.code for f in findings})
    rules = [r for r in RULES if r.code in used]
    index = {r.code: i for i, r in enumerate(rules)}

    def region(f: Finding) -> dict[str, int]:
        return {"startLine": f.span.start_line + 1, "startColumn": f.span.start_col + 1,
                "endLine": f.span.end_line + 1, "endColumn": max(f.span.end_col + 1, 1)}

    results = []
    for f in sorted(findings, key=Finding.sort_key):
        results.append({
            "ruleId": f.code,
            "ruleIndex": index[f.code],
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f.message},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": display_path(f.path, base).replace(os.sep, "/")},
                "region": region(f)}}],
            "relatedLocations": [{"physicalLocation": {
                "artifactLocation": {"uri": display_path(r.path, base).replace(os.sep, "/")},
                "region": {"startLine": r.span.start_line + 1}}, "message": {"text": r.message}}
                for r in f.related],
        })
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "skill-lsp", "version": __version__, "informationUri": "https://github.com/skill-lsp/skill-lsp",
                "rules": [{"id": r.code, "name": r.name, "shortDescription": {"text": r.summary},
                           "fullDescription": {"text": r.why}, "helpUri": r.url,
                           "defaultConfiguration": {"level": _SARIF_LEVEL[r.severity]}} for r in rules],
            }},
            "results": results,
        }],
    }
    return json.dumps(doc, indent=2)


def rules_table() -> str:
    width = max(len(r.name) for r in RULES)
    return "\n".join(f"{r.code}  {r.severity.label:<11}  {r.name:<{width}}  {r.summary}" for r in RULES)


def rule_doc(code: str) -> str | None:
    r = BY_CODE.get(code.upper())
    if r is None:
        return None
    return (f"{r.code} {r.name} ({r.severity.label})\n{r.summary}\n\nWhy: {r.why}\n\n"
            f"Bad:\n{r.bad}\nGood:\n{r.good}")
