"""Resolve one reference against the name tables of the index. Pure: no I/O.

Every lookup a resolution makes is recorded as a dependency key, so that the index re-resolves a
document exactly when something it looked up changes ("name:x", "file:/abs", "plugin:x", "anchors:/abs").
"""

from __future__ import annotations

import os
import posixpath
from typing import TYPE_CHECKING
from urllib.parse import unquote

from rapidfuzz import fuzz, process

from .model import Doc, DocKind, Reference, RefKind, Resolution, Status, Target, TargetKind

if TYPE_CHECKING:
    from .index import SkillIndex

KIND_OF_DOC = {DocKind.SKILL: TargetKind.SKILL, DocKind.SHEET: TargetKind.SHEET,
               DocKind.COMMAND: TargetKind.COMMAND, DocKind.AGENT: TargetKind.AGENT}


def resolve(ix: SkillIndex, doc: Doc, ref: Reference, deps: set[str]) -> Resolution:
    if ref.kind is RefKind.LINK:
        return _resolve_link(ix, doc, ref, deps)
    target = ref.target
    if target.endswith(".md"):
        return _resolve_md_name(ix, doc, ref, deps)
    if ":" in target:
        plugin, _, name = target.partition(":")
        return _resolve_qualified(ix, doc, ref, [plugin, name], deps)
    if "/" in target:
        return _resolve_qualified(ix, doc, ref, target.split("/"), deps)
    return _resolve_bare(ix, doc, ref, target, deps)


# --- links ------------------------------------------------------------------------------------
def _resolve_link(ix: SkillIndex, doc: Doc, ref: Reference, deps: set[str]) -> Resolution:
    if not ref.target:
        if ref.anchor:
            return _check_anchor(ix, doc.path, ref, Target(KIND_OF_DOC[doc.kind], doc.path, ref.anchor), deps)
        return Resolution(ref, Status.IGNORED)
    raw = unquote(ref.target.split("?", 1)[0])
    path = os.path.normpath(os.path.join(os.path.dirname(doc.path), raw))
    if not _inside(path, doc.root):
        return Resolution(ref, Status.OUTSIDE, detail=raw)
    deps.add("file:" + path)
    if path in ix.files:
        target = Target(_target_kind(ix, path), path, ref.anchor)
        if ref.anchor and path in ix.docs:
            return _check_anchor(ix, path, ref, target, deps)
        return Resolution(ref, Status.OK, target)
    if path in ix.dirs or path.rstrip(os.sep) in ix.dirs:
        return Resolution(ref, Status.OK, Target(TargetKind.DIR, path.rstrip(os.sep)))
    actual = ix.lower_files.get(path.lower())
    if actual:
        return Resolution(ref, Status.CASE, Target(_target_kind(ix, actual), actual), (actual,))
    return Resolution(ref, Status.MISSING, candidates=tuple(_meant_file(ix, doc, path)))


def _meant_file(ix: SkillIndex, doc: Doc, missing: str) -> list[str]:
    """The file that was probably meant: the same name somewhere near, else a close name beside it."""
    base = os.path.basename(missing)
    near = [p for p in ix.files_by_basename.get(base, ()) if _inside(p, doc.root)]
    if near:
        here = doc.skill_dir or os.path.dirname(doc.path)
        near.sort(key=lambda p: (not p.startswith(here + os.sep), len(os.path.relpath(p, os.path.dirname(doc.path)))))
        return near[:3]
    folder = os.path.dirname(missing)
    siblings = [p for p in ix.files_in_dir.get(folder, ())]
    if siblings:
        best = process.extractOne(base, [os.path.basename(p) for p in siblings], scorer=fuzz.ratio, score_cutoff=75)
        if best:
            return [os.path.join(folder, best[0])]
    return []


def _check_anchor(ix: SkillIndex, path: str, ref: Reference, target: Target, deps: set[str]) -> Resolution:
    deps.add("anchors:" + path)
    doc = ix.docs.get(path)
    if doc is None or ref.anchor is None:
        return Resolution(ref, Status.OK, target)
    want = ref.anchor.lower()
    slugs = [h.slug for h in doc.parsed.headings]
    if any(s.lower() == want for s in slugs):
        return Resolution(ref, Status.OK, target)
    best = process.extractOne(want, slugs, scorer=fuzz.ratio, score_cutoff=60) if slugs else None
    return Resolution(ref, Status.BAD_ANCHOR, target, (best[0],) if best else (), detail=ref.anchor)


def _target_kind(ix: SkillIndex, path: str) -> TargetKind:
    doc = ix.docs.get(path)
    return KIND_OF_DOC[doc.kind] if doc else TargetKind.FILE


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


# --- names ------------------------------------------------------------------------------------
def _resolve_md_name(ix: SkillIndex, doc: Doc, ref: Reference, deps: set[str]) -> Resolution:
    """`sheet.md` or `sub/sheet.md` written as a name: relative to the file, then to its skill."""
    rel = ref.target
    bases = [os.path.dirname(doc.path)]
    for extra in (doc.skill_dir, doc.plugin_dir, doc.root):
        if extra and extra not in bases:
            bases.append(extra)
    for base in bases:
        path = os.path.normpath(os.path.join(base, rel))
        deps.add("file:" + path)
        if path in ix.files and _inside(path, doc.root):
            target = Target(_target_kind(ix, path), path, ref.anchor)
            if ref.anchor and path in ix.docs:
                return _check_anchor(ix, path, ref, target, deps)
            return Resolution(ref, Status.OK, target)
    stem = posixpath.basename(rel)[:-3]
    deps.add("name:" + stem)
    if "/" not in rel and doc.skill_dir:
        here = [p for p in ix.sheets_by_stem.get(stem, ()) if ix.docs[p].skill_dir == doc.skill_dir]
        if len(here) == 1:
            return Resolution(ref, Status.OK, Target(TargetKind.SHEET, here[0], ref.anchor))
    return Resolution(ref, Status.MISSING, candidates=tuple(_similar_sheets(ix, doc, stem)))


def _resolve_qualified(ix: SkillIndex, doc: Doc, ref: Reference, parts: list[str], deps: set[str]) -> Resolution:
    parts = [p for p in parts if p]
    if len(parts) < 2:
        return _resolve_bare(ix, doc, ref, parts[0] if parts else ref.target, deps)
    for p in parts:
        deps.add("name:" + p)
        deps.add("plugin:" + p)
    # plugin/skill[/sheet]
    plugin = _one_plugin(ix, parts[0])
    rest = parts[1:]
    if plugin is None and len(parts) >= 3:
        plugin = _one_plugin(ix, f"{parts[0]}-{parts[1]}")  # faction/pack/name
        deps.add(f"plugin:{parts[0]}-{parts[1]}")
        rest = parts[2:]
    if plugin is not None:
        return _in_plugin(ix, ref, plugin, rest)
    # skill/sheet
    skills = ix.skills_named(parts[0])
    if len(skills) == 1 and len(parts) == 2:
        skill = ix.skills[skills[0]]
        for p in ix.sheets_by_stem.get(parts[1].removesuffix(".md"), ()):
            if ix.docs[p].skill_dir == skill.dir:
                return Resolution(ref, Status.OK, Target(TargetKind.SHEET, p, ref.anchor))
    cands = process.extract(parts[0], list(ix.plugin_by_name), scorer=fuzz.ratio, score_cutoff=80, limit=3)
    detail = parts[0]
    if not cands and len(parts) >= 3:
        detail = f"{parts[0]}-{parts[1]}"
    return Resolution(ref, Status.UNKNOWN_PLUGIN, candidates=tuple(ix.plugins_named(c[0])[0] for c in cands),
                      detail=detail)


def _in_plugin(ix: SkillIndex, ref: Reference, plugin_key: str, rest: list[str]) -> Resolution:
    plugin = ix.plugins[plugin_key]
    name = rest[0]
    for sd in plugin.skills:
        skill = ix.skills.get(sd)
        if skill and (skill.name == name or skill.folder == name):
            if len(rest) == 1:
                return Resolution(ref, Status.OK, Target(TargetKind.SKILL, skill.path, ref.anchor))
            sheet = "/".join(rest[1:])
            sheet = sheet if sheet.endswith(".md") else sheet + ".md"
            path = os.path.normpath(os.path.join(skill.dir, sheet))
            if path in ix.docs:
                return Resolution(ref, Status.OK, Target(TargetKind.SHEET, path, ref.anchor))
            return Resolution(ref, Status.MISSING, candidates=tuple(_fuzzy(sheet[:-3], [
                p for p in skill.sheets], key=lambda p: os.path.basename(p)[:-3])))
    for cmd in ix.commands_by_name.get(name, ()):
        if ix.docs[cmd].plugin_dir == plugin_key:
            return Resolution(ref, Status.OK, Target(TargetKind.COMMAND, cmd))
    pool = [ix.skills[sd].path for sd in plugin.skills if sd in ix.skills]
    return Resolution(ref, Status.MISSING, candidates=tuple(_fuzzy(name, pool, key=ix.name_of)))


def _one_plugin(ix: SkillIndex, name: str) -> str | None:
    keys = ix.plugins_named(name)
    return keys[0] if keys else None


def _resolve_bare(ix: SkillIndex, doc: Doc, ref: Reference, name: str, deps: set[str]) -> Resolution:
    deps.add("name:" + name)
    deps.add("plugin:" + name)
    # 1. a sheet beside the file (same skill)
    if doc.skill_dir and not ref.slash:
        here = [p for p in ix.sheets_by_stem.get(name, ()) if ix.docs[p].skill_dir == doc.skill_dir]
        if len(here) == 1:
            return Resolution(ref, Status.OK, Target(TargetKind.SHEET, here[0]))
    # 2. a skill, then a command, of the same plugin
    skills = ix.skills_named(name)
    if doc.plugin_dir:
        same = [s for s in skills if ix.skills[s].plugin == doc.plugin_dir]
        if len(same) == 1:
            return Resolution(ref, Status.OK, Target(TargetKind.SKILL, ix.skills[same[0]].path))
        cmds = [c for c in ix.commands_by_name.get(name, ()) if ix.docs[c].plugin_dir == doc.plugin_dir]
        if cmds:
            return Resolution(ref, Status.OK, Target(TargetKind.COMMAND, cmds[0]))
    # 3. a plugin by that name
    plugins = ix.plugins_named(name)
    if len(plugins) == 1:
        return Resolution(ref, Status.OK, Target(TargetKind.PLUGIN, plugins[0]))
    # 4. a unique skill anywhere (this root first)
    if len(skills) == 1:
        return Resolution(ref, Status.OK, Target(TargetKind.SKILL, ix.skills[skills[0]].path))
    if len(skills) > 1:
        mine = [s for s in skills if ix.skills[s].root == doc.root]
        if len(mine) == 1:
            return Resolution(ref, Status.OK, Target(TargetKind.SKILL, ix.skills[mine[0]].path))
        return Resolution(ref, Status.AMBIGUOUS, Target(TargetKind.SKILL, ix.skills[skills[0]].path),
                          tuple(ix.skills[s].path for s in skills))
    # 5. a command anywhere (plugin commands, .claude/commands)
    cmds = ix.commands_by_name.get(name, ())
    if cmds:
        return Resolution(ref, Status.OK if len(cmds) == 1 else Status.AMBIGUOUS,
                          Target(TargetKind.COMMAND, cmds[0]), tuple(cmds) if len(cmds) > 1 else ())
    # 6. a sheet of another skill in the same plugin, when only one has that name
    if doc.plugin_dir and not ref.slash:
        sheets = [p for p in ix.sheets_by_stem.get(name, ()) if ix.docs[p].plugin_dir == doc.plugin_dir]
        if len(sheets) == 1:
            return Resolution(ref, Status.OK, Target(TargetKind.SHEET, sheets[0]))
    # 7. a sheet anywhere, when only one has that name (this root first)
    if not ref.slash:
        sheets = list(ix.sheets_by_stem.get(name, ()))
        mine = [p for p in sheets if ix.docs[p].root == doc.root]
        if len(mine) == 1 or len(sheets) == 1:
            return Resolution(ref, Status.OK, Target(TargetKind.SHEET, (mine or sheets)[0]))
    # a slash name may be a plugin's short name: /web-backend for axiom-web-backend
    if ref.slash:
        suffixed = ix.plugins_by_suffix.get(name, [])
        if len(suffixed) == 1:
            return Resolution(ref, Status.OK, Target(TargetKind.PLUGIN, suffixed[0]))
    return Resolution(ref, Status.MISSING, candidates=tuple(_similar_names(ix, doc, name)))


def _similar_sheets(ix: SkillIndex, doc: Doc, stem: str) -> list[str]:
    pool = [p for p in ix.docs_in_skill(doc.skill_dir) if ix.docs[p].kind is DocKind.SHEET] if doc.skill_dir else []
    return _fuzzy(stem, pool, key=lambda p: os.path.basename(p)[:-3])


def _similar_names(ix: SkillIndex, doc: Doc, name: str) -> list[str]:
    """Did you mean: sheets of this skill first, then skills of this plugin, then every skill."""
    out = _similar_sheets(ix, doc, name)
    if out:
        return out
    if doc.plugin_dir and doc.plugin_dir in ix.plugins:
        pool = [ix.skills[s].path for s in ix.plugins[doc.plugin_dir].skills if s in ix.skills]
        out = _fuzzy(name, pool, key=ix.name_of)
        if out:
            return out
    best = process.extract(name, ix.all_names(), scorer=fuzz.ratio, score_cutoff=85, limit=3)
    paths: list[str] = []
    for cand, _score, _ in best:
        paths.extend(ix.paths_for_name(cand)[:1])
    return paths


def _fuzzy(word: str, pool: list[str], key, cutoff: int = 80) -> list[str]:  # noqa: ANN001 - small helper
    if not pool:
        return []
    names = [key(p) for p in pool]
    found = process.extract(word, names, scorer=fuzz.ratio, score_cutoff=cutoff, limit=3)
    return [pool[i] for _n, _s, i in found]
