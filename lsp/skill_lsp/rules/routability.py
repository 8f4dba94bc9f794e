"""RB001 route-disagrees and RB002 descriptions-collide: would an agent choosing by text get there?

RB001 asks the router for the candidates of a routing phrase (exact phrases and names switched off)
and judges them by their own name and description: when another target's description matches the
phrase clearly better than the description of the row's target, the table and the descriptions
disagree, and an agent that chooses by description (or a user paraphrasing the row) goes elsewhere.

RB002 compares a skill's name and description with those of the skills the router finds closest
to it; a cosine similarity of their idf-weighted words above COLLIDE means an agent choosing by
description cannot tell them apart.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING

from ..model import Doc, DocKind, Finding, Related, Span
from ..route import Router, router_for
from ..route_fields import NAMEISH, TARGET_KINDS
from ..stem import tokens
from .base import FILE_START, finding

if TYPE_CHECKING:
    from ..index import SkillIndex

MIN_PHRASE_WORDS = 3  # shorter phrases ("Testing") are labels, not descriptions of a task
MAX_PHRASES = 60  # per document: keeps the check cheap on huge routers
CLEAR_MARGIN = 2.0  # another target's description must match the phrase this much better than the row's
MIN_MATCH = 0.5  # ... and match at least this share of the phrase
CANDIDATES = 8
COLLIDE = 0.8  # cosine similarity of two descriptions that counts as "too close"
NEIGHBOURS = 5


def check_routability(ix: SkillIndex, doc: Doc) -> list[Finding]:
    out: list[Finding] = []
    out.extend(_route_disagrees(ix, doc))
    if doc.kind is DocKind.SKILL:
        out.extend(_descriptions_collide(ix, doc))
    return out


def _route_disagrees(ix: SkillIndex, doc: Doc) -> list[Finding]:
    edges = ix.routing_edges(doc.path)
    if not edges:
        return []
    router = router_for(ix)
    # one row (a table row, a Route-to section, an arrow line) may name several targets
    rows: dict[tuple[int, str], list[tuple[Span, str]]] = {}
    for res, target in edges:
        phrase = res.ref.phrase
        tdoc = ix.docs.get(target)
        if tdoc is None or tdoc.kind not in TARGET_KINDS or target == doc.path:
            continue
        if len(tokens(phrase)) < MIN_PHRASE_WORDS or NAMEISH.fullmatch(phrase.strip(" `*").lower()):
            continue  # a label or a bare name says nothing a description could match
        rows.setdefault((res.ref.span.start_line, phrase), []).append((res.ref.span, target))
    # every document named on a row counts as where the row sends the reader ("A + B + C")
    on_line: dict[int, set[str]] = {}
    for res in ix.resolutions.get(doc.path, ()):
        if res.target is not None:
            on_line.setdefault(res.ref.span.start_line, set()).add(res.target.key)
    out: list[Finding] = []
    for (line, phrase), targets in list(rows.items())[:MAX_PHRASES]:
        named = on_line.get(line, set())
        words = Counter(tokens(phrase))
        answer = router.route(phrase, limit=CANDIDATES, literal=False, explain=False)
        # the router's candidates, judged by what they say about themselves (name and description):
        # the row's own phrase is indexed as anchor text of its target, so it must not vote here
        scored = sorted(((_match(router, words, h.path), h.path) for h in answer.hits), reverse=True)
        if not scored:
            continue
        best, top = scored[0]
        if best < MIN_MATCH or top in named or any(top == t or _same_family(ix, top, t) for _s, t in targets):
            continue
        if any(_match(router, words, t) * CLEAR_MARGIN > best for _s, t in targets):
            continue
        span, first = targets[0]
        out.append(finding(
            "RB001", doc.path, span,
            f'routing phrase "{_clip(phrase)}" matches the description of {ix.doc_id(top)}, '
            f"not that of {ix.doc_id(first)} where this row sends it; align the target's description "
            "with the phrase, or reword the phrase",
            related=(Related(top, _description_span(ix.docs[top]),
                             "the description that matches the phrase best"),),
        ))
    return out


def _match(router: Router, words: Counter[str], path: str) -> float:
    """Share of the phrase's information (idf) found in a target's name and description."""
    terms = router.description_terms(path, name=True)
    idf = router.postings.idf
    total = sum(idf(t) for t in words) or 1.0
    return sum(idf(t) for t in words if t in terms) / total


def _same_family(ix: SkillIndex, found: str, target: str) -> bool:
    """Where the phrase leads is inside what the row routes to: a skill and its sheets, or a pack's
    router (routing to the pack) and anything of that pack."""
    df, dt = ix.docs.get(found), ix.docs.get(target)
    if df is None or dt is None:
        return False
    if df.skill_dir is not None and df.skill_dir == dt.skill_dir:
        return True  # a skill and its own sheets
    return dt.kind is DocKind.SKILL and bool(ix.routing_edges(target)) and dt.plugin_dir is not None and (
        df.plugin_dir == dt.plugin_dir)


def _descriptions_collide(ix: SkillIndex, doc: Doc) -> list[Finding]:
    desc = doc.parsed.description()
    if len(tokens(desc)) < 3:
        return []  # a missing or empty description is FM006's business
    router = router_for(ix)
    mine = router.description_terms(doc.path)
    if not mine:
        return []
    answer = router.route(ix.name_of(doc.path).replace("-", " ") + " " + desc, limit=NEIGHBOURS + 1,
                          literal=False, kinds=(DocKind.SKILL,), explain=False)
    out: list[Finding] = []
    for hit in answer.hits:
        if hit.path == doc.path or ix.name_of(hit.path) == ix.name_of(doc.path):
            continue  # a second copy of the same skill is RT003's business
        other = router.description_terms(hit.path)
        sim = _cosine(router, mine, other)
        if sim < COLLIDE:
            continue
        out.append(finding(
            "RB002", doc.path, _description_span(doc),
            f"description is {sim:.0%} like that of {ix.doc_id(hit.path)}: an agent choosing by "
            "description cannot tell the two apart; say what each is for and not for",
            related=(Related(hit.path, _description_span(ix.docs[hit.path]), "the look-alike description"),),
        ))
    return out


def _cosine(router: Router, a: Counter[str], b: Counter[str]) -> float:
    idf = router.postings.idf
    wa = {t: c * idf(t) for t, c in a.items()}
    wb = {t: c * idf(t) for t, c in b.items()}
    dot = sum(w * wb.get(t, 0.0) for t, w in wa.items())
    na = math.sqrt(sum(w * w for w in wa.values()))
    nb = math.sqrt(sum(w * w for w in wb.values()))
    return dot / (na * nb) if na and nb else 0.0


def _description_span(doc: Doc) -> Span:
    fm = doc.parsed.front_matter
    if fm is not None and "description" in fm.keys:
        return fm.keys["description"].value_span
    return FILE_START


def _clip(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


__all__ = ["check_routability"]
