"""SkillIndex: every document of every root, the name tables, resolved edges and reverse edges.

`update(path, text)` and `remove(path)` re-resolve only the documents whose lookups the change
touches (each resolution records the keys it looked up), and return every path whose findings may
have changed so that adapters republish just those.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable

from .config import Settings, load_settings
from .discover import Layout, read_doc, walk
from .model import Doc, DocKind, ParsedDoc, Plugin, Resolution, Skill, Status, TargetKind
from .parse import parse
from .resolve import resolve

ROUTING_KINDS = {"table", "route_to", "arrow"}


class SkillIndex:
    def __init__(self, settings: Settings | None = None) -> None:
        self.base_settings = settings or Settings()
        self.roots: list[str] = []
        self.root_settings: dict[str, Settings] = {}
        self.settings_errors: dict[str, list[str]] = {}
        self.files: set[str] = set()
        self.dirs: set[str] = set()
        self.lower_files: dict[str, str] = {}
        self.files_by_basename: dict[str, list[str]] = defaultdict(list)
        self.files_in_dir: dict[str, list[str]] = defaultdict(list)
        self.docs: dict[str, Doc] = {}
        self.skills: dict[str, Skill] = {}  # skill dir -> skill
        self.plugins: dict[str, Plugin] = {}  # plugin dir (or manifest#name) -> plugin
        self.plugin_by_name: dict[str, list[str]] = defaultdict(list)
        self.plugins_by_suffix: dict[str, list[str]] = defaultdict(list)
        self.skill_by_name: dict[str, list[str]] = defaultdict(list)
        self.commands_by_name: dict[str, list[str]] = defaultdict(list)
        self.sheets_by_stem: dict[str, list[str]] = defaultdict(list)
        self.resolutions: dict[str, list[Resolution]] = {}
        self.reverse: dict[str, set[str]] = defaultdict(set)  # target key -> referring doc paths
        self.deps: dict[str, set[str]] = defaultdict(set)  # lookup key -> docs that made it
        self.doc_deps: dict[str, set[str]] = {}
        self.read_problems: dict[str, tuple[str, str]] = {}  # path -> (code, message)
        self.walk_problems: list[tuple[str, str, str]] = []
        self.layouts: dict[str, Layout] = {}
        self.generation = 0
        self._graph_cache: dict[str, object] = {}
        self._cold = False

    # --- building ---------------------------------------------------------------------------
    def add_root(self, root: str, overlay: dict[str, str] | None = None) -> None:
        """Index one root from disk; `overlay` holds texts that win over the disk (open buffers)."""
        root = os.path.realpath(root)
        if root in self.roots:
            return
        settings, errors = load_settings(root, self.base_settings)
        self.roots.append(root)
        self.root_settings[root] = settings
        self.settings_errors[root] = errors
        layout = walk(root, settings.ignore)
        self.layouts[root] = layout
        self.walk_problems.extend(layout.problems)
        for d in layout.dirs:
            self.dirs.add(d)
        for f in layout.files:
            self._add_file(f)
        for decl in layout.plugins:
            key = decl.dir if not decl.virtual else f"{decl.manifest}#{decl.name}"
            self._add_plugin(Plugin(decl.name, decl.dir or key, root, decl.manifest or None, list(decl.skills)), key)
        overlay = overlay or {}
        # skills first, so that every sheet finds its skill as it is added
        ordered = sorted(layout.docs.items(), key=lambda item: item[1] is not DocKind.SKILL)
        self._cold = True
        for path, kind in ordered:
            text = overlay.get(path)
            if text is None:
                result = read_doc(path, settings.max_file_bytes)
                if result.problem:
                    self.read_problems[path] = result.problem
                if result.text is None:
                    continue
                text = result.text
            self._add_doc(path, kind, root, parse(text))
        self._cold = False
        self._graph_cache.clear()
        self._resolve_all([p for p, d in self.docs.items() if d.root == root])
        self.generation += 1
        self._graph_cache.clear()

    def remove_root(self, root: str) -> set[str]:
        root = os.path.realpath(root)
        if root not in self.roots:
            return set()
        gone = [p for p, d in self.docs.items() if d.root == root]
        touched: set[str] = set()
        for p in gone:
            touched |= self.remove(p)
        self.roots.remove(root)
        prefix = root + os.sep
        for f in [f for f in self.files if f.startswith(prefix)]:
            self._drop_file(f)
        self.dirs = {d for d in self.dirs if not (d == root or d.startswith(prefix))}
        for key in [k for k, p in self.plugins.items() if p.root == root]:
            self._drop_plugin(key)
        self.layouts.pop(root, None)
        return {t for t in touched if t in self.docs}

    @classmethod
    def from_roots(cls, roots: Iterable[str], settings: Settings | None = None) -> SkillIndex:
        ix = cls(settings)
        for r in roots:
            ix.add_root(r)
        return ix

    # --- tables -----------------------------------------------------------------------------
    def _add_file(self, path: str) -> None:
        if path in self.files:
            return
        self.files.add(path)
        self.lower_files[path.lower()] = path
        self.files_by_basename[os.path.basename(path)].append(path)
        self.files_in_dir[os.path.dirname(path)].append(path)
        d = os.path.dirname(path)
        while d not in self.dirs and self.root_of(d):
            self.dirs.add(d)
            d = os.path.dirname(d)

    def _drop_file(self, path: str) -> None:
        if path not in self.files:
            return
        self.files.discard(path)
        self.lower_files.pop(path.lower(), None)
        _discard(self.files_by_basename, os.path.basename(path), path)
        _discard(self.files_in_dir, os.path.dirname(path), path)

    def _add_plugin(self, plugin: Plugin, key: str) -> None:
        self.plugins[key] = plugin
        self.plugin_by_name[plugin.name].append(key)
        head, _, tail = plugin.name.partition("-")
        if tail:
            self.plugins_by_suffix[tail].append(key)

    def _drop_plugin(self, key: str) -> None:
        plugin = self.plugins.pop(key, None)
        if plugin is None:
            return
        _discard(self.plugin_by_name, plugin.name, key)
        _discard(self.plugins_by_suffix, plugin.name.partition("-")[2], key)

    def root_of(self, path: str) -> str | None:
        best = None
        for r in self.roots:
            if (path == r or path.startswith(r + os.sep)) and (best is None or len(r) > len(best)):
                best = r
        return best

    def _plugin_of(self, path: str, root: str) -> str | None:
        d = os.path.dirname(path)
        while True:
            if d in self.plugins:
                return d
            if d == root or len(d) <= len(root):
                return None
            d = os.path.dirname(d)

    def _skill_dir_of(self, path: str, root: str) -> str | None:
        d = os.path.dirname(path)
        while True:
            if d in self.skills:
                return d
            if d == root or len(d) <= len(root):
                return None
            d = os.path.dirname(d)

    def _add_doc(self, path: str, kind: DocKind, root: str, parsed: ParsedDoc) -> None:
        plugin = self._plugin_of(path, root)
        if kind is DocKind.SKILL:
            sdir = os.path.dirname(path)
            folder = os.path.basename(sdir)
            name = parsed.fm_name() or folder
            skill = Skill(name, folder, sdir, path, root, plugin)
            self.skills[sdir] = skill
            for n in {name, folder}:
                self.skill_by_name[n].append(sdir)
            if plugin and sdir not in self.plugins[plugin].skills:
                self.plugins[plugin].skills.append(sdir)
            # sheets indexed before their skill get their owner now
            for p in ([] if self._cold else self._docs_under(sdir)):
                self.docs[p].skill_dir = sdir
                if p not in skill.sheets and self.docs[p].kind is DocKind.SHEET:
                    skill.sheets.append(p)
            doc = Doc(path, kind, root, parsed, sdir, plugin)
        else:
            sdir = self._skill_dir_of(path, root)
            doc = Doc(path, kind, root, parsed, sdir, plugin)
            if kind is DocKind.SHEET:
                self.sheets_by_stem[os.path.basename(path)[:-3]].append(path)
                if sdir and path not in self.skills[sdir].sheets:
                    self.skills[sdir].sheets.append(path)
            elif kind is DocKind.COMMAND:
                self.commands_by_name[os.path.basename(path)[:-3]].append(path)
        self.docs[path] = doc

    def _drop_doc(self, path: str) -> Doc | None:
        doc = self.docs.pop(path, None)
        if doc is None:
            return None
        if doc.kind is DocKind.SKILL:
            skill = self.skills.pop(os.path.dirname(path), None)
            if skill:
                for n in {skill.name, skill.folder}:
                    _discard(self.skill_by_name, n, skill.dir)
                if skill.plugin and skill.plugin in self.plugins and skill.dir in self.plugins[skill.plugin].skills:
                    self.plugins[skill.plugin].skills.remove(skill.dir)
        elif doc.kind is DocKind.SHEET:
            _discard(self.sheets_by_stem, os.path.basename(path)[:-3], path)
            if doc.skill_dir in self.skills and path in self.skills[doc.skill_dir].sheets:
                self.skills[doc.skill_dir].sheets.remove(path)
        elif doc.kind is DocKind.COMMAND:
            _discard(self.commands_by_name, os.path.basename(path)[:-3], path)
        self._unresolve(path)
        return doc

    # --- resolution -------------------------------------------------------------------------
    def _resolve_doc(self, path: str) -> None:
        self._unresolve(path)
        doc = self.docs[path]
        deps: set[str] = set()
        out: list[Resolution] = []
        for ref in doc.parsed.references:
            res = resolve(self, doc, ref, deps)
            out.append(res)
            if res.target is not None and res.status in (Status.OK, Status.BAD_ANCHOR, Status.AMBIGUOUS, Status.CASE):
                self.reverse[res.target.key].add(path)
        self.resolutions[path] = out
        self.doc_deps[path] = deps
        for key in deps:
            self.deps[key].add(path)

    def _unresolve(self, path: str) -> None:
        for res in self.resolutions.pop(path, ()):
            if res.target is not None:
                refs = self.reverse.get(res.target.key)
                if refs is not None:
                    refs.discard(path)
                    if not refs:
                        del self.reverse[res.target.key]
        for key in self.doc_deps.pop(path, ()):
            users = self.deps.get(key)
            if users is not None:
                users.discard(path)
                if not users:
                    del self.deps[key]

    def _resolve_all(self, paths: Iterable[str]) -> None:
        for p in paths:
            if p in self.docs:
                self._resolve_doc(p)

    # --- incremental ------------------------------------------------------------------------
    def classify(self, path: str) -> DocKind | None:
        """What a (possibly new) Markdown file is, from the tree as indexed now."""
        root = self.root_of(path)
        if root is None or not path.lower().endswith(".md"):
            return None
        rel_parts = os.path.relpath(path, root).split(os.sep)
        if any(p.startswith(".") and p not in (".claude", ".agents", ".codex", ".github", ".cursor")
               for p in rel_parts[:-1]):
            return None
        if any(p in ("node_modules", ".git") for p in rel_parts):
            return None
        base = os.path.basename(path)
        if base.lower() == "skill.md":
            return DocKind.SKILL
        if self._skill_dir_of(path, root):
            return DocKind.SHEET
        parent = os.path.dirname(path)
        grand = os.path.dirname(parent)
        folder = os.path.basename(parent)
        if folder in ("commands", "agents") and (grand in self.plugins or os.path.basename(grand) == ".claude"
                                                 or grand == root):
            return DocKind.COMMAND if folder == "commands" else DocKind.AGENT
        return None

    def update(self, path: str, text: str) -> set[str]:
        """New text for one file (created or changed). Returns the paths whose findings may change."""
        path = os.path.normpath(path)
        root = self.root_of(path)
        if root is None:
            return set()
        self._graph_cache.clear()
        self.read_problems.pop(path, None)
        is_new_file = path not in self.files
        self._add_file(path)
        kind = self.docs[path].kind if path in self.docs else self.classify(path)
        changed: set[str] = {"file:" + path}
        touched: set[str] = set()
        old = self.docs.get(path)
        parsed = parse(text)
        if old is not None:
            changed |= self._identity_keys(old)
            touched |= self._graph_neighbours(old)
            self._drop_doc(path)
        if kind is None:
            if is_new_file:
                touched |= self._reresolve(changed)
            return touched
        self._add_doc(path, kind, root, parsed)
        new = self.docs[path]
        changed |= self._identity_keys(new)
        if kind is DocKind.SKILL and old is None:
            touched |= self._adopt_files(os.path.dirname(path), root)
        self._resolve_doc(path)
        touched |= self._reresolve(changed - ({"anchors:" + path} if old and old.parsed.headings == parsed.headings
                                              else set()))
        touched.add(path)
        touched |= self._graph_neighbours(new)
        return self._finish(touched)

    def remove(self, path: str) -> set[str]:
        """A file (or a whole folder) is gone. Returns the paths whose findings may change."""
        path = os.path.normpath(path)
        self._graph_cache.clear()
        touched: set[str] = set()
        if path in self.dirs or any(f.startswith(path + os.sep) for f in self.files_in_dir.get(path, ())):
            prefix = path + os.sep
            for f in [f for f in self.files if f.startswith(prefix)]:
                touched |= self.remove(f)
            self.dirs = {d for d in self.dirs if not (d == path or d.startswith(prefix))}
            for key in [k for k in self.plugins if k == path or k.startswith(prefix)]:
                self._drop_plugin(key)
            return self._finish(touched)
        changed = {"file:" + path}
        old = self.docs.get(path)
        if old is not None:
            changed |= self._identity_keys(old)
            touched |= self._graph_neighbours(old)
            self._drop_doc(path)
            if old.kind is DocKind.SKILL:
                # without its SKILL.md a folder holds no sheets: they leave the index with it
                for p in self._docs_under(os.path.dirname(path)):
                    sheet = self.docs[p]
                    changed |= self._identity_keys(sheet)
                    self._drop_doc(p)
                    outer = self._skill_dir_of(p, old.root)
                    if outer:
                        self._add_doc(p, DocKind.SHEET, old.root, sheet.parsed)
                        self._resolve_doc(p)
                        touched.add(p)
        self.read_problems.pop(path, None)
        self._drop_file(path)
        touched |= self._reresolve(changed)
        touched.discard(path)
        return self._finish(touched)

    def rename(self, old: str, new: str, text: str | None = None) -> set[str]:
        touched = self.remove(old)
        if text is None:
            result = read_doc(new, self.settings_for(new).max_file_bytes)
            text = result.text
        if text is not None:
            touched |= self.update(new, text)
        return self._finish(touched)

    def _finish(self, touched: set[str]) -> set[str]:
        self.generation += 1
        self._graph_cache.clear()
        return {t for t in touched if t in self.docs}

    def _identity_keys(self, doc: Doc) -> set[str]:
        """What other documents may have looked up to find this one."""
        keys = {"file:" + doc.path, "anchors:" + doc.path}
        base = os.path.basename(doc.path)[:-3]
        keys.add("name:" + base)
        if doc.kind is DocKind.SKILL:
            skill_dir = os.path.dirname(doc.path)
            keys.add("name:" + os.path.basename(skill_dir))
            name = doc.parsed.fm_name()
            if name:
                keys.add("name:" + name)
        return keys

    def _reresolve(self, keys: set[str]) -> set[str]:
        users: set[str] = set()
        for k in keys:
            users |= self.deps.get(k, set())
        before = {u: self._targets(u) for u in users}
        self._resolve_all(users)
        touched = set(users)
        for u in users:
            touched |= before[u] ^ self._targets(u)  # orphan state of old and new targets
        return touched

    def _targets(self, path: str) -> set[str]:
        return {r.target.key for r in self.resolutions.get(path, ()) if r.target is not None}

    def _graph_neighbours(self, doc: Doc) -> set[str]:
        """Documents whose graph findings (orphan, duplicate, unreachable) can move with this one."""
        out = self._targets(doc.path)
        if doc.kind is DocKind.SKILL:
            name = doc.parsed.fm_name() or os.path.basename(os.path.dirname(doc.path))
            out |= {self.skills[s].path for s in self.skill_by_name.get(name, ()) if s in self.skills}
        if doc.plugin_dir and doc.plugin_dir in self.plugins:
            out |= {self.skills[s].path for s in self.plugins[doc.plugin_dir].skills if s in self.skills}
        return out

    def _adopt_files(self, skill_dir: str, root: str) -> set[str]:
        """A new SKILL.md makes the Markdown files around it sheets: read and index them."""
        added: set[str] = set()
        prefix = skill_dir + os.sep
        for f in [f for f in self.files if f.startswith(prefix) and f.lower().endswith(".md")]:
            if f in self.docs or os.path.basename(f).lower() == "skill.md":
                continue
            result = read_doc(f, self.settings_for(f).max_file_bytes)
            if result.text is None:
                continue
            self._add_doc(f, DocKind.SHEET, root, parse(result.text))
            self._resolve_doc(f)
            added.add(f)
            added |= self._reresolve({"file:" + f, "name:" + os.path.basename(f)[:-3]})
        return added

    # --- queries ----------------------------------------------------------------------------
    def settings_for(self, path: str) -> Settings:
        root = self.root_of(path)
        return self.root_settings.get(root, self.base_settings) if root else self.base_settings

    def skills_named(self, name: str) -> list[str]:
        return list(dict.fromkeys(self.skill_by_name.get(name, ())))

    def plugins_named(self, name: str) -> list[str]:
        return list(self.plugin_by_name.get(name, ()))

    def docs_in_skill(self, skill_dir: str | None) -> list[str]:
        if not skill_dir:
            return []
        skill = self.skills.get(skill_dir)
        if skill is not None:
            return list(skill.sheets)
        return self._docs_under(skill_dir)

    def _docs_under(self, skill_dir: str) -> list[str]:
        prefix = skill_dir + os.sep
        out = []
        for p, d in self.docs.items():
            if not p.startswith(prefix) or d.kind is DocKind.SKILL:
                continue
            # a sheet of a skill nested deeper belongs to that skill, not this one
            if d.skill_dir is None or d.skill_dir == skill_dir or not d.skill_dir.startswith(prefix):
                out.append(p)
        return out

    def name_of(self, path: str) -> str:
        doc = self.docs.get(path)
        if doc is None:
            return os.path.basename(path)
        if doc.kind is DocKind.SKILL:
            return self.skills[os.path.dirname(path)].name
        return os.path.basename(path)[:-3]

    def all_names(self) -> list[str]:
        cached = self._graph_cache.get("all_names")
        if cached is not None and not self._cold:
            return cached  # type: ignore[return-value]
        names = set(self.skill_by_name) | set(self.sheets_by_stem) | set(self.commands_by_name) | set(self.plugin_by_name)
        out = sorted(n for n in names if self.paths_for_name(n))
        self._graph_cache["all_names"] = out
        return out

    def paths_for_name(self, name: str) -> list[str]:
        out = [self.skills[s].path for s in self.skill_by_name.get(name, ()) if s in self.skills]
        out += list(self.sheets_by_stem.get(name, ()))
        out += list(self.commands_by_name.get(name, ()))
        out += list(self.plugin_by_name.get(name, ()))
        return out

    def referrers(self, key: str) -> set[str]:
        return set(self.reverse.get(key, ()))

    def skill_of(self, path: str) -> Skill | None:
        doc = self.docs.get(path)
        if doc is None or doc.skill_dir is None:
            return None
        return self.skills.get(doc.skill_dir)

    def plugin_name_of(self, path: str) -> str | None:
        doc = self.docs.get(path)
        if doc and doc.plugin_dir and doc.plugin_dir in self.plugins:
            return self.plugins[doc.plugin_dir].name
        return None

    def doc_id(self, path: str) -> str:
        """`plugin/skill` or `plugin/skill/sheet.md` (no plugin part outside plugins)."""
        doc = self.docs.get(path)
        if doc is None:
            return path
        plugin = self.plugin_name_of(path)
        skill = self.skills.get(doc.skill_dir) if doc.skill_dir else None
        prefix = f"{plugin}/" if plugin else ""
        if skill is None:
            rel = os.path.relpath(path, doc.plugin_dir or doc.root).replace(os.sep, "/")
            return prefix + rel
        if doc.kind is DocKind.SKILL:
            return prefix + skill.folder
        return prefix + skill.folder + "/" + os.path.relpath(path, skill.dir).replace(os.sep, "/")

    def routing_edges(self, path: str) -> list[tuple[Resolution, str]]:
        """(resolution, target doc path) of every routing reference of a document."""
        out = []
        for res in self.resolutions.get(path, ()):
            if res.target is None or res.status not in (Status.OK, Status.BAD_ANCHOR):
                continue
            if res.ref.kind.value not in ROUTING_KINDS and not res.ref.phrase:
                continue
            target = self.target_doc(res.target.key, res.target.kind)
            if target:
                out.append((res, target))
        return out

    def target_doc(self, key: str, kind: TargetKind) -> str | None:
        """The document a target stands for: a plugin stands for its router skill."""
        if kind is TargetKind.PLUGIN:
            plugin = self.plugins.get(key)
            if not plugin:
                return None
            skills = [self.skills[s] for s in plugin.skills if s in self.skills]
            routers = [s for s in skills if s.folder.startswith("using-")] or skills
            return routers[0].path if len(routers) == 1 or routers is not skills else None
        return key if key in self.docs else None


def _discard(table: dict[str, list[str]], key: str, value: str) -> None:
    items = table.get(key)
    if items is None:
        return
    if value in items:
        items.remove(value)
    if not items:
        del table[key]
