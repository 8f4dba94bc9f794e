"""Walk a root on disk: which files are plugins, skills, sheets, commands and agents.

This is the only module besides the watcher and the config loader that touches the file system.
It never follows a symlink out of the root and visits every real folder once.
"""

from __future__ import annotations

import errno
import json
import os
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import pathspec

from .model import DocKind

SKIP_DIRS = frozenset({".git", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache",
                       ".pytest_cache", ".ruff_cache", ".hg", ".svn", "site-packages", ".skill-lsp-cache"})
# Dot-folders that hold skills for agents; every other dot-folder (fixtures, tooling) is skipped.
AGENT_DIRS = frozenset({".claude", ".agents", ".codex", ".claude-plugin", ".github", ".cursor"})
SKILL_FILE = "SKILL.md"


@dataclass(slots=True)
class PluginDecl:
    name: str
    dir: str  # folder of the plugin ("" for a marketplace entry without a folder of its own)
    manifest: str  # plugin.json or marketplace.json
    skills: list[str] = field(default_factory=list)  # skill dirs a marketplace entry lists
    virtual: bool = False  # a marketplace grouping of skills, with no folder of its own


@dataclass(slots=True)
class Layout:
    root: str
    files: set[str] = field(default_factory=set)  # every file seen (absolute, real paths under root)
    dirs: set[str] = field(default_factory=set)
    docs: dict[str, DocKind] = field(default_factory=dict)  # markdown files we index
    plugins: list[PluginDecl] = field(default_factory=list)
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (path, code, message)
    # symlinked files whose target is indexed under its real path: links to them resolve, but
    # they are not indexed a second time
    aliases: dict[str, str] = field(default_factory=dict)


class IgnoreRules:
    """`.gitignore` files of the tree and our own globs (gitignore syntax, `!` included).

    As in git, the deepest `.gitignore` with a matching pattern decides, and the last matching
    pattern within a file; our own globs come last, so that a `!glob` in the settings can bring
    back what a `.gitignore` hides.
    """

    def __init__(self, root: str, extra: list[str] | tuple[str, ...] = ()) -> None:
        self.root = root
        self.specs: list[tuple[str, pathspec.PathSpec]] = []
        self.extra = pathspec.GitIgnoreSpec.from_lines(list(extra)) if extra else None

    def add_gitignore(self, folder_rel: str, path: str) -> None:
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                lines = fh.read(256_000).splitlines()
        except OSError:
            return
        self.specs.append((folder_rel, pathspec.GitIgnoreSpec.from_lines(lines)))
        self.specs.sort(key=lambda item: item[0].count("/") + (1 if item[0] else 0))

    def ignored(self, rel: str, is_dir: bool) -> bool:
        verdict: bool | None = None
        for base, spec in self.specs:
            if base:
                if not rel.startswith(base + "/"):
                    continue
                sub = rel[len(base) + 1:]
            else:
                sub = rel
            include = spec.check_file(sub + "/" if is_dir else sub).include
            if include is not None:
                verdict = include
        if self.extra is not None:
            include = self.extra.check_file(rel + "/" if is_dir else rel).include
            if include is not None:
                verdict = include
        return bool(verdict)


def is_venv(path: str) -> bool:
    return os.path.exists(os.path.join(path, "pyvenv.cfg"))


def walk(root: str, ignore: list[str] | tuple[str, ...] = ()) -> Layout:
    """Every file under `root` that is not ignored, classified.

    Symlinks are followed only when they stay inside the root, and every real folder and file is
    taken once: real paths first, so that a link to a folder of the tree adds nothing twice.
    """
    root = os.path.realpath(root)
    layout = Layout(root)
    rules = IgnoreRules(root, ignore)
    seen_real: set[str] = set()
    real_files: set[str] = set()
    linked_dirs: list[str] = []
    linked_files: list[str] = []
    # (folder, its real path, its path relative to the root): an entry that is no link is at its
    # folder's real path plus its name, so only links need realpath (which stats every component
    # of the path: most of a walk over 13,000 folders)
    stack: list[tuple[str, str, str]] = [(root, root, "")]
    while stack or linked_dirs:
        if not stack:  # real folders are done: now the links, each unless its target was walked
            link = linked_dirs.pop()
            real = os.path.realpath(link)
            if real in seen_real:
                parent = os.path.realpath(os.path.dirname(link))
                if parent == real or parent.startswith(real + os.sep):
                    layout.problems.append((link, "IO004", "symlink loop: it points to a folder that holds it"))
                continue
            stack.append((link, real, os.path.relpath(link, root).replace(os.sep, "/")))
        folder, real, rel_folder = stack.pop()
        if real in seen_real:
            continue
        seen_real.add(real)
        layout.dirs.add(folder)
        gi = _join(folder, ".gitignore")
        if os.path.isfile(gi):
            rules.add_gitignore(rel_folder, gi)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            layout.problems.append((folder, "IO003", f"folder could not be read: {exc.strerror or exc}"))
            continue
        for entry in entries:
            name = entry.name
            path = _join(folder, name)
            rel = f"{rel_folder}/{name}" if rel_folder else name
            try:
                is_link = entry.is_symlink()
            except OSError:
                continue  # vanished while we looked
            if is_link:
                target = os.path.realpath(path)
                if _loops(path):  # `a -> a`, `b -> c -> b`: not even stat-able
                    layout.problems.append((path, "IO004", "symlink loop: it never reaches a file; not followed"))
                    continue
                if not _inside(target, root):
                    layout.problems.append((path, "IO004", "symlink points outside the root; not followed"))
                    continue
                if not os.path.exists(target):
                    continue  # a dangling link names nothing
            try:
                is_dir = entry.is_dir()
                is_file = entry.is_file()
            except OSError:
                continue  # vanished while we looked
            if is_dir:
                if name in SKIP_DIRS or (name.startswith(".") and name not in AGENT_DIRS):
                    continue
                if rules.ignored(rel, True) or is_venv(path):
                    continue
                if is_link:
                    linked_dirs.append(path)
                else:
                    stack.append((path, _join(real, name), rel))  # not a link: its parent's real path and its name
            elif is_file:
                if rules.ignored(rel, False):
                    continue
                if is_link:
                    linked_files.append(path)
                else:
                    layout.files.add(path)
                    real_files.add(_join(real, name))
    for link in linked_files:
        target = os.path.realpath(link)
        layout.files.add(link)
        if target in real_files:
            layout.aliases[link] = target
        else:  # the only way to it (its target is in a skipped folder)
            real_files.add(target)
    _classify(layout)
    return layout


def _join(folder: str, name: str) -> str:
    return folder + name if folder.endswith(os.sep) else folder + os.sep + name


def _loops(path: str) -> bool:
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _classify(layout: Layout) -> None:
    skill_dirs = set()
    for f in layout.files:
        if os.path.basename(f).lower() == "skill.md" and f not in layout.aliases:
            skill_dirs.add(os.path.dirname(f))
    plugin_dirs: dict[str, PluginDecl] = {}
    for f in layout.files:
        parts = f.split(os.sep)
        if parts[-1] == "plugin.json" and parts[-2] == ".claude-plugin":
            pdir = os.sep.join(parts[:-2])
            plugin_dirs[pdir] = PluginDecl(_manifest_name(f) or os.path.basename(pdir), pdir, f)
    for f in sorted(layout.files):
        parts = f.split(os.sep)
        if parts[-1] == "marketplace.json" and parts[-2] == ".claude-plugin":
            _read_marketplace(f, layout, plugin_dirs)
    # plugins/<name>/skills/... without a manifest is a plugin too
    for d in layout.dirs:
        parent = os.path.dirname(d)
        if os.path.basename(parent) == "plugins" and d not in plugin_dirs and os.path.isdir(os.path.join(d, "skills")):
            plugin_dirs[d] = PluginDecl(os.path.basename(d), d, "")
    layout.plugins = list(plugin_dirs.values()) + [p for p in layout.plugins if p.virtual]
    real_plugins = {p.dir for p in layout.plugins if not p.virtual}
    for f in layout.files:
        if not f.endswith(".md") and not f.endswith(".MD") or f in layout.aliases:
            continue
        parent = os.path.dirname(f)
        base = os.path.basename(f)
        if base.lower() == "skill.md":
            layout.docs[f] = DocKind.SKILL
            continue
        if _under_skill(parent, skill_dirs, layout.root):
            layout.docs[f] = DocKind.SHEET
            continue
        folder = os.path.basename(parent)
        grand = os.path.dirname(parent)
        if folder in ("commands", "agents") and (grand in real_plugins or os.path.basename(grand) == ".claude"
                                                 or grand == layout.root):
            layout.docs[f] = DocKind.COMMAND if folder == "commands" else DocKind.AGENT


def _under_skill(folder: str, skill_dirs: set[str], root: str) -> bool:
    while True:
        if folder in skill_dirs:
            return True
        if folder == root or len(folder) <= len(root):
            return False
        folder = os.path.dirname(folder)


def _manifest_name(path: str) -> str | None:
    data = load_json(path)
    if isinstance(data, dict) and isinstance(data.get("name"), str):
        return data["name"]
    return None


def load_json(path: str, limit: int = 2_000_000) -> object:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read(limit + 1)
        if len(text) > limit:
            return None
        return json.loads(text)
    except (OSError, ValueError, RecursionError):
        return None


def _read_marketplace(path: str, layout: Layout, plugin_dirs: dict[str, PluginDecl]) -> None:
    data = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("plugins"), list):
        return
    base = os.path.dirname(os.path.dirname(path))
    for entry in data["plugins"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        source = entry.get("source")
        src_dir = None
        if isinstance(source, str) and source.startswith("."):
            src_dir = os.path.normpath(os.path.join(base, source))
            if not _inside(src_dir, layout.root):
                continue
        skills = []
        for s in entry.get("skills") or []:
            if isinstance(s, str) and src_dir:
                sd = os.path.normpath(os.path.join(src_dir, s))
                if _inside(sd, layout.root):
                    skills.append(sd)
        if src_dir and src_dir != base and not skills:
            if src_dir not in plugin_dirs and os.path.isdir(src_dir):
                plugin_dirs[src_dir] = PluginDecl(entry["name"], src_dir, path)
            continue
        if skills or src_dir == base:
            if src_dir == base and not skills and base in plugin_dirs:
                continue  # the root is itself the plugin (plugin.json beside marketplace.json)
            layout.plugins.append(PluginDecl(entry["name"], "", path, skills, virtual=True))


Stamp = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode: a file unchanged since, for certain


def file_stamp(st: os.stat_result) -> Stamp:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


@dataclass(slots=True)
class ReadResult:
    text: str | None
    size: int
    mtime_ns: int
    problem: tuple[str, str] | None = None  # (code, message)
    stamp: Stamp | None = None  # of the file as it was read (None when it was not)


def read_doc(path: str, max_bytes: int) -> ReadResult:
    """Read a Markdown file for indexing; refuse what is too large or is not text."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return ReadResult(None, 0, 0, ("IO003", f"file could not be read: {exc.strerror or exc}"))
    if st.st_size > max_bytes:
        return ReadResult(None, st.st_size, st.st_mtime_ns,
                          ("IO001", f"file is {st.st_size:,} bytes, over the {max_bytes:,}-byte limit; not parsed"))
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        return ReadResult(None, st.st_size, st.st_mtime_ns, ("IO003", f"file could not be read: {exc.strerror or exc}"))
    result = decode(data, st.st_size, st.st_mtime_ns)
    result.stamp = file_stamp(st)
    return result


def decode(data: bytes, size: int, mtime_ns: int) -> ReadResult:
    if b"\x00" in data[:8192]:
        return ReadResult(None, size, mtime_ns, ("IO002", "file is binary, not Markdown text; not parsed"))
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return ReadResult(data.decode("utf-8"), size, mtime_ns)
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", "replace")
        return ReadResult(text, size, mtime_ns,
                          ("IO002", f"file is not valid UTF-8 (byte {exc.start}); undecodable bytes were replaced"))


def rel_posix(path: str, root: str) -> str:
    return PurePosixPath(os.path.relpath(path, root).replace(os.sep, "/")).as_posix()
