"""RT004-RT006 and FM013: findings that depend on the whole reference graph, not one file."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..model import Doc, DocKind, Finding, RefKind, Related, Span, Status, TargetKind
from .base import FILE_START, finding

if TYPE_CHECKING:
    from ..index import SkillIndex

# Files that document a folder rather than being loaded as sheets.
NOT_SHEETS = frozenset({"readme", "license", "changelog", "contributing", "notice", "authors"})


def check_graph(ix: SkillIndex, doc: Doc) -> list[Finding]:
    out: list[Finding] = []
    if doc.kind is DocKind.SHEET:
        f = _orphan(ix, doc)
        if f:
            out.append(f)
    elif doc.kind is DocKind.SKILL:
        out.extend(_duplicate(ix, doc))
        f = _unreachable(ix, doc)
        if f:
            out.append(f)
        if doc.path in ix.cycle_members():  # a superset kept by the index: skip the walk for the rest
            out.extend(f for f in _cycles(ix) if f.path == doc.path)
    return out


def _orphan(ix: SkillIndex, doc: Doc) -> Finding | None:
    raw_stem = os.path.basename(doc.path)[:-3]
    stem = raw_stem.lower()
    if stem in NOT_SHEETS or doc.skill_dir is None or _not_loaded_by_design(raw_stem):
        return None
    if ix.referrers(doc.path) - {doc.path}:
        return None
    if _named_among_candidates(ix, doc):
        return None
    # a link to a folder of sheets (`themes/`) counts as a reference to each; a link to the skill's
    # own folder names the skill, not its sheets
    d = os.path.dirname(doc.path)
    while d.startswith(doc.skill_dir + os.sep):
        if ix.referrers(d):
            return None
        d = os.path.dirname(d)
    return finding("RT004", doc.path, FILE_START,
                   f"sheet `{os.path.relpath(doc.path, doc.skill_dir)}` is referred to by nothing; "
                   "link it from its SKILL.md or remove it",
                   related=(Related(os.path.join(doc.skill_dir, "SKILL.md"), FILE_START, "its skill"),))


AGENT_FOLDERS = (".claude", ".agents", ".codex", ".cursor", ".github")


def _not_loaded_by_design(stem: str) -> bool:
    """Files a skill keeps beside its sheets without loading them: upper-case notes
    (`CREATION-LOG`, `NOTES`) and the scenarios that test the skill (`test-pressure-1`)."""
    letters = [c for c in stem if c.isalpha()]
    if letters and all(c.isupper() for c in letters):
        return True
    low = stem.lower()
    return low.startswith(("test-", "test_")) or low.endswith(("-test", "_test"))


def _named_among_candidates(ix: SkillIndex, doc: Doc) -> bool:
    """Named by a template (`{lang}/api/x.md`) or by a bare name several files share: those
    resolutions keep every file they cover as a candidate."""
    skill = ix.skills.get(doc.skill_dir) if doc.skill_dir else None
    if skill is None:
        return False
    for p in [skill.path, *skill.sheets]:
        if p == doc.path:
            continue
        for res in ix.resolutions.get(p, ()):
            if res.candidates and doc.path in res.candidates and res.status in (Status.OK, Status.AMBIGUOUS):
                return True
    return False


def _scope(ix: SkillIndex, doc: Doc) -> str:
    """Where a skill name must be unique: its plugin, else the agent folder that loads it (the same
    skill mirrored in `.claude/skills` and `.agents/skills` serves two agents), else the root."""
    return _scope_of(doc.path, doc.plugin_dir, doc.root)


def _scope_of(path: str, plugin_dir: str | None, root: str) -> str:
    if plugin_dir:
        return plugin_dir
    first = os.path.relpath(path, root).split(os.sep, 1)[0]
    return os.path.join(root, first) if first in AGENT_FOLDERS else root


def _duplicate(ix: SkillIndex, doc: Doc) -> list[Finding]:
    name = doc.parsed.fm_name()
    if not name:
        return []
    twins = [ix.skills[s] for s in ix.skill_by_name.get(name, ()) if s in ix.skills]
    scope = _scope(ix, doc)
    twins = [s for s in twins if s.path != doc.path and s.name == name
             and _scope_of(s.path, s.plugin, s.root) == scope]
    if not twins:
        return []
    fm = doc.parsed.front_matter
    span = fm.keys["name"].value_span if fm and "name" in fm.keys else FILE_START
    return [finding("FM013", doc.path, span, f"another skill in this scope is also named `{name}`",
                    related=tuple(Related(s.path, FILE_START, "the other skill") for s in twins))]


def routers_of(ix: SkillIndex, plugin_dir: str) -> list[str]:
    """Skills of a plugin that route to others of it: its `using-*` skills or any with routing edges."""
    plugin = ix.plugins.get(plugin_dir)
    if plugin is None:
        return []
    out = []
    for sd in plugin.skills:
        skill = ix.skills.get(sd)
        if skill is None:
            continue
        if skill.folder.startswith("using-") or any(
            ix.docs.get(t) and ix.docs[t].kind is DocKind.SKILL and t != skill.path
            for _r, t in ix.routing_edges(skill.path)
        ):
            out.append(skill.path)
    return out


def _adjacency(ix: SkillIndex) -> dict[str, frozenset[str]]:
    """Document -> the documents its references lead to; built once per index generation, since
    every plugin's reachability walks the same edges."""
    cached = ix._graph_cache.get("adjacency")
    if cached is not None:
        return cached  # type: ignore[return-value]
    adj: dict[str, frozenset[str]] = {}
    target_doc = ix.target_doc
    for p, results in ix.resolutions.items():
        out = set()
        for res in results:
            if res.target is not None:
                t = target_doc(res.target.key, res.target.kind)
                if t:
                    out.add(t)
        if out:
            adj[p] = frozenset(out)
    ix._graph_cache["adjacency"] = adj
    return adj


def reachable_from(ix: SkillIndex, starts: list[str]) -> set[str]:
    """Every document reachable through any reference (routers link sheets, sheets link skills)."""
    adj = _adjacency(ix)
    seen = set(starts)
    stack = list(starts)
    while stack:
        nxt = adj.get(stack.pop())
        if nxt:
            new = nxt - seen
            seen |= new
            stack.extend(new)
    return seen


def _unreachable(ix: SkillIndex, doc: Doc) -> Finding | None:
    if not doc.plugin_dir or doc.plugin_dir not in ix.plugins:
        return None
    if ix.referrers(doc.path):
        return None  # named from somewhere: reachable in practice
    routers = routers_of(ix, doc.plugin_dir)
    if not routers or doc.path in routers:
        return None
    # Nothing names this skill, so the only edge that can lead here is a reference to its plugin
    # (which stands for its router skill): only then is the costly walk from the routers needed.
    if ix.target_doc(doc.plugin_dir, TargetKind.PLUGIN) == doc.path and ix.referrers(doc.plugin_dir):
        cache_key = "reach:" + doc.plugin_dir
        seen = ix._graph_cache.get(cache_key)
        if seen is None:
            seen = ix._graph_cache[cache_key] = reachable_from(ix, routers)
        if doc.path in seen:  # type: ignore[operator]
            return None
    return finding("RT005", doc.path, FILE_START,
                   f"no router of plugin `{ix.plugins[doc.plugin_dir].name}` leads to this skill",
                   related=tuple(Related(r, FILE_START, "a router of this plugin") for r in routers[:3]))


def _pure_router(ix: SkillIndex, path: str, out: list[tuple[str, Span]]) -> bool:
    skill = ix.skills.get(os.path.dirname(path))
    if skill is None:
        return False
    if skill.folder.startswith("using-") or skill.name.startswith("using-"):
        return True
    return not skill.sheets and len({t for t, _ in out}) >= 2


def _cycles(ix: SkillIndex) -> list[Finding]:
    cached = ix._graph_cache.get("cycles")
    if cached is not None:
        return cached  # type: ignore[return-value]
    # Only skill-to-skill edges from tables and Route to lines: "back to the main router" arrows
    # and prose mentions are navigation, not routing.
    # A cycle traps an agent only among routers: a skill with content of its own is a place to
    # stop, and skills that point at each other as "related" are not a loop.
    edges: dict[str, list[tuple[str, Span]]] = {}
    candidates: dict[str, list[tuple[str, Span]]] = {}
    for skill in ix.skills.values():
        for res, t in ix.routing_edges(skill.path):
            if res.ref.kind not in (RefKind.TABLE, RefKind.ROUTE_TO) or t == skill.path:
                continue
            if ix.docs[t].kind is DocKind.SKILL:
                candidates.setdefault(skill.path, []).append((t, res.ref.span))
    routers = {p for p, out in candidates.items() if _pure_router(ix, p, out)}
    for p in routers:
        edges[p] = [(t, span) for t, span in candidates[p] if t in routers]
    out: list[Finding] = []
    color: dict[str, int] = {}
    reported: set[frozenset[str]] = set()
    for start in sorted(edges):
        if color.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = []
        while stack:
            node, i = stack.pop()
            if i == 0:
                color[node] = 1
                path.append(node)
            succ = edges.get(node, [])
            if i < len(succ):
                stack.append((node, i + 1))
                nxt, span = succ[i]
                if color.get(nxt) == 1:
                    cycle = path[path.index(nxt):]
                    key = frozenset(cycle)
                    if key not in reported:
                        reported.add(key)
                        names = " -> ".join(ix.doc_id(p) for p in cycle + [nxt])
                        out.append(finding("RT006", node, span, f"routing cycle: {names}",
                                           related=tuple(Related(p, FILE_START, "in the cycle") for p in cycle)))
                elif not color.get(nxt):
                    stack.append((nxt, 0))
            else:
                color[node] = 2
                path.pop()
    ix._graph_cache["cycles"] = out
    return out
