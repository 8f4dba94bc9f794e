"""SkillIndex: every document of every root, the name tables, resolved edges and reverse edges.

Incremental updates go through one batch primitive, `commit`: file-table changes first, then the
classification of every Markdown file whose kind or owner may have moved (a new or deleted
SKILL.md re-homes the files under it), then re-resolution of exactly the documents whose lookups
the batch touched (each resolution records the keys it looked up). The contract that the tests
hold it to: any sequence of commits ends in the same index, and the same findings, as a cold
index of the final tree. Plugin declarations (manifests, `plugins/<name>/skills`, ignore files
and settings) are not incremental: the watcher re-indexes the root for those, reusing every parse
whose text did not change.

Table lists are kept sorted and dicts in path order, so that ties (ambiguous names, "did you
mean" candidates, routers of a plugin) are broken the same way however the index was built.

Threading: mutations take `ix.lock` (re-entrant). Readers on another thread (the server's event
loop while the watcher commits) must hold it too while they read.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from sys import intern

from rapidfuzz import fuzz, process

from . import heap
from .cache import ParseCache
from .config import Settings, load_settings
from .discover import AGENT_DIRS, SKIP_DIRS, IgnoreRules, Stamp, is_venv, read_doc, walk
from .model import Doc, DocKind, ParsedDoc, Plugin, Reference, Resolution, Skill, Status, TargetKind
from .parse import parse
from .resolve import resolve
from .spill import TextSpill

ROUTING_KINDS = {"table", "route_to", "arrow"}
# Statuses whose outcome (candidates, the case-insensitive match, the list of matches) comes from
# a scan of global tables rather than one keyed lookup: re-resolved whenever the name set changes.
FUZZY = frozenset({Status.MISSING, Status.UNKNOWN_PLUGIN, Status.AMBIGUOUS, Status.CASE})
LINKED = (Status.OK, Status.BAD_ANCHOR, Status.AMBIGUOUS, Status.CASE)  # a reference that counts as a link
# "Did you mean" candidates are names similar to the unresolved word (rapidfuzz ratio 75-85 in
# resolve.py) or names that contain it (a name cut short by whole words). A fuzzy document is
# re-resolved when a name that came or went in a batch is at least this similar (case-insensitive)
# to one of its unresolved words, or contains it or is contained in it. The resolver may tune its
# cutoffs down to this; the property test guards the assumption.
FUZZY_NEAR = 60
FUZZY_ALL = 400  # more changed names than this in one batch: re-resolve every fuzzy document
TYPING_MEMO = 4  # documents whose per-reference resolutions are kept for their next edit
# a reference but its span -> (how it resolved, what it looked up): one document's, for its next edit
_Memo = dict[tuple[object, ...], tuple[Resolution, tuple[str, ...]]]
JOURNAL = 256  # entries of the journal of changed documents; older ones are merged, never dropped
# A file whose mtime is this close to the moment it was read may still change within the same
# timestamp tick; its stamp is not trusted later (the "racy git" rule).
RACY_NS = 2_000_000_000
LOAD_CHUNK = 2048  # documents read and parsed together when a root is loaded
COLD_CHUNK = 8192  # the same when most must be parsed (each batch starts its parse workers)


@dataclass(slots=True)
class FileUpdate:
    """New content of one file, read (and ideally parsed) before the index lock is taken."""

    text: str | None = None  # None: not Markdown, or not readable as text
    parsed: ParsedDoc | None = None
    problem: tuple[str, str] | None = None
    size: int = 0
    mtime_ns: int = 0
    racy: bool = True


@dataclass(slots=True)
class _Batch:
    keys: set[str] = field(default_factory=set)  # dependency keys fired
    dirty: set[str] = field(default_factory=set)  # documents to re-resolve
    touched: set[str] = field(default_factory=set)  # paths whose findings may change
    names_changed: bool = False
    reclass: set[str] = field(default_factory=set)  # dirs whose SKILL.md presence changed
    before: dict[str, list[Resolution]] = field(default_factory=dict)  # doc -> resolutions before
    gone: set[str] = field(default_factory=set)  # documents (or read problems) that left the index
    moved: set[str] = field(default_factory=set)  # documents placed anew: ids and names may differ
    members: set[str] = field(default_factory=set)  # plugins whose skills changed (their router may)
    names: set[str] = field(default_factory=set)  # names and file names that came or went
    plugins: set[str] = field(default_factory=set)  # plugins whose reachability may move
    skill_edges: bool = False  # a skill's routing edges may have moved (cycles)
    edge_docs: set[str] = field(default_factory=set)  # the documents whose edges moved
    reorder: bool = False


def is_markdown(path: str) -> bool:
    return path.endswith(".md") or path.endswith(".MD")


class SkillIndex:
    def __init__(self, settings: Settings | None = None) -> None:
        self.lock = threading.RLock()
        self.base_settings = settings or Settings()
        self.roots: list[str] = []
        self.root_settings: dict[str, Settings] = {}
        self.settings_errors: dict[str, list[str]] = {}
        self.files: set[str] = set()
        self.dirs: set[str] = set()
        self.subdirs: dict[str, set[str]] = defaultdict(set)
        self.lower_files: dict[str, str] = {}
        self._lower_all: dict[str, list[str]] = defaultdict(list)
        self.files_by_basename: dict[str, list[str]] = defaultdict(list)
        self.files_in_dir: dict[str, list[str]] = defaultdict(list)
        self.skill_md_dirs: dict[str, int] = defaultdict(int)  # dir -> files named skill.md (any case)
        self.docs: dict[str, Doc] = {}
        self.skills: dict[str, Skill] = {}  # skill dir -> skill
        self.plugins: dict[str, Plugin] = {}  # plugin dir (or manifest#name) -> plugin
        self.virtual_plugins: set[str] = set()
        self.plugin_by_name: dict[str, list[str]] = defaultdict(list)
        self.plugins_by_suffix: dict[str, list[str]] = defaultdict(list)
        self.skill_by_name: dict[str, list[str]] = defaultdict(list)
        self.commands_by_name: dict[str, list[str]] = defaultdict(list)
        self.sheets_by_stem: dict[str, list[str]] = defaultdict(list)
        self.resolutions: dict[str, list[Resolution]] = {}
        self.reverse: dict[str, set[str]] = defaultdict(set)  # target key -> referring doc paths
        # lookup key -> the docs that made it: one doc as itself, more as a set (most keys have
        # one user, and a set costs 216 bytes: 15 MB over a 10,000-skill tree)
        self.deps: dict[str, str | set[str]] = {}
        self.doc_deps: dict[str, tuple[str, ...]] = {}
        self.fuzzy_docs: set[str] = set()
        # documents with a name or path that resolves to nothing (what whole-tree rules about
        # dead references read, instead of every document's resolutions)
        self.unresolved_docs: set[str] = set()
        self._fuzzy_words: dict[str, set[str]] = {}
        # path -> (generation, place, {reference but its span: (resolution, what it looked up)}) of
        # the last few documents re-resolved for their own edit: the next keystroke in a 1,000-row
        # router then resolves only the row it changed
        self._typing: dict[str, tuple[int, tuple[object, ...], _Memo]] = {}
        self.read_problems: dict[str, tuple[str, str]] = {}  # path -> (code, message)
        self._walk_problems: dict[str, list[tuple[str, str, str]]] = {}
        # Texts an editor gave for Markdown files that are not documents (yet): used if a new
        # SKILL.md makes them sheets, so that open buffers keep winning over the disk.
        self.detached: dict[str, str] = {}
        self.editor_paths: set[str] = set()  # documents whose text came from an editor
        self.texts = TextSpill()  # the compressed texts of documents no editor has open
        self.racy: set[str] = set()  # documents whose size+mtime stamp cannot be trusted
        self.generation = 0
        # documents whose Doc, text or resolutions changed in the batch under way, and per
        # generation since (None: everything may have), so that a view need not scan every document
        self._changed: set[str] = set()
        # (first generation, last generation, the documents changed to reach them; None: all)
        self._journal: deque[tuple[int, int, frozenset[str] | None]] = deque()
        self._graph_cache: dict[str, object] = {}  # whole-tree figures of rules, dropped at every commit
        # per-document figures of rules, kept across commits: each entry holds the object it was
        # derived from (a resolutions list) and is used only while that is still the one indexed
        self.rule_memo: dict[str, dict[str, object]] = {}
        # views that other layers build from the index and keep current with `generation` (the
        # router): owned by the index so that they live and die with it
        self.derived: dict[str, object] = {}
        self._cycle_members: set[str] | None = None
        # skill -> (its resolutions, the skills it routes to): kept while its resolutions are the
        # same list and no document came, went or changed plugin (what `target_doc` reads)
        self._skill_succ: dict[str, tuple[list[Resolution] | None, list[str]]] = {}
        self._cold = False  # read by resolve.py's caches; the index never resolves mid-build

    @property
    def walk_problems(self) -> list[tuple[str, str, str]]:
        return [p for r in self.roots for p in self._walk_problems.get(r, ())]

    def walk_problem_at(self, path: str) -> bool:
        root = self.root_of(path)
        return root is not None and any(p[0] == path for p in self._walk_problems.get(root, ()))

    def _drop_walk_problems(self, path: str, b: _Batch, folder: bool) -> None:
        """What walk reported about a path (a symlink, an unreadable folder) goes with the path."""
        root = self.root_of(path)
        problems = self._walk_problems.get(root or "")
        if not problems:
            return
        prefix = path + os.sep
        keep = [p for p in problems if not (p[0] == path or (folder and p[0].startswith(prefix)))]
        if len(keep) != len(problems):
            b.touched |= {p[0] for p in problems} - {p[0] for p in keep}
            b.gone |= {p[0] for p in problems} - {p[0] for p in keep}
            self._walk_problems[root or ""] = keep

    # --- building ---------------------------------------------------------------------------
    @classmethod
    def from_roots(cls, roots: Iterable[str], settings: Settings | None = None,
                   overlay: dict[str, str] | None = None) -> SkillIndex:
        """A cold index of several roots, resolved once; `overlay` texts win over the disk."""
        ix = cls(settings)
        with ix.lock, heap.few_collections():
            for r in roots:
                r = os.path.realpath(r)
                if r not in ix.roots:
                    ix._load_root(r, overlay)
            ix._resolve_everything()
            if overlay:
                ix.editor_paths |= {p for p in overlay if p in ix.docs}
        return ix

    def add_root(self, root: str, overlay: dict[str, str] | None = None) -> set[str]:
        """Index one root from disk; `overlay` holds texts that win over the disk (open buffers).

        Every document is re-resolved: a bare name may resolve into the new root.
        """
        root = os.path.realpath(root)
        with self.lock, heap.few_collections():
            if root in self.roots:
                return set()
            self._load_root(root, overlay)
            if overlay:
                self.editor_paths |= {p for p in overlay if p in self.docs and p.startswith(root + os.sep)}
            self._resolve_everything()
            return set(self.docs) | set(self.read_problems)

    def remove_root(self, root: str) -> set[str]:
        """Forget a root. Returns every path whose findings may change (its own docs included)."""
        root = os.path.realpath(root)
        with self.lock, heap.few_collections():
            if root not in self.roots:
                return set()
            gone = self._unload_root(root)
            self.roots.remove(root)
            self._resolve_everything()
            return gone | set(self.docs) | set(self.read_problems) | set(self.read_problems)

    def reindex_root(self, root: str, overlay: dict[str, str] | None = None,
                     keep_open: Iterable[str] = ()) -> set[str]:
        """Index a root again from disk, keeping its place among the roots.

        Parses are reused for every document whose text did not change, so this costs a walk, a
        read of the bytes and a resolution pass. `keep_open` names documents whose current text
        (an editor's) wins over the disk, like `overlay`.
        """
        root = os.path.realpath(root)
        with self.lock, heap.few_collections():
            if root not in self.roots:
                return self.add_root(root, overlay)
            texts = dict(overlay or {})
            for p in keep_open:
                p = os.path.normpath(p)
                if p in texts or not (p == root or p.startswith(root + os.sep)):
                    continue
                if p in self.docs:
                    texts[p] = self.docs[p].parsed.text
                elif p in self.detached:
                    texts[p] = self.detached[p]
            position = self.roots.index(root)
            reuse = {p: d for p, d in self.docs.items() if d.root == root}
            # parses depend on the root's limits: after a settings change, nothing is reused
            limits = self.root_settings[root].limits()
            if load_settings(root, self.base_settings)[0].limits() != limits:
                reuse = {}
            editor = {p for p in self.editor_paths if p in texts}
            gone = self._unload_root(root)
            self.roots.remove(root)
            self._load_root(root, texts, reuse=reuse, position=position)
            self.editor_paths |= {p for p in editor if p in self.docs}
            self._resolve_everything()
            return gone | set(self.docs) | set(self.read_problems)

    def _load_root(self, root: str, overlay: dict[str, str] | None, reuse: dict[str, Doc] | None = None,
                   position: int | None = None) -> None:
        settings, errors = load_settings(root, self.base_settings)
        if position is None:
            self.roots.append(root)
        else:
            self.roots.insert(position, root)
        self.root_settings[root] = settings
        self.settings_errors[root] = errors
        layout = walk(root, settings.ignore)
        self._walk_problems[root] = list(layout.problems)
        for d in sorted(layout.dirs):
            self._add_dir(d, None)
        for f in sorted(layout.files):
            self._add_file(f, None)
        for decl in layout.plugins:
            key = decl.dir if not decl.virtual else f"{decl.manifest}#{decl.name}"
            self._add_plugin(Plugin(decl.name, decl.dir or key, root, decl.manifest or None, list(decl.skills)),
                             key, decl.virtual)
        overlay = overlay or {}
        reuse = reuse or {}
        # skills first, so that every sheet finds its skill as it is added
        ordered = sorted(layout.docs.items(), key=lambda item: (item[1] is not DocKind.SKILL, item[0]))
        now = time.time_ns()
        cache = ParseCache.for_root(root, settings.limits())
        # In chunks: the texts of one chunk are alive at once, not the whole tree's (every text
        # is held compressed once indexed, and a peak of all of them would stay in the process).
        at, chunk = 0, LOAD_CHUNK
        while at < len(ordered):
            part = ordered[at:at + chunk]
            at += chunk
            loaded: list[tuple[str, DocKind, FileUpdate]] = []
            stamps: list[tuple[str, Stamp] | None] = []  # of the files read, for the next start
            for path, kind in part:
                text = overlay.get(path)
                hit = None if text is not None or path in reuse else cache.stamped(path)
                if hit is not None:  # unchanged since the cache was written: not even read
                    parsed, (size, mtime_ns, _c, _i) = hit
                    loaded.append((path, kind, FileUpdate(None, parsed, None, size, mtime_ns, False)))
                    continue
                stamp = None
                if text is not None:
                    up = self.text_update(path, text)
                else:
                    result = read_doc(path, settings.max_file_bytes)
                    up = FileUpdate(result.text, None, result.problem, result.size, result.mtime_ns,
                                    now - result.mtime_ns < RACY_NS)
                    if not up.racy and not up.problem and result.stamp is not None:
                        stamp = (path, result.stamp)
                if up.problem:
                    self.read_problems[path] = up.problem
                if up.text is None:
                    continue
                old = reuse.get(path)
                if old is not None and old.parsed.text == up.text:
                    up.parsed = old.parsed
                else:
                    stamps.append(stamp)
                loaded.append((path, kind, up))
            # texts not reused are parsed together: from the on-disk cache, or in worker processes
            fresh = [up for _p, _k, up in loaded if up.parsed is None]
            parses = cache.parse_many([up.text for up in fresh], compact=True, stamps=stamps)  # type: ignore[misc]
            for up, parsed in zip(fresh, parses, strict=True):
                up.parsed = parsed
            for path, kind, up in loaded:
                if path in overlay:
                    up.parsed.expand()  # type: ignore[union-attr]  # an editor's buffer
                else:
                    up.parsed.compact(self.texts)  # type: ignore[union-attr]  # (a parse reused as it was)
                self._add_doc(path, kind, root, up.parsed, up)  # type: ignore[arg-type]
            if cache.stats.misses > cache.stats.hits:
                chunk = COLD_CHUNK  # parsing, in worker processes: fewer, larger batches
        cache.save(prune=not reuse)
        cache.close()
        for path, text in overlay.items():  # open buffers of files that are no documents (yet)
            if path not in layout.docs and path in layout.files and is_markdown(path):
                self.detached[path] = text
        self._sort_tables()

    def _unload_root(self, root: str) -> set[str]:
        """Drop everything of one root from the tables (no resolution). Returns its documents."""
        prefix = root + os.sep
        gone = {p for p, d in self.docs.items() if d.root == root}
        gone |= {p for p in self.read_problems if p.startswith(prefix)}
        for p in sorted((p for p in gone if p in self.docs), key=lambda p: self.docs[p].kind is DocKind.SKILL):
            self._drop_doc(p)  # sheets before skills
        for f in [f for f in self.files if f.startswith(prefix)]:
            self._drop_file(f, None)
        for d in sorted((d for d in self.dirs if d == root or d.startswith(prefix)), reverse=True):
            self._drop_dir(d, None)
        for key in [k for k, p in self.plugins.items() if p.root == root]:
            self._drop_plugin(key)
        for table in (self.read_problems, self.detached):
            for p in [p for p in table if p.startswith(prefix)]:
                del table[p]
        self.editor_paths = {p for p in self.editor_paths if not p.startswith(prefix)}
        self.racy = {p for p in self.racy if not p.startswith(prefix)}
        self._walk_problems.pop(root, None)
        self.root_settings.pop(root, None)
        self.settings_errors.pop(root, None)
        return gone

    def _resolve_everything(self) -> None:
        self._graph_cache.clear()
        for p in self.docs:
            self._resolve_doc(p)
        self._sort_tables()
        self._cycle_members = None
        self._skill_succ.clear()
        self._next_generation(everything=True)
        self._graph_cache.clear()
        heap.built(len(self.docs))  # (every caller builds under few_collections)

    def _next_generation(self, everything: bool = False) -> None:
        self.generation += 1
        g = self.generation
        if everything:  # a view from before this must look at everything anyway
            self._journal.clear()
        self._journal.append((g, g, None if everything else frozenset(self._changed)))
        self._changed = set()
        if len(self._journal) > JOURNAL:
            # the two oldest spans (after a whole-tree rebuild, which stays a boundary) become one:
            # a view that far behind re-reads a few documents more than it must, never fewer
            keep = self._journal.popleft() if self._journal[0][2] is None else None
            lo, _hi, older = self._journal.popleft()
            _lo, hi, newer = self._journal.popleft()
            self._journal.appendleft((lo, hi, (older or frozenset()) | (newer or frozenset())))
            if keep is not None:
                self._journal.appendleft(keep)

    def changed_since(self, generation: int) -> set[str] | None:
        """The documents whose Doc, text or resolutions changed, that came or went, or that name a
        plugin whose router skill may have changed, since `generation` (a few more when that lies
        inside a merged span of the journal); None after a whole-tree rebuild."""
        out: set[str] = set()
        covered = False
        for lo, hi, paths in self._journal:
            if hi <= generation:
                continue
            if not covered and lo > generation + 1:
                return None  # (older than the journal: cannot happen once it has an entry)
            covered = True
            if paths is None:
                return None
            out |= paths
        return out

    # --- tables -----------------------------------------------------------------------------
    def _add_dir(self, d: str, batch: _Batch | None) -> None:
        if d in self.dirs:
            return
        root = self.root_of(d)
        if root is None:
            return
        self.dirs.add(d)
        if batch is not None:
            batch.keys.add("file:" + d)
            batch.names.add(os.path.basename(d))
            batch.names_changed = True
        if d != root:
            parent = os.path.dirname(d)
            self.subdirs[parent].add(d)
            self._add_dir(parent, batch)

    def _drop_dir(self, d: str, batch: _Batch | None) -> None:
        if d not in self.dirs:
            return
        self.dirs.discard(d)
        self.subdirs.pop(d, None)
        kids = self.subdirs.get(os.path.dirname(d))
        if kids is not None:
            kids.discard(d)
            if not kids:
                del self.subdirs[os.path.dirname(d)]
        if batch is not None:
            batch.keys.add("file:" + d)
            batch.names.add(os.path.basename(d))
            batch.names_changed = True

    def _add_file(self, path: str, batch: _Batch | None) -> None:
        if path in self.files:
            return
        self.files.add(path)
        low = path.lower()
        _insort(self._lower_all, low, path)
        self.lower_files[low] = self._lower_all[low][0]
        _insort(self.files_by_basename, os.path.basename(path), path)
        parent = os.path.dirname(path)
        _insort(self.files_in_dir, parent, path)
        self._add_dir(parent, batch)
        if os.path.basename(path).lower() == "skill.md":
            self.skill_md_dirs[parent] += 1
            if batch is not None:
                batch.reclass.add(parent)
        if batch is not None:
            batch.keys.add("file:" + path)
            batch.names.add(os.path.basename(path))
            batch.names_changed = True

    def _drop_file(self, path: str, batch: _Batch | None) -> None:
        if path not in self.files:
            return
        self.files.discard(path)
        low = path.lower()
        _discard(self._lower_all, low, path)
        if low in self._lower_all:
            self.lower_files[low] = self._lower_all[low][0]
        else:
            self.lower_files.pop(low, None)
        _discard(self.files_by_basename, os.path.basename(path), path)
        parent = os.path.dirname(path)
        _discard(self.files_in_dir, parent, path)
        if os.path.basename(path).lower() == "skill.md":
            self.skill_md_dirs[parent] -= 1
            if self.skill_md_dirs[parent] <= 0:
                del self.skill_md_dirs[parent]
            if batch is not None:
                batch.reclass.add(parent)
        if batch is not None:
            batch.keys.add("file:" + path)
            batch.names.add(os.path.basename(path))
            batch.names_changed = True

    def _add_plugin(self, plugin: Plugin, key: str, virtual: bool = False) -> None:
        self.plugins[key] = plugin
        if virtual:
            self.virtual_plugins.add(key)
        _insort(self.plugin_by_name, plugin.name, key)
        head, _, tail = plugin.name.partition("-")
        if tail:
            _insort(self.plugins_by_suffix, tail, key)

    def _drop_plugin(self, key: str) -> None:
        plugin = self.plugins.pop(key, None)
        if plugin is None:
            return
        self.virtual_plugins.discard(key)
        _discard(self.plugin_by_name, plugin.name, key)
        _discard(self.plugins_by_suffix, plugin.name.partition("-")[2], key)

    def _sort_tables(self) -> None:
        """Dicts in key order: iteration order must not depend on the order of events."""
        self.docs = dict(sorted(self.docs.items()))
        self.skills = dict(sorted(self.skills.items()))
        self.plugins = dict(sorted(self.plugins.items()))
        self.plugin_by_name = defaultdict(list, sorted(self.plugin_by_name.items()))
        self.plugins_by_suffix = defaultdict(list, sorted(self.plugins_by_suffix.items()))

    def root_of(self, path: str) -> str | None:
        best = None
        for r in self.roots:
            if (path == r or path.startswith(r + os.sep)) and (best is None or len(r) > len(best)):
                best = r
        return best

    def _plugin_of(self, path: str, root: str) -> str | None:
        d = _up(path)
        while True:
            if d in self.plugins:
                return intern(d)  # one string for all its documents, not one each
            if d == root or len(d) <= len(root):
                return None
            d = _up(d)

    def _skill_dir_of(self, path: str, root: str) -> str | None:
        d = _up(path)
        while True:
            if d in self.skills:
                return intern(d)  # one string for all its documents, not one each
            if d == root or len(d) <= len(root):
                return None
            d = _up(d)

    def _under_skill_file(self, folder: str, root: str) -> bool:
        """A file named SKILL.md in this folder or above (readable or not): what makes a sheet."""
        while True:
            if folder in self.skill_md_dirs:
                return True
            if folder == root or len(folder) <= len(root):
                return False
            folder = _up(folder)

    def files_under(self, folder: str) -> list[str]:
        out: list[str] = []
        stack = [folder]
        while stack:
            d = stack.pop()
            out.extend(self.files_in_dir.get(d, ()))
            stack.extend(self.subdirs.get(d, ()))
        return out

    def dirs_under(self, folder: str) -> list[str]:
        out: list[str] = []
        stack = list(self.subdirs.get(folder, ()))
        while stack:
            d = stack.pop()
            out.append(d)
            stack.extend(self.subdirs.get(d, ()))
        return out

    def _add_doc(self, path: str, kind: DocKind, root: str, parsed: ParsedDoc, up: FileUpdate | None,
                 sheets: list[str] | None = None) -> Doc:
        plugin = self._plugin_of(path, root)
        if kind is DocKind.SKILL:
            sdir = intern(os.path.dirname(path))
            folder = os.path.basename(sdir)
            name = parsed.fm_name() or folder
            if sheets is None and sdir in self.skills:
                sheets = self.skills[sdir].sheets  # a second skill file in the folder takes it over
            skill = Skill(name, folder, sdir, path, root, plugin, sorted(sheets or ()))
            self.skills[sdir] = skill
            for n in {name, folder}:
                _insort(self.skill_by_name, n, sdir)
            if plugin and sdir not in self.plugins[plugin].skills:
                bisect.insort(self.plugins[plugin].skills, sdir)
            doc = Doc(path, kind, root, parsed, sdir, plugin)
        else:
            sdir = self._skill_dir_of(path, root)
            doc = Doc(path, kind, root, parsed, sdir, plugin)
            if kind is DocKind.SHEET:
                _insort(self.sheets_by_stem, os.path.basename(path)[:-3], path)
                if sdir and path not in self.skills[sdir].sheets:
                    bisect.insort(self.skills[sdir].sheets, path)
            elif kind is DocKind.COMMAND:
                _insort(self.commands_by_name, os.path.basename(path)[:-3], path)
        if up is not None:
            doc.size, doc.mtime_ns = up.size, up.mtime_ns
            if up.racy:
                self.racy.add(path)
            else:
                self.racy.discard(path)
        self.docs[path] = doc
        self._changed.add(path)
        if kind is DocKind.SKILL:
            self._changed |= self._skill_files(doc.skill_dir)  # the folder's skill may be another file now
        return doc

    def _drop_doc(self, path: str) -> Doc | None:
        doc = self.docs.pop(path, None)
        if doc is None:
            return None
        self._changed.add(path)
        if doc.kind is DocKind.SKILL:
            self._changed |= self._skill_files(os.path.dirname(path))
        if doc.kind is DocKind.SKILL:
            sdir = os.path.dirname(path)
            # names stay while another skill file of the folder (SKILL.md beside skill.md) has them
            others = [self.docs[p] for p in self.files_in_dir.get(sdir, ())
                      if p in self.docs and self.docs[p].kind is DocKind.SKILL]
            keep = {n for o in others for n in _skill_names(o)}
            for n in _skill_names(doc) - keep:
                _discard(self.skill_by_name, n, sdir)
            skill = self.skills.get(sdir)
            if skill is not None and skill.path == path:
                del self.skills[sdir]
                if not others and skill.plugin in self.plugins and sdir in self.plugins[skill.plugin].skills:
                    self.plugins[skill.plugin].skills.remove(sdir)
        elif doc.kind is DocKind.SHEET:
            _discard(self.sheets_by_stem, os.path.basename(path)[:-3], path)
            if doc.skill_dir in self.skills and path in self.skills[doc.skill_dir].sheets:
                self.skills[doc.skill_dir].sheets.remove(path)
        elif doc.kind is DocKind.COMMAND:
            _discard(self.commands_by_name, os.path.basename(path)[:-3], path)
        self.racy.discard(path)
        self._unresolve(path)
        return doc

    # --- resolution -------------------------------------------------------------------------
    def _resolve_doc(self, path: str, fired: set[str] | None = None) -> None:
        """Resolve every reference of one document. `fired`: the dependency keys of the batch that
        edited this very document (its text changed, nothing else about it): a reference that
        resolved one generation ago, and looked up none of those keys, resolves the same again."""
        doc = self.docs[path]
        deps: set[str] = set()
        out: list[Resolution] = []
        words: set[str] = set()
        place = (doc.kind, doc.root, doc.plugin_dir, doc.skill_dir)
        old = self._typing.pop(path, None) if fired is not None else None
        # valid only if the last resolution was in the batch just before this one (no other
        # batch fired keys in between) and the document sits where it sat
        before = old[2] if old is not None and old[0] == self.generation - 1 and old[1] == place else {}
        memo: _Memo | None = {} if fired is not None else None
        for ref in doc.parsed.references:
            if memo is None or fired is None:  # (a cold build: no lookups recorded per reference)
                res = resolve(self, doc, ref, deps)
            else:
                res = self._resolve_again(doc, ref, fired, before, memo, deps)
            out.append(res)
            if res.status in FUZZY:
                words |= _words(ref.target)
        self._record(path, out, deps, words)
        if memo is not None:
            self._typing[path] = (self.generation, place, memo)
            while len(self._typing) > TYPING_MEMO:
                del self._typing[next(iter(self._typing))]

    def _resolve_again(self, doc: Doc, ref: Reference, fired: set[str], before: _Memo, memo: _Memo,
                       deps: set[str]) -> Resolution:
        """One reference of a document edited again: as it resolved last time (`before`) if it is
        written the same and looked up none of the `fired` keys; noted in `memo` for next time."""
        key = (ref.kind, ref.target, ref.anchor, ref.phrase, ref.slash, ref.in_code)
        hit = before.get(key)
        if hit is not None and fired.isdisjoint(hit[1]):
            memo[key] = hit
            deps.update(hit[1])
            return Resolution(ref, hit[0].status, hit[0].target, hit[0].candidates, hit[0].detail)
        looked_up: set[str] = set()
        res = resolve(self, doc, ref, looked_up)
        deps |= looked_up
        if res.status not in FUZZY:  # "did you mean" candidates weigh every name: never kept
            memo[key] = (res, tuple(looked_up))
        return res

    def _record(self, path: str, out: list[Resolution], deps: set[str], words: set[str]) -> None:
        """Index one document's resolutions and lookups in place of its old ones, touching only the
        entries that differ (a keystroke in a 1,000-row router changes one row's)."""
        old = self.resolutions.get(path)
        self.resolutions[path] = out
        self._changed.add(path)
        linked = {r.target.key for r in out if r.target is not None and r.status in LINKED}
        was = {r.target.key for r in old if r.target is not None and r.status in LINKED} if old else set()
        reverse = self.reverse
        for key in was - linked:
            refs = reverse.get(key)
            if refs is not None:
                refs.discard(path)
                if not refs:
                    del reverse[key]
        for key in linked - was:
            reverse[key].add(path)
        # a tuple of interned keys: the same keys ("file:" of a popular sheet, a plugin's name)
        # come from thousands of documents, and a set per document costs ~5x a tuple
        keys = tuple(map(intern, deps))
        old_keys = self.doc_deps.get(path)
        self.doc_deps[path] = keys
        if old_keys:
            fresh = set(keys)
            self._forget_deps(path, [k for k in old_keys if k not in fresh])
            kept = set(old_keys)
            keys = tuple(k for k in keys if k not in kept)
        deps_of = self.deps
        for key in keys:
            users = deps_of.get(key)
            if users is None:
                deps_of[key] = path
            elif isinstance(users, str):
                if users != path:
                    deps_of[key] = {users, path}
            else:
                users.add(path)
        if any(r.status in (Status.MISSING, Status.UNKNOWN_PLUGIN) for r in out):
            self.unresolved_docs.add(path)
        else:
            self.unresolved_docs.discard(path)
        if words:
            self.fuzzy_docs.add(path)
            self._fuzzy_words[path] = words
        else:
            self.fuzzy_docs.discard(path)
            self._fuzzy_words.pop(path, None)

    def _forget_deps(self, path: str, keys: Iterable[str]) -> None:
        deps_of = self.deps
        for key in keys:
            users = deps_of.get(key)
            if users == path:
                del deps_of[key]
            elif isinstance(users, set):
                users.discard(path)
                if len(users) == 1:
                    deps_of[key] = users.pop()

    def _skill_files(self, folder: str | None) -> set[str]:
        """The skill files of a folder (SKILL.md and a lowercase skill.md beside it)."""
        return {p for p in self.files_in_dir.get(folder or "", ()) if p in self.docs
                and self.docs[p].kind is DocKind.SKILL}

    def _unresolve(self, path: str) -> None:
        self._changed.add(path)
        for res in self.resolutions.pop(path, ()):
            if res.target is not None:
                refs = self.reverse.get(res.target.key)
                if refs is not None:
                    refs.discard(path)
                    if not refs:
                        del self.reverse[res.target.key]
        self._forget_deps(path, self.doc_deps.pop(path, ()))
        self.fuzzy_docs.discard(path)
        self.unresolved_docs.discard(path)
        self._fuzzy_words.pop(path, None)

    def _fuzzy_users(self, changed: set[str]) -> set[str]:
        """Fuzzy documents whose unresolved words are near a name that came or went."""
        names = {w for n in changed for w in _words(n)}
        if not names or not self.fuzzy_docs:
            return set()
        if len(names) > FUZZY_ALL:
            return set(self.fuzzy_docs)
        pool = sorted(names)
        near: dict[str, bool] = {}

        def is_near(w: str) -> bool:
            hit = near.get(w)
            if hit is None:
                hit = near[w] = (
                    process.extractOne(w, pool, scorer=fuzz.ratio, score_cutoff=FUZZY_NEAR) is not None
                    or any((w in x or x in w) for x in pool if min(len(w), len(x)) >= 3))
            return hit

        return {p for p in self.fuzzy_docs if any(is_near(w) for w in self._fuzzy_words.get(p, ()))}

    def _resolve_all(self, paths: Iterable[str], b: _Batch | None = None) -> None:
        for p in paths:
            if p in self.docs:
                self._resolve_doc(p, b.keys if b is not None and p in b.dirty and p not in b.moved else None)

    # --- classification ---------------------------------------------------------------------
    def classify(self, path: str) -> DocKind | None:
        """What a Markdown file is (or would be) in the tree as indexed now; mirrors discover."""
        root = self.root_of(path)
        if root is None or not is_markdown(path):
            return None
        base = os.path.basename(path)
        if base.lower() == "skill.md":
            return DocKind.SKILL
        parent = os.path.dirname(path)
        if self._under_skill_file(parent, root):
            return DocKind.SHEET
        grand = os.path.dirname(parent)
        folder = os.path.basename(parent)
        if folder in ("commands", "agents") and (
            (grand in self.plugins and grand not in self.virtual_plugins)
            or os.path.basename(grand) == ".claude" or grand == root
        ):
            return DocKind.COMMAND if folder == "commands" else DocKind.AGENT
        return None

    # --- incremental ------------------------------------------------------------------------
    def update(self, path: str, text: str) -> set[str]:
        """An editor's text for one file (created or changed). Returns the paths whose findings may change."""
        path = os.path.normpath(path)
        return self.commit({path: self.text_update(path, text)}, editor=True)

    def text_update(self, path: str, text: str) -> FileUpdate:
        """An editor's text, judged like the same bytes on disk: over the size limit or binary, it
        is reported, not parsed; a byte-order mark is dropped (as `read_doc` does)."""
        data = text.encode("utf-8", "surrogatepass")
        limit = self.settings_for(path).max_file_bytes
        if len(data) > limit:
            return FileUpdate(None, None, ("IO001", f"file is {len(data):,} bytes, over the {limit:,}-byte limit; "
                                                    "not parsed"), len(data), 0, True)
        if b"\x00" in data[:8192]:
            return FileUpdate(None, None, ("IO002", "file is binary, not Markdown text; not parsed"), len(data), 0, True)
        return FileUpdate(text.removeprefix("\ufeff"), None, None, len(data), 0, True)

    def remove(self, path: str) -> set[str]:
        """A file (or a whole folder) is gone. Returns the paths whose findings may change."""
        return self.commit({}, [path])

    def rename(self, old: str, new: str, text: str | None = None) -> set[str]:
        """`old` moved to `new` (files or folders); `text` is an editor's text for the new file."""
        old, new = os.path.normpath(old), os.path.normpath(new)
        if text is not None:
            return self.commit({new: self.text_update(new, text)}, [old], editor=True)
        if os.path.isdir(new):
            files = [os.path.join(d, f) for d, _ds, fs in os.walk(new) for f in fs]
            ups = {f: _read_update(f, self.settings_for(f).max_file_bytes) for f in files}
            return self.commit(ups, [old], dirs=[d for d, _ds, _fs in os.walk(new)])
        return self.commit({new: _read_update(new, self.settings_for(new).max_file_bytes)}, [old])

    def stamp(self, path: str, size: int, mtime_ns: int, racy: bool) -> None:
        """The file was read again and its text had not changed: remember the new stamp."""
        with self.lock:
            doc = self.docs.get(path)
            if doc is None:
                return
            doc.size, doc.mtime_ns = size, mtime_ns
            if racy:
                self.racy.add(path)
            else:
                self.racy.discard(path)

    def commit(self, upserts: dict[str, FileUpdate], removals: Iterable[str] = (), dirs: Iterable[str] = (),
               editor: bool = False) -> set[str]:
        """Apply one batch: `removals` (files or folders) are gone, `dirs` exist, `upserts` exist with
        this content. `editor` marks upsert texts as an editor's (they then survive reclassification).

        Returns every path whose findings may change, removed documents included (publish an empty
        list for those).
        """
        with self.lock:
            self._graph_cache.clear()
            b = _Batch()
            if self._cycle_members is None:
                self._cycle_members = self._cycle_nodes()
            cycles_before = self._cycle_members
            filters: dict[str, PathFilter] = {}

            def allows(path: str, is_dir: bool) -> bool:
                root = self.root_of(path)
                if root is None:
                    return False
                if root not in filters:
                    filters[root] = self.path_filter(root)
                return filters[root].allows(path, is_dir)

            for path in removals:
                self._remove_path(os.path.normpath(path), b)
            for d in dirs:
                d = os.path.normpath(d)
                if allows(d, True):
                    self._add_dir(d, b)
            candidates: set[str] = set()
            ups: dict[str, FileUpdate] = {}
            for path, up in upserts.items():
                path = os.path.normpath(path)
                if not allows(path, False):
                    continue
                self._drop_walk_problems(path, b, folder=False)  # a file with content: no longer a bad link
                self._add_file(path, b)
                ups[path] = up
                if is_markdown(path):
                    candidates.add(path)
            self._place_all(candidates, ups, editor, b)
            self._settle(b, cycles_before)
            return {t for t in b.touched if t in self.docs or t in self.read_problems or t in b.gone}

    def _remove_path(self, path: str, b: _Batch) -> None:
        self._drop_walk_problems(path, b, folder=True)
        if path in self.dirs:
            for f in self.files_under(path):
                self._remove_file(f, b)
            for d in sorted(self.dirs_under(path), reverse=True):
                self._drop_dir(d, b)
            if self.root_of(path) != path:
                self._drop_dir(path, b)
            prefix = path + os.sep
            for key in [k for k in self.plugins if k == path or k.startswith(prefix)]:
                self._drop_plugin(key)  # the watcher re-indexes for these; kept consistent anyway
            for p in [p for p in self.detached if p.startswith(prefix)]:
                del self.detached[p]
        else:
            self._remove_file(path, b)

    def _remove_file(self, path: str, b: _Batch) -> None:
        self.detached.pop(path, None)
        self.editor_paths.discard(path)
        if self.read_problems.pop(path, None) is not None:
            b.touched.add(path)
            b.gone.add(path)
        if path in self.docs:
            self._unplace(path, b, stash=False)
        self._drop_file(path, b)

    def _unplace(self, path: str, b: _Batch, stash: bool) -> None:
        """A document leaves the index (deleted, or no longer a document where it is)."""
        doc = self.docs[path]
        b.before.setdefault(path, self.resolutions.get(path, []))
        b.touched |= self._neighbours(doc)
        b.touched.add(path)
        b.gone.add(path)
        b.moved.add(path)
        b.keys |= self._identity_keys(doc)
        b.names_changed = True
        b.reorder = True
        self._note_graph(doc, b)
        if doc.kind is DocKind.SKILL:
            b.reclass.add(os.path.dirname(path))
        if stash and path in self.editor_paths:
            self.detached[path] = doc.parsed.text
        self.editor_paths.discard(path)
        self._drop_doc(path)

    def _place_all(self, candidates: set[str], ups: dict[str, FileUpdate], editor: bool, b: _Batch) -> None:
        """(Re)classify Markdown files: kind, owner skill and text. Skills first, then the rest.

        A skill that appears or goes re-homes every Markdown file under its folder, so rounds
        repeat until no skill folder changed; the other files are placed once, at the end.
        """
        done: set[str] = set()
        pending = set(candidates)
        while True:
            pending |= self._md_under(b.reclass)
            b.reclass.clear()
            pending -= done
            if not pending:
                return
            kinds = {p: self.classify(p) if p in self.files else None for p in pending}
            skills = sorted(p for p, k in kinds.items() if k is DocKind.SKILL)
            if skills:
                before = set(self.skills)
                for p in skills:
                    self._place(p, DocKind.SKILL, ups.get(p), editor, b)
                    done.add(p)
                for d in sorted({os.path.dirname(p) for p in skills}):
                    done |= self._fix_skill_dir(d, ups, editor, b)
                b.reclass |= before.symmetric_difference(self.skills)
                pending -= set(skills)
                continue
            for p in sorted(pending):
                self._place(p, kinds[p], ups.get(p), editor, b)
                done.add(p)
            pending.clear()

    def _fix_skill_dir(self, d: str, ups: dict[str, FileUpdate], editor: bool, b: _Batch) -> set[str]:
        """A folder with several skill files (SKILL.md and skill.md): the last in path order owns
        it, as in a cold index. If that is not so after this round, place the group again in order.
        """
        group = sorted(p for p in self.files_in_dir.get(d, ()) if self.classify(p) is DocKind.SKILL)
        docs = [p for p in group if p in self.docs]
        skill = self.skills.get(d)
        if len(group) > 1:
            b.touched.update(group)  # which one owns the folder decides the findings of each
        if len(group) <= 1 and (skill is None) == (not docs):
            return set()
        if docs and skill is not None and skill.path == docs[-1] and skill.name == _skill_name(self.docs[docs[-1]]):
            return set()
        kept: dict[str, tuple[FileUpdate, bool]] = {}
        for p in docs:
            old = self.docs[p]
            up = ups.get(p) or FileUpdate(old.parsed.text, old.parsed, self.read_problems.get(p), old.size,
                                          old.mtime_ns, p in self.racy)
            kept[p] = (up, p in self.editor_paths and p not in ups)
            b.before.setdefault(p, self.resolutions.get(p, []))
            b.touched |= self._neighbours(old) | {p}
            b.keys |= self._identity_keys(old)
            self._drop_doc(p)
        for p in group:
            up, was_editor = kept.get(p, (ups.get(p), False))
            self._place(p, DocKind.SKILL, up, editor or was_editor, b)
        if d in self.skills:  # the sheets that name this folder as their skill's
            self.skills[d].sheets = sorted(p for p in self.files_under(d) if p in self.docs
                                           and self.docs[p].kind is DocKind.SHEET and self.docs[p].skill_dir == d)
        return set(group)

    def _md_under(self, folders: set[str]) -> set[str]:
        out: set[str] = set()
        for d in folders:
            if d in self.dirs:
                out.update(f for f in self.files_under(d) if is_markdown(f))
        return out

    def _place(self, path: str, kind: DocKind | None, up: FileUpdate | None, editor: bool, b: _Batch) -> None:
        old = self.docs.get(path)
        root = self.root_of(path)
        if kind is None or root is None:
            if old is not None:
                self._unplace(path, b, stash=True)
            if self.read_problems.pop(path, None) is not None:
                b.touched.add(path)
                b.gone.add(path)
            if up is not None and editor and up.text is not None:
                self.detached[path] = up.text
            elif up is not None:
                self.detached.pop(path, None)
            return
        # where the text comes from: this batch, else the index (document or editor), else the disk
        from_editor = path in self.editor_paths
        if up is not None:
            from_editor = editor
        elif old is not None:
            up = FileUpdate(old.parsed.text, old.parsed, None, old.size, old.mtime_ns, path in self.racy)
            up.problem = self.read_problems.get(path)
        elif path in self.detached:
            text = self.detached[path]
            up = FileUpdate(text, None, None, len(text.encode("utf-8")), 0, True)
            from_editor = True
        else:
            up = _read_update(path, self.settings_for(path).max_file_bytes)
        self.detached.pop(path, None)
        if self.read_problems.get(path) != up.problem:
            b.touched.add(path)
            b.gone.add(path)  # it may have no document left to publish for
        if up.problem:
            self.read_problems[path] = up.problem
        else:
            self.read_problems.pop(path, None)
        if up.text is None:
            if old is not None:
                self._unplace(path, b, stash=False)
            return
        parsed = up.parsed
        if parsed is None or parsed.text != up.text:
            parsed = old.parsed if old is not None and old.parsed.text == up.text else parse(up.text, self.settings_for(path).limits())
        if from_editor:
            self.editor_paths.add(path)
            parsed.expand()
        else:
            self.editor_paths.discard(path)
            parsed.compact(self.texts)
        plugin = self._plugin_of(path, root)
        owner = os.path.dirname(path) if kind is DocKind.SKILL else self._skill_dir_of(path, root)
        same_place = old is not None and old.kind is kind and old.skill_dir == owner and old.plugin_dir == plugin
        if old is not None and same_place:
            (self.racy.add if up.racy else self.racy.discard)(path)
            if old.parsed is parsed:
                old.size, old.mtime_ns = up.size, up.mtime_ns
                return  # the same text in the same place: nothing to do
            if _same_identity(old.parsed, parsed):
                # content only: replace in place (keeps dict order); re-resolve it and its anchor users
                b.before.setdefault(path, self.resolutions.get(path, []))
                self.docs[path] = Doc(path, kind, root, parsed, owner, plugin, up.size, up.mtime_ns)
                self._changed.add(path)
                if old.parsed.headings != parsed.headings:
                    b.keys.add("anchors:" + path)
                b.dirty.add(path)
                b.touched.add(path)
                return
        sheets = None
        if old is not None:
            if old.kind is DocKind.SKILL and kind is DocKind.SKILL and old.skill_dir in self.skills:
                sheets = list(self.skills[old.skill_dir].sheets)
            b.before.setdefault(path, self.resolutions.get(path, []))
            b.touched |= self._neighbours(old)
            b.keys |= self._identity_keys(old)
            self._note_graph(old, b)
            self._drop_doc(path)
        doc = self._add_doc(path, kind, root, parsed, up, sheets)
        b.moved.add(path)
        b.keys |= self._identity_keys(doc)
        b.names_changed = True
        b.reorder = True
        b.dirty.add(path)
        b.touched.add(path)
        self._note_graph(doc, b)

    def _settle(self, b: _Batch, cycles_before: set[str]) -> None:
        """Re-resolve what the batch touched and work out whose findings may change."""
        users: set[str] = set(b.dirty)
        for k in b.keys:
            found = self.deps.get(k)
            if isinstance(found, str):
                users.add(found)
            elif found:
                users |= found
        if b.names_changed:
            names = b.names | {k[5:] for k in b.keys if k.startswith("name:")}
            users |= self._fuzzy_users(names)
        users = {u for u in users if u in self.docs}
        for u in users:
            b.before.setdefault(u, self.resolutions.get(u, []))
        self._graph_cache.clear()
        self._resolve_all(sorted(users), b)
        # a document whose resolutions came out the same has the same reference findings, unless
        # its messages name a document placed anew (a "did you mean" candidate's id may differ)
        b.touched |= {u for u in users if u in b.dirty or b.before[u] != self.resolutions[u]
                      or (b.moved and _mentions(self.resolutions[u]) & b.moved)}
        for u in users:
            if b.before[u] == self.resolutions[u]:
                continue
            # a file offered as a candidate counts as named for some rules (orphan sheets)
            b.touched |= {c for c, _st in _offers(b.before[u]) ^ _offers(self.resolutions[u])}
            moved = _edges(b.before[u]) ^ _edges(self.resolutions[u])
            if not moved:
                continue
            doc = self.docs[u]
            self._note_graph(doc, b)
            for key, *_rest in moved:
                b.touched.add(key)  # orphan and referrer state of old and new targets
                if key in self.dirs:  # a link to a folder counts for every sheet in it
                    b.touched.update(f for f in self.files_under(key) if f in self.docs)
                target = self.docs.get(key)
                if target is not None and target.plugin_dir:
                    b.plugins.add(target.plugin_dir)
                elif key in self.plugins:
                    b.plugins.add(key)
        for p, before in b.before.items():
            if p not in self.docs:
                b.touched |= {c for c, _st in _offers(before)}
                for key, *_rest in _edges(before):
                    b.touched.add(key)
                    if key in self.dirs:
                        b.touched.update(f for f in self.files_under(key) if f in self.docs)
        for key in sorted(b.members):
            # an edge to a plugin leads to its router skill: who names the plugin may route anew
            for r in self.referrers(key):
                doc = self.docs.get(r)
                if doc is not None:
                    b.touched.add(r)
                    self._changed.add(r)  # (what it routes to moved without its resolutions changing)
                    if doc.plugin_dir:
                        b.plugins.add(doc.plugin_dir)
                    if doc.kind is DocKind.SKILL:
                        b.skill_edges = True
                        b.edge_docs.add(r)
        for key in b.plugins:
            plugin = self.plugins.get(key)
            if plugin is not None:
                # reachability from the plugin's routers (RT005) can move for any of its skills
                b.touched |= {self.skills[s].path for s in plugin.skills if s in self.skills}
        b.touched |= self._neighbours_added(b)
        if b.reorder:
            self.docs = dict(sorted(self.docs.items()))
            self.skills = dict(sorted(self.skills.items()))
        self._next_generation()
        self._graph_cache.clear()
        if b.skill_edges and not self._cycles_untouched(b):
            memo = self._skill_succ
            for key in b.moved | b.gone | b.members:  # what `target_doc` and doc kinds read
                memo.pop(key, None)
                for r in self.referrers(key):
                    memo.pop(r, None)
            after = self._cycle_nodes()
            b.touched |= cycles_before | after
            self._cycle_members = after

    def _neighbours_added(self, b: _Batch) -> set[str]:
        """Neighbours of the documents this batch placed anew, now that they are resolved."""
        out: set[str] = set()
        for p in b.moved:
            doc = self.docs.get(p)
            if doc is not None:
                out |= self._neighbours(doc)
        return out

    def _note_graph(self, doc: Doc, b: _Batch) -> None:
        if doc.plugin_dir:
            b.plugins.add(doc.plugin_dir)
        if doc.kind in (DocKind.SKILL, DocKind.SHEET):
            b.skill_edges = True  # cycle findings weigh a skill's edges and its sheets
            b.edge_docs.add(doc.path)
        if doc.kind is DocKind.SKILL and doc.plugin_dir:
            b.members.add(doc.plugin_dir)

    def _cycles_untouched(self, b: _Batch) -> bool:
        """Whether no routing cycle can have come or gone: the only edges that moved leave skills
        that nothing names (a cycle must enter a node too), and no document came or went. Typing
        in the top router, which grows with the tree, then skips the whole-tree cycle search."""
        if b.moved or b.gone or self._cycle_members is None:
            return False
        docs = self.docs
        for p in b.edge_docs:
            doc = docs.get(p)
            if doc is not None and doc.kind is DocKind.SHEET:
                continue  # the graph of `_cycle_nodes` joins skills only
            if doc is None or doc.kind is not DocKind.SKILL:
                return False
            hit = self._skill_succ.get(p)
            if hit is not None and hit[1] == self._skill_successors(p)[1]:
                continue  # it leads to the same skills as before (a link to a sheet was edited)
            keys = [p]
            if doc.plugin_dir and self.target_doc(doc.plugin_dir, TargetKind.PLUGIN) == p:
                keys.append(doc.plugin_dir)  # naming its plugin leads here too
            if any(r in docs and docs[r].kind is DocKind.SKILL for k in keys for r in self.referrers(k)):
                return False
        return True

    def cycle_members(self) -> set[str]:
        """Skills on a cycle of routing edges: where cycle findings can be (kept across commits)."""
        with self.lock:
            if self._cycle_members is None:
                self._cycle_members = self._cycle_nodes()
            return self._cycle_members

    def _cycle_nodes(self) -> set[str]:
        """Skills on a cycle of routing edges (strongly connected, any routing kind).

        Cycle findings sit on cycle members; this superset does not depend on which edge kinds
        or which search order the cycle rule uses.
        """
        graph: dict[str, list[str]] = {}
        memo = self._skill_succ
        for skill in self.skills.values():
            path = skill.path
            if path not in self.docs:
                continue
            hit = memo.get(path)
            if hit is None or hit[0] is not self.resolutions.get(path):
                hit = memo[path] = self._skill_successors(path)
            if hit[1]:
                graph[path] = hit[1]
        return _cyclic_nodes(graph)

    def _skill_successors(self, path: str) -> tuple[list[Resolution] | None, list[str]]:
        """(its resolutions, the skills a skill routes to): an entry of `_skill_succ`."""
        docs = self.docs
        return (self.resolutions.get(path),
                [t for _r, t in self.routing_edges(path) if t in docs and docs[t].kind is DocKind.SKILL])

    def _identity_keys(self, doc: Doc) -> set[str]:
        """What other documents may have looked up to find this one."""
        keys = {"file:" + doc.path, "anchors:" + doc.path}
        if doc.kind is not DocKind.SKILL:  # a skill goes by its folder and name, never "SKILL"
            base = os.path.basename(doc.path)[:-3]
            keys.add("name:" + base)
            keys.add("name:" + base + ".md")  # `skill/sheet.md` looks the sheet up with its suffix
        if doc.kind is DocKind.SKILL:
            skill_dir = os.path.dirname(doc.path)
            keys.add("name:" + os.path.basename(skill_dir))
            # a second skill file in the folder (SKILL.md beside skill.md) moves the folder's skill
            # to itself or back: every name the folder answers to now leads to another file
            for p in self.files_in_dir.get(skill_dir, ()):
                other = self.docs.get(p)
                if other is not None and other.kind is DocKind.SKILL:
                    keys.add("name:" + (other.parsed.fm_name() or os.path.basename(skill_dir)))
            name = doc.parsed.fm_name()
            if name:
                keys.add("name:" + name)
        return keys

    def _targets(self, path: str) -> set[str]:
        return {r.target.key for r in self.resolutions.get(path, ()) if r.target is not None}

    def _neighbours(self, doc: Doc) -> set[str]:
        """Documents whose graph findings (orphan, duplicate) can move with this one. The skills of
        its plugin (unreachable) are added once per plugin, by `_settle`, via `_note_graph`."""
        out = self._targets(doc.path) | self.referrers(doc.path)
        if doc.kind is DocKind.SKILL:
            for name in _skill_names(doc):
                out |= {self.skills[s].path for s in self.skill_by_name.get(name, ()) if s in self.skills}
        return out

    # --- walk rules for one path ------------------------------------------------------------
    def path_filter(self, root: str) -> PathFilter:
        """Walk's rules for single paths under `root` (reads .gitignore files lazily: keep it short-lived)."""
        return PathFilter(root, self.settings_for(root).ignore)

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
        for p in sorted(self.files_under(skill_dir)):
            d = self.docs.get(p)
            if d is None or d.kind is DocKind.SKILL:
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
            skill = self.skills.get(os.path.dirname(path))
            return skill.name if skill is not None else os.path.basename(os.path.dirname(path))
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


def _edges(resolutions: list[Resolution]) -> frozenset[tuple[str, str, bool, str]]:
    """What graph rules see of a document's references: target, kind, routing phrase, status."""
    return frozenset((r.target.key, r.ref.kind.value, bool(r.ref.phrase), r.status.value)
                     for r in resolutions if r.target is not None)


def _offers(resolutions: list[Resolution]) -> set[tuple[str, str]]:
    return {(c, r.status.value) for r in resolutions for c in r.candidates}


def _words(target: str) -> set[str]:
    """Lower-case forms of a name or path for similarity tests: whole, last part, stem, parts."""
    low = target.lower().strip("/")
    out = {low}
    parts = [p for p in low.replace(":", "/").split("/") if p and p not in (".", "..")]
    for part in parts:
        out.add(part)
        if part.endswith(".md"):
            out.add(part[:-3])
    return out


def _skill_names(doc: Doc) -> set[str]:
    folder = os.path.basename(os.path.dirname(doc.path))
    return {doc.parsed.fm_name() or folder, folder}


def _skill_name(doc: Doc) -> str:
    return doc.parsed.fm_name() or os.path.basename(os.path.dirname(doc.path))


def _mentions(resolutions: list[Resolution]) -> set[str]:
    out: set[str] = set()
    for r in resolutions:
        if r.target is not None:
            out.add(r.target.key)
        out.update(r.candidates)
    return out


def _same_identity(a: ParsedDoc, b: ParsedDoc) -> bool:
    """Nothing another document looks up by name differs between two parses (the skill name)."""
    return a.fm_name() == b.fm_name()


def _read_update(path: str, max_bytes: int) -> FileUpdate:
    if not is_markdown(path):
        return FileUpdate()
    result = read_doc(path, max_bytes)
    return FileUpdate(result.text, None, result.problem, result.size, result.mtime_ns,
                      time.time_ns() - result.mtime_ns < RACY_NS)


def _up(path: str) -> str:
    """The folder of a normalised absolute path: os.path.dirname without its generality, which
    cost a second over the lookups of a 40,000-file index."""
    i = path.rfind(os.sep)
    return path[:i] if i > 0 else os.sep


def _insort(table: dict[str, list[str]], key: str, value: str) -> None:
    items = table[key]
    i = bisect.bisect_left(items, value)
    if i == len(items) or items[i] != value:
        items.insert(i, value)


def _discard(table: dict[str, list[str]], key: str, value: str) -> None:
    items = table.get(key)
    if items is None:
        return
    if value in items:
        items.remove(value)
    if not items:
        del table[key]


def _rel(path: str, root: str) -> str:
    return "" if path == root else path[len(root) + 1:].replace(os.sep, "/")


def _cyclic_nodes(graph: dict[str, list[str]]) -> set[str]:
    """Nodes of non-trivial strongly connected components."""
    return _tarjan(_peeled(graph))


def _peeled(graph: dict[str, list[str]]) -> dict[str, list[str]]:
    """The graph without the nodes that no cycle can pass: those with no edge in or no edge out
    (peeled repeatedly). In a skill tree that is nearly every leaf skill, so the search below
    runs over the routers only."""
    succ = {n: [t for t in ts if t in graph] for n, ts in graph.items()}
    preds: dict[str, list[str]] = defaultdict(list)
    for n, ts in succ.items():
        for t in ts:
            preds[t].append(n)
    indeg = {n: len(preds.get(n, ())) for n in succ}
    outdeg = {n: len(ts) for n, ts in succ.items()}
    queue = [n for n in succ if not indeg[n] or not outdeg[n]]
    gone: set[str] = set()
    while queue:
        n = queue.pop()
        if n in gone:
            continue
        gone.add(n)
        for t in succ[n]:
            if t not in gone:
                indeg[t] -= 1
                if not indeg[t]:
                    queue.append(t)
        for p in preds.get(n, ()):
            if p not in gone:
                outdeg[p] -= 1
                if not outdeg[p]:
                    queue.append(p)
    if not gone:
        return succ
    return {n: [t for t in ts if t not in gone] for n, ts in succ.items() if n not in gone}


def _tarjan(graph: dict[str, list[str]]) -> set[str]:
    """Nodes of non-trivial strongly connected components (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: set[str] = set()
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            succ = graph.get(node, [])
            if i < len(succ):
                work.append((node, i + 1))
                nxt = succ[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1 or node in graph.get(node, ()):
                    out.update(comp)
    return out


class PathFilter:
    """Would `discover.walk` index this path? Its rules, applied to one path at a time.

    Reads `.gitignore` files lazily; a change to one of them re-indexes the root (and drops this).
    """

    def __init__(self, root: str, ignore: list[str] | tuple[str, ...] = ()) -> None:
        self.root = root
        self.rules = IgnoreRules(root, ignore)
        self._loaded: set[str] = set()
        self._dirs: dict[str, bool] = {}  # folder -> walk would descend into it

    def _load(self, folder: str, rel: str) -> None:
        if folder in self._loaded:
            return
        self._loaded.add(folder)
        gi = os.path.join(folder, ".gitignore")
        if os.path.isfile(gi):
            self.rules.add_gitignore(rel, gi)

    def allows(self, path: str, is_dir: bool) -> bool:
        if path == self.root:
            return True
        if not path.startswith(self.root + os.sep):
            return False
        if is_dir:
            return self._folder(path)
        rel = path[len(self.root) + 1:].replace(os.sep, "/")
        return self._folder(os.path.dirname(path)) and not self.rules.ignored(rel, False)

    def _folder(self, folder: str) -> bool:
        """Walk descends into `folder`. Ancestors are judged first, top down, and each folder's
        .gitignore is loaded once the folder is in (as walk reads it on entering); cached."""
        chain = []
        d = folder
        while d not in self._dirs:
            chain.append(d)
            if d == self.root or len(d) <= len(self.root):
                break
            d = os.path.dirname(d)
        ok = self._dirs.get(d, True)
        for d in reversed(chain):
            if ok and d != self.root:
                name = os.path.basename(d)
                ok = not (name in SKIP_DIRS or (name.startswith(".") and name not in AGENT_DIRS)
                          or self.rules.ignored(_rel(d, self.root), True) or is_venv(d))
            if ok:
                self._load(d, _rel(d, self.root))
            self._dirs[d] = ok
        return self._dirs[folder]
