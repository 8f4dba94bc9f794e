"""`skill-lsp check`: index the given paths, print findings, exit 1 on errors."""

from __future__ import annotations

import argparse
import os
import sys

from .index import SkillIndex
from .model import DocKind, Finding, Severity
from .report import summary, to_json, to_sarif, to_text
from .rules import check_all


def build_index(paths: list[str]) -> tuple[SkillIndex | None, str | None]:
    missing = [p for p in paths if not os.path.isdir(p)]
    if missing:
        return None, f"not a folder: {', '.join(missing)}"
    return SkillIndex.from_roots(paths), None


def render(findings: list[Finding], ix: SkillIndex, fmt: str) -> str:
    if fmt == "json":
        return to_json(findings)
    if fmt == "sarif":
        return to_sarif(findings)
    skills = sum(1 for d in ix.docs.values() if d.kind is DocKind.SKILL)
    sheets = sum(1 for d in ix.docs.values() if d.kind is DocKind.SHEET)
    body = to_text(findings)
    tail = summary(findings, len(ix.docs), skills, sheets)
    return f"{body}\n{tail}" if body else tail


def run_check(args: argparse.Namespace) -> int:
    ix, error = build_index(args.paths)
    if ix is None:
        print(f"skill-lsp: {error}", file=sys.stderr)
        return 2
    for root, errors in ix.settings_errors.items():
        for e in errors:
            print(f"skill-lsp: settings of {root}: {e}", file=sys.stderr)
    findings = check_all(ix)
    print(render(findings, ix, args.format))
    return 1 if any(f.severity is Severity.ERROR for f in findings) else 0


def run_watch(args: argparse.Namespace) -> int:
    try:
        from .watch import watch_check
    except ImportError as exc:  # pragma: no cover - watch is part of the package
        print(f"skill-lsp: --watch is unavailable: {exc}", file=sys.stderr)
        return 2
    return watch_check(args)
