"""Resolve one reference against the name tables of the index. Pure: no I/O.

Every lookup a resolution makes is recorded as a dependency key, so that the index re-resolves a
document exactly when something it looked up changes ("name:x", "file:/abs", "plugin:x", "anchors:/abs").
"""

from __future__ import annotations

import os
import posixpath
import re
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
    if "{" in target or target.endswith("/"):
        return _resolve_folder_or_template(ix, doc, ref, deps)
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
    raw = ref.target.split("?", 1)[0]
    if "%" in raw:
        raw = unquote(raw)
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
    if not base.endswith(".md") and "." not in base:
        # a folder link (`../../other-pack/`) one `../` short or long: the folder of that name
        dirs = [d for d in ix.dirs if os.path.basename(d) == base and _inside(d, doc.root) and d != missing]
        if dirs:
            here = os.path.dirname(doc.path)
            dirs.sort(key=lambda d: (len(os.path.relpath(d, here)), d))
            return dirs[:3]
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
    for base in bases:
        path = os.path.normpath(os.path.join(base, rel))
        actual = ix.lower_files.get(path.lower())
        if actual and _inside(actual, doc.root):
            # `FORMS.md` for `forms.md`: found on macOS, missing on Linux
            return Resolution(ref, Status.CASE, Target(_target_kind(ix, actual), actual), (actual,))
    stem = posixpath.basename(rel)[:-3]
    deps.add("name:" + stem)
    parts = rel.split("/")
    if len(parts) in (2, 3) and all(parts) and ".." not in parts and "." not in parts:
        # `plugin/skill/sheet.md` or `skill/sheet.md` written as a qualified name
        qualified = _resolve_qualified(ix, doc, ref, parts, deps)
        if qualified.status is Status.OK:
            return qualified
    if "/" not in rel:
        found = _named_docs(ix, doc, stem, ref)
        if found is not None:
            return found
    return Resolution(ref, Status.MISSING, candidates=tuple(_similar_sheets(ix, doc, stem)))


def _named_docs(ix: SkillIndex, doc: Doc, stem: str, ref: Reference) -> Resolution | None:
    """`name.md` written without a path: the sheet (or command, agent) of that name, nearest first.

    Commands and agents of a plugin name the sheets of its skills this way, and routers name
    sheets of other packs; the nearest scope that holds exactly one match wins.
    """
    pool = [p for p in ix.files_by_basename.get(stem + ".md", ()) if p in ix.docs
            and ix.docs[p].kind is not DocKind.SKILL]
    if not pool:
        return None
    scopes = (
        [p for p in pool if doc.skill_dir and ix.docs[p].skill_dir == doc.skill_dir],
        [p for p in pool if doc.plugin_dir and ix.docs[p].plugin_dir == doc.plugin_dir],
        [p for p in pool if ix.docs[p].root == doc.root],
        pool,
    )
    for hits in scopes:
        if len(hits) == 1:
            target = ix.docs[hits[0]]
            return Resolution(ref, Status.OK, Target(KIND_OF_DOC[target.kind], hits[0], ref.anchor))
        if len(hits) > 1:
            first = ix.docs[hits[0]]
            return Resolution(ref, Status.AMBIGUOUS, Target(KIND_OF_DOC[first.kind], hits[0], ref.anchor),
                              tuple(hits))
    return None


def _resolve_folder_or_template(ix: SkillIndex, doc: Doc, ref: Reference, deps: set[str]) -> Resolution:
    """`themes/` (a folder of sheets) or `{lang}/api/streaming.md` (one file per value of lang).

    A template resolves to every file it matches (the first is the target, all are candidates),
    so that none of them is taken for an orphan.
    """
    bases = [os.path.dirname(doc.path)]
    if doc.skill_dir and doc.skill_dir not in bases:
        bases.append(doc.skill_dir)
    rel = ref.target.rstrip("/")
    if "{" not in rel:
        for base in bases:
            path = os.path.normpath(os.path.join(base, rel))
            deps.add("file:" + path)
            if path in ix.dirs and _inside(path, doc.root):
                return Resolution(ref, Status.OK, Target(TargetKind.DIR, path))
        return Resolution(ref, Status.IGNORED)
    pattern = re.compile(
        "/".join("[^/]+" if re.fullmatch(r"\{\w+\}", part) else re.escape(part).replace(r"\*", "[^/]*")
                 for part in rel.split("/")) + ("(?:/.*)?" if ref.target.endswith("/") else ""))
    for base in bases:
        deps.add("dir:" + base)
        prefix = base + os.sep
        hits = sorted(p for p in ix.docs if p.startswith(prefix) and pattern.fullmatch(p[len(prefix):]))
        if hits:
            return Resolution(ref, Status.OK, Target(KIND_OF_DOC[ix.docs[hits[0]].kind], hits[0]), tuple(hits))
    return Resolution(ref, Status.IGNORED)


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
    faction = plugin is None and _is_namespace(ix, parts[0])
    if plugin is None and (len(parts) >= 3 or faction):
        plugin = _one_plugin(ix, f"{parts[0]}-{parts[1]}")  # faction/pack/name
        deps.add(f"plugin:{parts[0]}-{parts[1]}")
        rest = parts[2:]
        if plugin is not None and not rest:  # faction/pack: the pack itself
            return Resolution(ref, Status.OK, Target(TargetKind.PLUGIN, plugin))
    if plugin is not None:
        return _in_plugin(ix, ref, plugin, rest)
    if faction:
        pack = f"{parts[0]}-{parts[1]}"
        cands = process.extract(pack, list(ix.plugin_by_name), scorer=fuzz.ratio, score_cutoff=80, limit=3)
        return Resolution(ref, Status.UNKNOWN_PLUGIN, candidates=tuple(ix.plugins_named(c[0])[0] for c in cands),
                          detail=pack)
    # skill/sheet
    skills = ix.skills_named(parts[0])
    if len(skills) == 1 and len(parts) == 2:
        skill = ix.skills[skills[0]]
        for p in ix.sheets_by_stem.get(parts[1].removesuffix(".md"), ()):
            if ix.docs[p].skill_dir == skill.dir:
                return Resolution(ref, Status.OK, Target(TargetKind.SHEET, p, ref.anchor))
    # the pack named without its faction prefix (`/bread:shape` for `bakery-bread`) or misspelt
    suffixed = list(ix.plugins_by_suffix.get(parts[0], ()))
    cands = process.extract(parts[0], list(ix.plugin_by_name), scorer=fuzz.ratio, score_cutoff=80, limit=3)
    found = suffixed + [k for c in cands for k in ix.plugins_named(c[0])[:1] if k not in suffixed]
    detail = parts[0]
    if not found and len(parts) >= 3:
        detail = f"{parts[0]}-{parts[1]}"
    return Resolution(ref, Status.UNKNOWN_PLUGIN, candidates=tuple(found[:3]), detail=detail)


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
    if len(rest) == 1:
        # an agent of the plugin (`plugin:agent-name`), or a sheet of one of its skills: packs that
        # fold their skills into one router keep the old `plugin:name` for the sheet that replaced it
        stem = name.removesuffix(".md")
        for kind in (DocKind.AGENT, DocKind.SHEET):
            hits = [p for p in ix.files_by_basename.get(stem + ".md", ())
                    if p in ix.docs and ix.docs[p].kind is kind and ix.docs[p].plugin_dir == plugin_key]
            if len(hits) == 1:
                return Resolution(ref, Status.OK, Target(KIND_OF_DOC[kind], hits[0], ref.anchor))
            if len(hits) > 1:
                return Resolution(ref, Status.AMBIGUOUS, Target(KIND_OF_DOC[kind], hits[0], ref.anchor), tuple(hits))
    pool = [ix.skills[sd].path for sd in plugin.skills if sd in ix.skills]
    pool += [p for sd in plugin.skills if sd in ix.skills for p in ix.skills[sd].sheets]
    return Resolution(ref, Status.MISSING, candidates=tuple(_fuzzy(name, pool, key=ix.name_of)))


def _is_namespace(ix: SkillIndex, head: str, least: int = 2) -> bool:
    """Whether the tree names its packs `head-...` (a faction or vendor prefix)."""
    cache = ix._graph_cache.get("namespaces")
    if cache is None or ix._cold:
        counts: dict[str, int] = {}
        for n in ix.plugin_by_name:
            first, _, rest = n.partition("-")
            if rest:
                counts[first] = counts.get(first, 0) + 1
        cache = counts
        ix._graph_cache["namespaces"] = cache
    return cache.get(head, 0) >= least  # type: ignore[union-attr]


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
    if len(cmds) > 1:
        # a project command (`.claude/commands/x.md`) wins over a plugin's command of that name,
        # as it does in Claude Code; the plugin's stays reachable as /plugin:x
        project = os.path.join(doc.root, ".claude", "commands") + os.sep
        mine = [c for c in cmds if c.startswith(project)]
        cmds = mine if len(mine) == 1 else cmds
    if cmds:
        return Resolution(ref, Status.OK if len(cmds) == 1 else Status.AMBIGUOUS,
                          Target(TargetKind.COMMAND, cmds[0]), tuple(cmds) if len(cmds) > 1 else ())
    # 5b. an agent (`agents/<name>.md`): this plugin first, then anywhere when only one has the name
    agents = [p for p in ix.files_by_basename.get(name + ".md", ()) if p in ix.docs and ix.docs[p].kind is DocKind.AGENT]
    if agents:
        mine = [p for p in agents if doc.plugin_dir and ix.docs[p].plugin_dir == doc.plugin_dir]
        pick = mine if len(mine) == 1 else agents
        return Resolution(ref, Status.OK if len(pick) == 1 else Status.AMBIGUOUS,
                          Target(TargetKind.AGENT, pick[0]), tuple(pick) if len(pick) > 1 else ())
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
        if sheets:  # the exact name exists, in several packs: not a typo, just unqualified
            return Resolution(ref, Status.AMBIGUOUS, Target(TargetKind.SHEET, (mine or sheets)[0]),
                              tuple(mine or sheets))
    # a slash name may be a plugin's short name: /web-backend for axiom-web-backend
    if ref.slash:
        suffixed = ix.plugins_by_suffix.get(name, [])
        if len(suffixed) == 1:
            return Resolution(ref, Status.OK, Target(TargetKind.PLUGIN, suffixed[0]))
    # `axiom-event-streaming` in a tree whose packs are all `axiom-...`: a pack that does not exist
    head, _, tail = name.partition("-")
    if tail and "-" in tail and _is_namespace(ix, head, 3):
        cands = process.extract(name, list(ix.plugin_by_name), scorer=fuzz.ratio, score_cutoff=80, limit=3)
        return Resolution(ref, Status.UNKNOWN_PLUGIN, candidates=tuple(ix.plugins_named(c[0])[0] for c in cands),
                          detail=name)
    if not ref.kind.routing and "-" not in name:
        return Resolution(ref, Status.MISSING)  # a plain word in prose: never judged, so no near miss
    return Resolution(ref, Status.MISSING, candidates=tuple(_similar_names(ix, doc, name, ref.kind.routing)))


def _similar_sheets(ix: SkillIndex, doc: Doc, stem: str) -> list[str]:
    pool = [p for p in ix.docs_in_skill(doc.skill_dir) if ix.docs[p].kind is DocKind.SHEET] if doc.skill_dir else []
    return _fuzzy(stem, pool, key=lambda p: os.path.basename(p)[:-3])


def _similar_names(ix: SkillIndex, doc: Doc, name: str, routing: bool = True) -> list[str]:
    """Did you mean: sheets of this skill first, then skills (and, for prose, sheets) of this
    plugin, then every name of the tree.

    In prose only a near miss within the same plugin is reported (a typo is made against the
    pack one writes in), so prose in a plugin never pays for the search of the whole tree.
    """
    out = _similar_sheets(ix, doc, name)
    if out:
        return out
    out = _shortened(ix, doc, name)
    if out:
        return out
    if doc.plugin_dir and doc.plugin_dir in ix.plugins:
        if routing:
            pool = [ix.skills[s].path for s in ix.plugins[doc.plugin_dir].skills if s in ix.skills]
            out = _fuzzy(name, pool, key=ix.name_of)
        else:
            named = _scope_docs(ix, doc)
            out = _fuzzy(name, [p for p, _ in named], key=dict(named).__getitem__)
        if out or not routing:
            return out
    best = process.extract(name, ix.all_names(), scorer=fuzz.ratio, score_cutoff=85, limit=3)
    paths: list[str] = []
    for cand, _score, _ in best:
        paths.extend(ix.paths_for_name(cand)[:1])
    return paths


def _shortened(ix: SkillIndex, doc: Doc, name: str) -> list[str]:
    """A name cut short by whole words (`serving-patterns` for `model-serving-patterns`): the one
    skill or sheet of this plugin (else this skill) whose name starts or ends with it."""
    if "-" not in name:
        return []
    scope = doc.plugin_dir or doc.skill_dir
    if not scope:
        return []
    head, tail = name + "-", "-" + name
    hits = [p for p, d in _scope_docs(ix, doc) if d.startswith(head) or d.endswith(tail)]
    return hits if len(hits) == 1 else []


def _scope_docs(ix: SkillIndex, doc: Doc) -> list[tuple[str, str]]:
    """(path, name) of the skills and sheets of the document's plugin (or skill)."""
    if doc.plugin_dir and doc.plugin_dir in ix.plugins:
        out = []
        for sd in ix.plugins[doc.plugin_dir].skills:
            skill = ix.skills.get(sd)
            if skill is None:
                continue
            out.append((skill.path, skill.name))
            out.extend((p, os.path.basename(p)[:-3]) for p in skill.sheets)
        return out
    return [(p, os.path.basename(p)[:-3]) for p in ix.docs_in_skill(doc.skill_dir)]


def _fuzzy(word: str, pool: list[str], key, cutoff: int = 80) -> list[str]:  # noqa: ANN001 - small helper
    if not pool:
        return []
    names = [key(p) for p in pool]
    found = process.extract(word, names, scorer=fuzz.ratio, score_cutoff=cutoff, limit=3)
    return [pool[i] for _n, _s, i in found]
