"""LK and RT001-RT003, RT007: what each resolved reference of a document says about it."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from rapidfuzz.distance import Levenshtein

from ..model import (
    Doc,
    DocKind,
    Finding,
    Fix,
    Reference,
    RefKind,
    Related,
    Resolution,
    Span,
    Status,
    TargetKind,
)
from .base import FILE_START, finding

if TYPE_CHECKING:
    from ..index import SkillIndex

# Tables whose target column is explicitly about skills, sheets or routes: a dead name there is a
# dead route even without a near miss. Other target columns ("Use", "See") may hold tool names.
STRONG = (RefKind.ROUTE_TO,)
_NUMBERED = re.compile(r"^\d+-")


def check_references(ix: SkillIndex, doc: Doc) -> list[Finding]:
    out: list[Finding] = []
    for res in ix.resolutions.get(doc.path, ()):
        f = _judge(ix, doc, res)
        if f is not None:
            out.append(f)
    return out


def _rel(doc: Doc, target: str) -> str:
    return os.path.relpath(target, os.path.dirname(doc.path)).replace(os.sep, "/")


def _related(ix: SkillIndex, paths: tuple[str, ...], message: str) -> tuple[Related, ...]:
    return tuple(Related(p, FILE_START, message) for p in paths if p in ix.files or p in ix.plugins)


def _judge(ix: SkillIndex, doc: Doc, res: Resolution) -> Finding | None:
    ref = res.ref
    status = res.status
    if status in (Status.OK, Status.IGNORED):
        return None
    if ref.in_code:
        return None  # a decision tree in a code block feeds routing; it is never linted
    span = ref.span
    if ref.kind is RefKind.LINK:
        return _judge_link(ix, doc, res)
    if status is Status.BAD_ANCHOR:
        return _bad_anchor(ix, doc, res)
    if status is Status.CASE:
        if res.target is None or not ref.target.endswith(".md"):
            return None
        actual = _rel(doc, res.target.key)
        if "/" not in ref.target:
            actual = os.path.basename(actual)
        return finding("LK002", doc.path, span, f"`{ref.target}` matches `{actual}` only with other letter case",
                       related=_related(ix, (res.target.key,), "the file on disk"),
                       fixes=(Fix(f"Use `{actual}`", ((doc.path, span, actual),)),))
    name = ref.target
    if status in (Status.MISSING, Status.UNKNOWN_PLUGIN) and _NUMBERED.match(name.rsplit("/", 1)[-1]):
        return None  # `03-design-spec.md`: a numbered document the workflow writes, not a sheet
    if status in (Status.MISSING, Status.UNKNOWN_PLUGIN) and name in _future_names(ix):
        return None  # the tree says this pack or sheet is planned ("(proposed)", "not yet implemented")
    display = ("/" if ref.slash else "") + name
    if status is Status.AMBIGUOUS:
        if not ref.kind.routing:
            return None
        where = ", ".join(ix.doc_id(p) for p in res.candidates[:4])
        return finding("RT003", doc.path, span, f"`{display}` matches several targets ({where}); qualify it",
                       related=_related(ix, res.candidates, "one of the matches"))
    suggestions = [p for p in res.candidates if p in ix.docs or p in ix.plugins]
    meant = [_display_name(ix, doc, p) for p in suggestions]
    hint = f"; did you mean `{meant[0]}`?" if meant else ""
    fixes = tuple(Fix(f"Use `{m}`", ((doc.path, span, m),)) for m in meant[:3])
    related = _related(ix, tuple(suggestions), "did you mean this?")
    if status is Status.UNKNOWN_PLUGIN:
        # A plugin from another marketplace is legal; a near miss, or an unknown name in a
        # namespace this tree uses for its own packs ("axiom-..."), is a stale reference.
        if meant or _in_known_namespace(ix, res.detail):
            return finding("RT002", doc.path, span, f"`{display}` names plugin `{res.detail}`, which does not exist{hint}",
                           related=related, fixes=fixes)
        return None
    # MISSING
    if ref.kind is RefKind.PROSE and ":" in name and not ref.slash:
        # plugin:name whose plugin exists but whose skill does not: a stale cross-pack reference
        return finding("RT001", doc.path, span, f"`{display}`: no such skill in that plugin{hint}",
                       related=related, fixes=fixes)
    if ref.kind.routing:
        strong = ref.kind in STRONG and _explicit(doc, ref)
        if strong or meant or name.endswith(".md") or "/" in name or ":" in name:
            fixes = fixes + _create_sheet_fix(doc, name)
            return finding("RT001", doc.path, span, f"dead route: `{display}` resolves to no skill or sheet{hint}",
                           related=related, fixes=fixes)
        return None
    if "/" in name:
        return None  # a path in a code span is usually an example, not a reference
    if meant and ("-" in name or name.endswith(".md")) and _typo(name, meant[0]) \
            and _same_scope(ix, doc, suggestions[0]):
        return finding("RT007", doc.path, span, f"`{display}` matches no skill or sheet{hint}",
                       related=related, fixes=fixes)
    return None


_FUTURE = re.compile(r"\b(?:proposed|planned|not yet (?:implemented|available|written|built|"
                     r"created|published)|coming soon)\b", re.I)


def _future_names(ix: SkillIndex) -> frozenset[str]:
    """Names that some line of the tree marks as planned: every mention of them is deliberate."""
    cached = ix._graph_cache.get("future_names")
    if cached is not None:
        return cached  # type: ignore[return-value]
    # per document, kept while its resolutions are the same list: an edit re-reads one document
    memo: dict[str, tuple[object, frozenset[str]]] = ix.rule_memo.setdefault("future_names", {})  # type: ignore[assignment]
    names: set[str] = set()
    for path in ix.unresolved_docs:  # (only a name that resolves to nothing can be planned)
        results = ix.resolutions[path]
        hit = memo.get(path)
        if hit is None or hit[0] is not results:
            hit = memo[path] = (results, _planned_in(ix, path, results))
        names |= hit[1]
    if len(memo) > 2 * len(ix.unresolved_docs) + 64:  # documents that left or were mended
        for path in [p for p in memo if p not in ix.unresolved_docs]:
            del memo[path]
    out = frozenset(names)
    ix._graph_cache["future_names"] = out
    return out


def _planned_in(ix: SkillIndex, path: str, results: list) -> frozenset[str]:
    names: set[str] = set()
    lines: list[str] | None = None
    for res in results:
        if res.status not in (Status.MISSING, Status.UNKNOWN_PLUGIN) or res.ref.kind is RefKind.LINK:
            continue
        if lines is None:
            doc = ix.docs.get(path)
            lines = doc.parsed.text.split("\n") if doc else []
        line = res.ref.span.start_line
        if line < len(lines) and _FUTURE.search(lines[line]):
            names.add(res.ref.target)
    return frozenset(names)


def _explicit(doc: Doc, ref: Reference) -> bool:
    """Written as a name on purpose: in a code span, bold or a link, not plain words.

    "Route to `x`" names x; "Route to domain-specific advice" is a sentence.
    """
    span = ref.span
    lines = doc.parsed.text.split("\n", span.start_line + 1)
    line = lines[span.start_line] if span.start_line < len(lines) else ""
    before = line[span.start_col - 1:span.start_col] if span.start_col else ""
    return before in ("`", "*", "_", "(", "[")


def _same_scope(ix: SkillIndex, doc: Doc, path: str) -> bool:
    """A typo is made against a name of the same pack; a near miss in another pack is a coincidence
    (a library called like some command elsewhere)."""
    target = ix.docs.get(path)
    if target is None:
        return path == doc.plugin_dir
    if doc.plugin_dir:
        return target.plugin_dir == doc.plugin_dir
    return target.root == doc.root


def _typo(name: str, meant: str) -> bool:
    """A near miss that reads as a slip of the keys, not as a different name that shares words.

    In prose, `seed-governance-spec.md` beside a sheet `seed-governance` is another document;
    `gradient-isolaton` beside `gradient-isolation` is a typo.
    """
    a = name.removesuffix(".md").rsplit("/", 1)[-1]
    b = meant.removesuffix(".md").rsplit("/", 1)[-1]
    if len(a) < 5 or a == b:
        return False
    return Levenshtein.distance(a, b, score_cutoff=2) <= 2


def _in_known_namespace(ix: SkillIndex, plugin: str) -> bool:
    head = plugin.split("-", 1)[0]
    if head == plugin:
        return False
    return sum(1 for n in ix.plugin_by_name if n.startswith(head + "-")) >= 2


def _display_name(ix: SkillIndex, doc: Doc, path: str) -> str:
    if path in ix.plugins:
        return ix.plugins[path].name
    target = ix.docs[path]
    if target.kind is DocKind.SHEET and target.skill_dir == doc.skill_dir:
        return os.path.basename(path)[:-3]
    if target.kind is DocKind.SKILL:
        return ix.name_of(path)
    return ix.doc_id(path)


def _create_sheet_fix(doc: Doc, name: str) -> tuple[Fix, ...]:
    if not doc.skill_dir or "/" in name or ":" in name:
        return ()
    stem = name[:-3] if name.endswith(".md") else name
    path = os.path.join(doc.skill_dir, stem + ".md")
    title = stem.replace("-", " ").capitalize()
    return (Fix(f"Create sheet `{stem}.md`", create=((path, f"# {title}\n"),)),)


def _judge_link(ix: SkillIndex, doc: Doc, res: Resolution) -> Finding | None:
    ref, span = res.ref, res.ref.span
    if res.status is Status.OUTSIDE:
        return finding("LK004", doc.path, span, f"link `{ref.target}` leaves the skill tree")
    if res.status is Status.CASE and res.target:
        actual = _rel(doc, res.target.key)
        return finding("LK002", doc.path, span, f"`{ref.target}` matches `{actual}` only with other letter case",
                       related=_related(ix, (res.target.key,), "the file on disk"),
                       fixes=(Fix(f"Use `{actual}`", ((doc.path, span, actual),)),))
    if res.status is Status.BAD_ANCHOR:
        return _bad_anchor(ix, doc, res)
    if res.status is Status.MISSING:
        meant = [_rel(doc, p) + ("/" if ref.target.endswith("/") else "") for p in res.candidates]
        hint = f"; did you mean `{meant[0]}`?" if meant else ""
        fixes = tuple(Fix(f"Use `{m}`", ((doc.path, span, m),)) for m in meant[:3])
        if not meant and ref.target.endswith(".md") and doc.skill_dir:
            path = os.path.normpath(os.path.join(os.path.dirname(doc.path), ref.target))
            if path.startswith(doc.skill_dir + os.sep):
                title = os.path.basename(path)[:-3].replace("-", " ").capitalize()
                fixes = (Fix(f"Create `{ref.target}`", create=((path, f"# {title}\n"),)),)
        return finding("LK001", doc.path, span, f"link target `{ref.target}` does not exist{hint}",
                       related=_related(ix, res.candidates, "the file that was probably meant"), fixes=fixes)
    return None


def _bad_anchor(ix: SkillIndex, doc: Doc, res: Resolution) -> Finding:
    ref = res.ref
    target = res.target.key if res.target else doc.path
    span = ref.span
    if ref.kind is RefKind.LINK:
        # point at the #anchor part of the destination
        length = len(ref.target)
        if span.start_line == span.end_line and span.end_col - span.start_col == length + 1 + len(ref.anchor or ""):
            span = Span(span.start_line, span.start_col + length + 1, span.end_line, span.end_col)
    hint = f"; did you mean `#{res.candidates[0]}`?" if res.candidates else ""
    fixes = tuple(Fix(f"Use `#{c}`", ((doc.path, span, c),)) for c in res.candidates[:1]) if span != ref.span else ()
    where = "this file" if target == doc.path else f"`{os.path.basename(target)}`"
    return finding("LK003", doc.path, span, f"`#{ref.anchor}` matches no heading of {where}{hint}",
                   related=(Related(target, FILE_START, "the linked file"),), fixes=fixes)


def target_kind_label(kind: TargetKind) -> str:
    return kind.value
