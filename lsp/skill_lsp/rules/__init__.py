"""All checks of one document, with the settings (severity, disable) and disable comments applied."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import Finding, Span
from .base import FILE_START, finding
from .budgets import check_budgets
from .frontmatter import check_front_matter
from .graph import check_graph
from .manifests import check_manifest, manifest_paths
from .references import check_references
from .registry import BY_CODE, RULES, Rule
from .routability import check_routability

if TYPE_CHECKING:
    from ..index import SkillIndex

__all__ = ["BY_CODE", "RULES", "Rule", "check_path", "check_all"]


def check_path(ix: SkillIndex, path: str) -> list[Finding]:
    """Every finding of one file: what reading it, parsing it and resolving it revealed."""
    if path.endswith(".json"):
        return check_manifest(ix, path)
    settings = ix.settings_for(path)
    raw: list[Finding] = []
    problem = ix.read_problems.get(path)
    if problem:
        raw.append(finding(problem[0], path, FILE_START, problem[1]))
    doc = ix.docs.get(path)
    if doc is not None:
        raw.extend(finding(p.code, path, p.span, p.message) for p in doc.parsed.problems)
        raw.extend(check_front_matter(doc, settings))
        raw.extend(check_references(ix, doc))
        raw.extend(check_graph(ix, doc))
        raw.extend(check_budgets(doc, settings))
        if settings.routability:
            raw.extend(check_routability(ix, doc))
    out = []
    disabled = doc.parsed.disabled if doc else {}
    file_disabled = doc.parsed.file_disabled if doc else frozenset()
    for f in raw:
        sev = settings.severity_of(f.code, f.severity)
        if sev is None or f.code in file_disabled or "*" in file_disabled:
            continue
        codes = disabled.get(f.span.start_line)
        if codes and (None in codes or f.code in codes):
            continue
        out.append(f if sev == f.severity else _with_severity(f, sev))
    out.sort(key=Finding.sort_key)
    return out


def _with_severity(f: Finding, sev) -> Finding:  # noqa: ANN001
    return Finding(f.path, f.span, f.code, sev, f.message, f.related, f.fixes, f.data)


def check_all(ix: SkillIndex) -> list[Finding]:
    paths = set(ix.docs) | set(ix.read_problems)
    out: list[Finding] = []
    for p in sorted(paths):
        out.extend(check_path(ix, p))
    for m in manifest_paths(ix):
        out.extend(check_manifest(ix, m))
    for path, code, message in ix.walk_problems:
        out.append(finding(code, path, Span(0, 0, 0, 0), message))
    return out
