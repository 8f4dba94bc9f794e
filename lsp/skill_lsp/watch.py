"""The tree on disk and the index in step: watchdog events -> debounced batches -> index updates.

Three parts:
- `TreeWatcher`: one native watchdog observer with a recursive watch per root; events are
  filtered, then debounced and coalesced into batches delivered on a worker thread. A root the
  OS refuses to watch (inotify limits, file systems without notifications) is polled instead.
- `apply_changes(ix, batch, open_paths)`: reconciles the index with the disk for the paths of a
  batch. It trusts the disk, not the event kinds (events get lost, merged and reordered), and it
  reads and parses before taking the index lock, so that readers are blocked only while the
  index itself changes.
- `watch_check(args)`: `skill-lsp check --watch`, which prints only the findings that changed.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import stat
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import pathspec
from watchdog.events import (
    DirAttribEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirModifiedEvent,
    DirMovedEvent,
    EventsLostEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserverVFS

from .discover import AGENT_DIRS, SKIP_DIRS, is_venv, load_json
from .index import FileUpdate, PathFilter, SkillIndex, _read_update, is_markdown
from .model import Finding
from .parse import parse

log = logging.getLogger(__name__)

ChangeKind = Literal["created", "modified", "deleted", "moved"]
SETTINGS_FILES = (".skill-lsp.toml", "pyproject.toml")


@dataclass(slots=True)
class Change:
    kind: ChangeKind
    path: str
    dest: str | None = None  # for "moved"
    is_dir: bool = False


# --- coalescing -------------------------------------------------------------------------------
def coalesce(events: Iterable[Change]) -> list[Change]:
    """One change per path, in order of first appearance.

    A path's sequence of events reduces to what differs between before and after: created then
    deleted is nothing, deleted then created is a change (a folder replaced is "created" again,
    so that it is scanned whole), created then modified is created. A move stays a move only when
    nothing else happened to either end; otherwise it counts as deleted + created.
    """
    seqs: dict[str, list[str]] = {}
    is_dir: dict[str, bool] = {}
    moves: list[Change] = []
    for ch in events:
        if ch.kind == "moved" and ch.dest:
            moves.append(ch)
            seqs.setdefault(ch.path, []).append("deleted")
            seqs.setdefault(ch.dest, []).append("created")
            is_dir[ch.path] = is_dir[ch.dest] = ch.is_dir
        else:
            kind = "deleted" if ch.kind == "moved" else ch.kind
            seqs.setdefault(ch.path, []).append(kind)
            is_dir[ch.path] = ch.is_dir
    result: dict[str, Change] = {}
    for path, seq in seqs.items():
        existed = seq[0] != "created"
        exists = seq[-1] != "deleted"
        if not existed and not exists:
            continue
        if not existed:
            kind: ChangeKind = "created"
        elif not exists:
            kind = "deleted"
        elif "deleted" in seq or "created" in seq:
            kind = "created" if is_dir[path] else "modified"
        else:
            kind = "modified"
        result[path] = Change(kind, path, None, is_dir[path])
    for mv in moves:
        assert mv.dest is not None
        if len(seqs[mv.path]) == 1 and len(seqs[mv.dest]) == 1 and mv.path in result and mv.dest in result:
            result[mv.path] = Change("moved", mv.path, mv.dest, mv.is_dir)
            del result[mv.dest]
    return list(result.values())


# --- the watcher ------------------------------------------------------------------------------
class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: TreeWatcher, root: str) -> None:
        self.watcher = watcher
        self.root = root

    def dispatch(self, event: FileSystemEvent) -> None:
        self.watcher._event(self.root, event)


class _OverflowHook(logging.Handler):
    """watchdog only logs a kernel queue overflow; events were lost, so rescan every root."""

    def __init__(self, watcher: TreeWatcher) -> None:
        super().__init__(logging.WARNING)
        self.watcher = watcher

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.watcher.rescan()


# What changes a tree. Not opened / closed-without-writing: the kernel would report every file
# the indexer reads (84,000 events for a 42,000-file tree), each decoded in Python by watchdog's
# thread while the index is being built; with this filter inotify is not even asked for them.
EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent, DirCreatedEvent, FileDeletedEvent, DirDeletedEvent, FileMovedEvent, DirMovedEvent,
    FileModifiedEvent, DirModifiedEvent, FileClosedEvent, FileAttribEvent, DirAttribEvent, EventsLostEvent,
]

_WATCHDOG_LOGGERS = ("watchdog.observers.inotify_c", "watchdog.observers.inotify")


def _scandir_skipping(path: str | None) -> Iterator[os.DirEntry[str]]:
    """os.scandir for the polling fallback: never descends into .git, node_modules and the like."""
    with os.scandir(path) as it:
        for entry in it:
            name = entry.name
            try:
                if entry.is_dir(follow_symlinks=False) and (
                        name in SKIP_DIRS or (name.startswith(".") and name not in AGENT_DIRS)):
                    continue
            except OSError:
                continue
            yield entry


class TreeWatcher:
    """Watch folders recursively; deliver coalesced batches of changes on a worker thread.

    `observer_class` replaces watchdog's native observer (tests force failures with it);
    `polling_interval` is the period of the fallback for roots that cannot be watched natively.
    """

    def __init__(self, on_batch: Callable[[list[Change]], None], ignore: Iterable[str] = (),
                 debounce_s: float = 0.1, *, observer_class: Callable[[], BaseObserver] | None = None,
                 polling_interval: float = 1.0, max_delay_s: float | None = None,
                 health_interval: float = 2.0) -> None:
        self._on_batch = on_batch
        globs = list(ignore)
        self._spec = pathspec.GitIgnoreSpec.from_lines(globs) if globs else None
        self.debounce_s = debounce_s
        # a steady stream of events still gets delivered, in slices of this length
        self.max_delay_s = max_delay_s if max_delay_s is not None else max(1.0, 10 * debounce_s)
        self._observer_class = observer_class
        self._polling_interval = polling_interval
        self._health_interval = health_interval
        self._lock = threading.RLock()
        self._native: BaseObserver | None = None
        self._polling: BaseObserver | None = None
        self._watches: dict[str, tuple[BaseObserver, ObservedWatch]] = {}
        self.polling_roots: set[str] = set()
        self._venv: dict[str, bool] = {}
        self._cond = threading.Condition()
        self._pending: list[Change] = []
        self._first = 0.0
        self._last = 0.0
        self._stopped = False
        self._hook = _OverflowHook(self)
        for name in _WATCHDOG_LOGGERS:
            logging.getLogger(name).addHandler(self._hook)
        self._worker = threading.Thread(target=self._run, name="skill-lsp-watch", daemon=True)
        self._worker.start()

    # --- roots --------------------------------------------------------------------------------
    @property
    def roots(self) -> list[str]:
        return list(self._watches)

    def add_root(self, root: str) -> bool:
        """Watch a folder recursively. False when it cannot be watched at all (it is logged)."""
        root = os.path.realpath(root)
        with self._lock:
            if root in self._watches or self._stopped:
                return root in self._watches
            handler = _Handler(self, root)
            try:
                observer = self._native_observer()
                watch = observer.schedule(handler, root, recursive=True, event_filter=EVENTS)
            except OSError as exc:
                return self._poll(root, handler, exc)
            self._watches[root] = (observer, watch)
            return True

    def _poll(self, root: str, handler: _Handler, why: BaseException) -> bool:
        log.warning("skill-lsp: cannot watch %s for changes (%s)%s; polling it every %.1f s instead",
                    root, why, _limit_hint(why), self._polling_interval)
        try:
            observer = self._polling_observer()
            watch = observer.schedule(handler, root, recursive=True)
        except OSError as exc:
            log.warning("skill-lsp: %s cannot be polled either (%s); changes on disk will not be seen", root, exc)
            return False
        self._watches[root] = (observer, watch)
        self.polling_roots.add(root)
        return True

    def remove_root(self, root: str) -> None:
        root = os.path.realpath(root)
        with self._lock:
            entry = self._watches.pop(root, None)
            self.polling_roots.discard(root)
        if entry is not None:
            observer, watch = entry
            with contextlib.suppress(KeyError, OSError, RuntimeError):  # already gone with its emitter
                observer.unschedule(watch)

    def rescan(self, roots: Iterable[str] | None = None) -> None:
        """Ask for a full reconciliation of some roots (all by default) with the disk."""
        todo = list(roots) if roots is not None else self.roots
        self._enqueue([Change("created", r, None, True) for r in todo])

    def _native_observer(self) -> BaseObserver:
        if self._native is None:
            try:
                observer = (self._observer_class or Observer)()
                observer.start()
            except OSError:
                raise
            except Exception as exc:  # a platform without a native observer: same as a refusal
                raise OSError(str(exc)) from exc
            self._native = observer
        return self._native

    def _polling_observer(self) -> BaseObserver:
        if self._polling is None:
            observer = PollingObserverVFS(os.stat, _scandir_skipping, polling_interval=self._polling_interval)
            observer.start()
            self._polling = observer
        return self._polling

    def stop(self) -> None:
        with self._cond:
            if self._stopped:
                return
            self._stopped = True
            self._cond.notify_all()
        for name in _WATCHDOG_LOGGERS:
            logging.getLogger(name).removeHandler(self._hook)
        with self._lock:
            observers = [o for o in (self._native, self._polling) if o is not None]
            self._watches.clear()
        for o in observers:
            o.stop()
        for o in observers:
            if o is not threading.current_thread():
                o.join(timeout=5)
        if threading.current_thread() is not self._worker:
            self._worker.join(timeout=5)

    def __enter__(self) -> TreeWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- events -------------------------------------------------------------------------------
    def _event(self, root: str, event: FileSystemEvent) -> None:
        kind = event.event_type
        if kind in ("opened", "closed_no_write"):
            return
        is_dir = event.is_directory
        src = os.fsdecode(event.src_path)
        if kind in ("modified", "closed", "attrib"):
            if is_dir:
                return  # a folder's own mtime: its children report for themselves
            self._note_venv(src)
            if not self._ignored(root, src, False):
                self._enqueue([Change("modified", src, None, False)])
            return
        if kind == "moved":
            dest = os.fsdecode(event.dest_path)
            src_out, dest_out = self._ignored(root, src, is_dir), self._ignored(root, dest, is_dir)
            self._note_venv(src)
            self._note_venv(dest)
            if src_out and dest_out:
                return
            if src_out:
                change = Change("created", dest, None, is_dir)
            elif dest_out:
                change = Change("deleted", src, None, is_dir)
            else:
                change = Change("moved", src, dest, is_dir)
            self._enqueue([change])
            return
        if kind in ("created", "deleted"):
            self._note_venv(src)
            if not self._ignored(root, src, is_dir):
                self._enqueue([Change(kind, src, None, is_dir)])

    def _note_venv(self, path: str) -> None:
        if os.path.basename(path) == "pyvenv.cfg":
            self._venv.pop(os.path.dirname(path), None)

    def _ignored(self, root: str, path: str, is_dir: bool) -> bool:
        """Cheap pre-filter (names, globs, virtual environments); apply_changes has the last word."""
        if path == root:
            return False
        if not path.startswith(root + os.sep):
            return True
        parts = path[len(root) + 1:].split(os.sep)
        folder = root
        for i, name in enumerate(parts):
            if i < len(parts) - 1 or is_dir:
                if name in SKIP_DIRS or (name.startswith(".") and name not in AGENT_DIRS):
                    return True
                folder = os.path.join(folder, name)
                if i < len(parts) - 1:
                    venv = self._venv.get(folder)
                    if venv is None:
                        if len(self._venv) > 50_000:
                            self._venv.clear()
                        venv = self._venv[folder] = is_venv(folder)
                    if venv:
                        return True
        if self._spec is not None:
            for i in range(1, len(parts) + 1):
                rel = "/".join(parts[:i])
                if self._spec.match_file(rel + "/" if (i < len(parts) or is_dir) else rel):
                    return True
        return False

    def _enqueue(self, changes: list[Change]) -> None:
        if not changes:
            return
        with self._cond:
            if self._stopped:
                return
            now = time.monotonic()
            if not self._pending:
                self._first = now
            self._last = now
            self._pending.extend(changes)
            self._cond.notify_all()

    def _run(self) -> None:
        next_health = time.monotonic() + self._health_interval
        while True:
            with self._cond:
                while not self._pending and not self._stopped:
                    wait = next_health - time.monotonic()
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                if self._stopped:
                    return
                if not self._pending:
                    batch: list[Change] = []
                else:
                    # quiet for debounce_s, or waited max_delay_s since the first event
                    while not self._stopped:
                        now = time.monotonic()
                        deadline = min(self._last + self.debounce_s, self._first + self.max_delay_s)
                        if now >= deadline:
                            break
                        self._cond.wait(deadline - now)
                    if self._stopped:
                        return
                    batch = coalesce(self._pending)
                    self._pending = []
            if time.monotonic() >= next_health:
                next_health = time.monotonic() + self._health_interval
                self._health_check()
            if batch:
                try:
                    self._on_batch(batch)
                except Exception:  # one bad batch must not end the watching
                    log.exception("skill-lsp: applying %d file changes failed", len(batch))

    def _health_check(self) -> None:
        """A native emitter that died (a watch refused later, a vanished mount): poll instead."""
        with self._lock:
            if self._native is None or self._stopped:
                return
            alive = {e.watch for e in self._native.emitters if e.is_alive()}
            dead = [r for r, (o, w) in self._watches.items() if o is self._native and w not in alive]
            for root in dead:
                observer, watch = self._watches.pop(root)
                with contextlib.suppress(KeyError, OSError, RuntimeError):
                    observer.unschedule(watch)
                if os.path.isdir(root) and self._poll(root, _Handler(self, root),
                                                      RuntimeError("its native watch stopped")):
                    self.rescan([root])


def _limit_hint(exc: BaseException) -> str:
    import errno

    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return " - the inotify watch limit is reached; raise fs.inotify.max_user_watches to watch natively"
    if isinstance(exc, OSError) and exc.errno == errno.EMFILE:
        return " - the inotify instance limit is reached; raise fs.inotify.max_user_instances"
    return ""


# --- applying a batch -------------------------------------------------------------------------
@dataclass
class _Plan:
    open_paths: set[str]
    reindex: set[str] = field(default_factory=set)
    upserts: dict[str, FileUpdate] = field(default_factory=dict)
    removals: set[str] = field(default_factory=set)
    dirs: set[str] = field(default_factory=set)
    stamps: dict[str, FileUpdate] = field(default_factory=dict)
    stash: dict[str, str] = field(default_factory=dict)  # open documents deleted on disk
    to_read: dict[str, str | None] = field(default_factory=dict)  # path -> the index's text (None: no doc)
    filters: dict[str, PathFilter] = field(default_factory=dict)
    sources: dict[str, set[str]] = field(default_factory=dict)  # root -> marketplace source dirs
    new_skill: bool = False


@dataclass
class _Seen:
    """What the disk says about one path, looked at before the index lock is taken."""

    path: str
    root: str
    scan: bool  # created or moved here: look at a folder whole
    kind: Literal["gone", "link", "dir", "file", "other"]
    files: set[str] = field(default_factory=set)  # for folders: what walk would index under it
    dirs: set[str] = field(default_factory=set)
    link_inside: bool = False  # a symlink or an unreadable folder under it: walk decides those
    allowed: bool = True


def apply_changes(ix: SkillIndex, changes: Iterable[Change], open_paths: Iterable[str] = ()) -> set[str]:
    """Bring the index in line with the disk for the paths of a batch. Returns touched paths.

    Files open in an editor keep the editor's text (they are skipped unless they vanished or
    appeared). The disk is read and Markdown parsed outside the index lock; the lock is held
    only to decide what changed and to commit it, so readers on other threads wait little.
    """
    plan = _Plan({os.path.normpath(p) for p in open_paths})
    seen = _look(ix, plan, list(changes))  # disk only
    with ix.lock:
        _decide(ix, plan, seen)  # index only
    _read(ix, plan)  # disk and parsing only
    touched: set[str] = set()
    with ix.lock:
        for root in sorted(plan.reindex):
            if root in ix.roots:
                touched |= ix.reindex_root(root, keep_open=plan.open_paths)
        _drop_reindexed(ix, plan)
        if plan.upserts or plan.removals or plan.dirs:
            touched |= ix.commit(plan.upserts, sorted(plan.removals), sorted(plan.dirs))
        for path, up in plan.stamps.items():
            ix.stamp(path, up.size, up.mtime_ns, up.racy)
        for path, text in plan.stash.items():
            if path not in ix.files and ix.root_of(path):
                ix.detached[path] = text
    return touched


def _look(ix: SkillIndex, plan: _Plan, changes: list[Change]) -> list[_Seen]:
    todo: dict[str, bool] = {}  # path -> scan it whole if it is a folder
    for ch in changes:
        if ch.kind == "modified" and ch.is_dir:
            continue
        # a folder that was created, or "deleted" yet is there (replaced), is looked at whole
        ends = [(ch.path, ch.kind in ("created", "deleted"))]
        if ch.kind == "moved" and ch.dest:
            ends.append((ch.dest, True))
        for p, scan in ends:
            p = os.path.normpath(os.path.abspath(p))
            if os.path.basename(p).lower() == "skill.md":
                plan.new_skill = True
            todo[p] = todo.get(p, False) or scan
    out: list[_Seen] = []
    scanned: set[str] = set()
    for p in sorted(todo):
        root = ix.root_of(p)
        if root is None or _under(p, scanned, root):
            continue
        try:
            st = os.lstat(p)
        except OSError:
            out.append(_Seen(p, root, todo[p], "gone"))
            continue
        if stat.S_ISLNK(st.st_mode):
            out.append(_Seen(p, root, todo[p], "link"))
        elif stat.S_ISDIR(st.st_mode):
            seen = _Seen(p, root, todo[p], "dir")
            filt = _filter(ix, plan, root)
            seen.allowed = filt.allows(p, True)
            if seen.allowed and (seen.scan or p not in ix.dirs):  # else only its own event: skipped
                _walk_disk(seen, filt)
                if seen.scan:
                    scanned.add(p)
            out.append(seen)
        elif stat.S_ISREG(st.st_mode):
            out.append(_Seen(p, root, todo[p], "file", allowed=_filter(ix, plan, root).allows(p, False)))
    return out


def _walk_disk(seen: _Seen, filt: PathFilter) -> None:
    """What walk would index under a folder (no index access here)."""
    stack = [seen.path]
    while stack:
        d = stack.pop()
        seen.dirs.add(d)
        try:
            entries = list(os.scandir(d))
        except OSError:
            seen.link_inside = True  # walk reports unreadable folders: let it
            return
        for e in entries:
            path = os.path.join(d, e.name)
            try:
                if e.is_symlink():
                    seen.link_inside = True
                    return
                if e.is_dir():
                    if filt.allows(path, True):
                        stack.append(path)
                elif e.is_file() and filt.allows(path, False):
                    seen.files.add(path)
            except OSError:
                continue  # vanished while we looked


def _decide(ix: SkillIndex, plan: _Plan, seen: list[_Seen]) -> None:
    """Under the index lock: what each path means for the index, and which files to read."""
    for s in seen:
        p, root = s.path, s.root
        if root in plan.reindex or root not in ix.roots:
            continue
        if _structural_name(p, root) or s.kind == "link":
            plan.reindex.add(root)  # walk follows links inside the root and refuses others: its call
        elif s.kind == "gone":
            _vanished(ix, plan, p, root)
        elif s.kind == "dir":
            if not s.allowed:
                if p in ix.dirs:
                    plan.removals.add(p)
            elif not (s.scan or p not in ix.dirs):
                continue  # a folder's own event: its files report for themselves
            elif _structural_dir(ix, plan, p, root) or s.link_inside or any(
                    (d not in ix.dirs and _structural_dir(ix, plan, d, root)) for d in s.dirs) or any(
                    (f not in ix.files and _structural_name(f, root)) for f in s.files):
                plan.reindex.add(root)
            else:
                if p in ix.dirs:
                    plan.removals |= set(ix.files_under(p)) - s.files
                    plan.removals |= set(ix.dirs_under(p)) - s.dirs
                plan.dirs |= s.dirs
                for f in sorted(s.files):
                    _check_file(ix, plan, f)
        elif s.kind == "file":
            if s.allowed:
                _check_file(ix, plan, p)
            elif p in ix.files:
                plan.removals.add(p)


def _drop_reindexed(ix: SkillIndex, plan: _Plan) -> None:
    if not plan.reindex:
        return
    for table in (plan.upserts, plan.stamps, plan.stash):
        for p in [p for p in table if ix.root_of(p) in plan.reindex]:
            del table[p]
    plan.removals = {p for p in plan.removals if ix.root_of(p) not in plan.reindex}
    plan.dirs = {p for p in plan.dirs if ix.root_of(p) not in plan.reindex}


def _under(path: str, folders: set[str], root: str) -> bool:
    d = os.path.dirname(path)
    while len(d) >= len(root):
        if d in folders:
            return True
        if d == root:
            return False
        d = os.path.dirname(d)
    return False


def _filter(ix: SkillIndex, plan: _Plan, root: str) -> PathFilter:
    """Walk's rules for single paths; fresh per batch, so that no cached .gitignore goes stale."""
    f = plan.filters.get(root)
    if f is None:
        f = plan.filters[root] = PathFilter(root, ix.settings_for(root).ignore)
    return f


def _structural_name(path: str, root: str) -> bool:
    """Files that decide plugins, ignore rules or settings: the root is indexed again for them."""
    base = os.path.basename(path)
    parent = os.path.dirname(path)
    if base in ("plugin.json", "marketplace.json") and os.path.basename(parent) == ".claude-plugin":
        return True
    if base in (".gitignore", "pyvenv.cfg"):
        return True
    return parent == root and base in SETTINGS_FILES


def _plugin_pattern(path: str) -> bool:
    """`plugins/<name>` and `plugins/<name>/skills`: a plugin by layout, no manifest needed."""
    parent = os.path.dirname(path)
    if os.path.basename(parent) == "plugins":
        return True
    return os.path.basename(path) == "skills" and os.path.basename(os.path.dirname(parent)) == "plugins"


def _marketplace_sources(ix: SkillIndex, plan: _Plan, root: str) -> set[str]:
    found = plan.sources.get(root)
    if found is None:
        found = set()
        for f in ix.files_by_basename.get("marketplace.json", ()):
            if not f.startswith(root + os.sep) or os.path.basename(os.path.dirname(f)) != ".claude-plugin":
                continue
            data = load_json(f)
            base = os.path.dirname(os.path.dirname(f))
            for entry in (data.get("plugins") if isinstance(data, dict) else None) or []:
                source = entry.get("source") if isinstance(entry, dict) else None
                if isinstance(source, str) and source.startswith("."):
                    found.add(os.path.normpath(os.path.join(base, source)))
        plan.sources[root] = found
    return found


def _structural_dir(ix: SkillIndex, plan: _Plan, path: str, root: str) -> bool:
    """A folder whose arrival or departure changes the plugins of the root."""
    if path in ix.plugins or _plugin_pattern(path):
        return True
    prefix = path + os.sep
    if any(k.startswith(prefix) for k in ix.plugins):
        return True
    return any(s == path or s.startswith(prefix) for s in _marketplace_sources(ix, plan, root))


def _vanished(ix: SkillIndex, plan: _Plan, path: str, root: str) -> None:
    if path in ix.dirs:
        if path != root and _structural_dir(ix, plan, path, root):
            plan.reindex.add(root)
            return
        under = ix.files_under(path)
        # walk never saw what an ignore file under it ignored: let walk look again
        if any(os.path.basename(f) == ".gitignore" for f in under):
            plan.reindex.add(root)
            return
        plan.removals.add(path)
        for f in under:
            _stash(ix, plan, f)
    elif path in ix.files or path in ix.detached or path in ix.read_problems or ix.walk_problem_at(path):
        plan.removals.add(path)
        _stash(ix, plan, path)


def _stash(ix: SkillIndex, plan: _Plan, path: str) -> None:
    if path in plan.open_paths:
        doc = ix.docs.get(path)
        text = doc.parsed.text if doc is not None else ix.detached.get(path)
        if text is not None:
            plan.stash[path] = text


def _check_file(ix: SkillIndex, plan: _Plan, path: str) -> None:
    """The content check, first half: size and mtime; what is left to read is read unlocked."""
    if path in plan.open_paths:
        if path in ix.files:
            return  # the editor's text wins
        text = ix.detached.get(path)
        if text is not None:
            plan.upserts[path] = FileUpdate(text, None, None, len(text.encode("utf-8")), 0, True)
            return
    if not is_markdown(path):
        if path not in ix.files:
            plan.upserts[path] = FileUpdate()
        return
    doc = ix.docs.get(path)
    if doc is not None and path not in ix.racy:
        try:
            st = os.stat(path)
        except OSError:
            return
        if st.st_size == doc.size and st.st_mtime_ns == doc.mtime_ns:
            return
    if (doc is None and path in ix.files and path not in ix.read_problems and ix.classify(path) is None
            and not plan.new_skill):
        return  # Markdown that is no document; a new SKILL.md above it would read it then
    plan.to_read[path] = doc.parsed.text if doc is not None else None


def _read(ix: SkillIndex, plan: _Plan) -> None:
    """The content check, second half, outside the lock: read, compare with the index, parse."""
    for path, known in plan.to_read.items():
        up = _read_update(path, ix.settings_for(path).max_file_bytes)
        if known is not None and up.text == known and up.problem == ix.read_problems.get(path):
            plan.stamps[path] = up
            continue
        if up.text is not None:
            up.parsed = parse(up.text, ix.settings_for(path).limits())
        plan.upserts[path] = up


# --- skill-lsp check --watch --------------------------------------------------------------------
def _line(f: Finding) -> str:
    from .report import to_text

    return to_text([f])


def diff_lines(before: Counter[str], after: Counter[str]) -> list[str]:
    """`- line` for findings that disappeared, then `+ line` for those that appeared."""
    gone = sorted((before - after).elements())
    came = sorted((after - before).elements())
    return [f"- {line}" for line in gone] + [f"+ {line}" for line in came]


def watch_check(args: argparse.Namespace) -> int:
    """Full report, then only what changed after each batch of changes on disk; Ctrl-C ends it."""
    from .check_cmd import build_index, render
    from .rules import check_all

    ix, error = build_index(args.paths)
    if ix is None:
        print(f"skill-lsp: {error}", file=sys.stderr)
        return 2
    findings = check_all(ix)
    print(render(findings, ix, getattr(args, "format", "text")), flush=True)
    state = {"lines": Counter(_line(f) for f in findings)}
    busy = threading.Lock()

    def on_batch(batch: list[Change]) -> None:
        with busy:
            apply_changes(ix, batch, set())
            with ix.lock:
                now = Counter(_line(f) for f in check_all(ix))
            out = diff_lines(state["lines"], now)
            state["lines"] = now
            if out:
                print("\n".join(out), flush=True)

    ignore = sorted({g for s in ix.root_settings.values() for g in s.ignore})
    debounce = min(s.debounce_ms for s in ix.root_settings.values()) / 1000 if ix.root_settings else 0.15
    watcher = TreeWatcher(on_batch, ignore=ignore, debounce_s=debounce)
    try:
        for root in ix.roots:
            watcher.add_root(root)
        print(f"skill-lsp: watching {len(ix.roots)} folder{'s' if len(ix.roots) != 1 else ''} "
              "for changes; Ctrl-C to stop", file=sys.stderr, flush=True)
        forever = threading.Event()
        while not forever.wait(3600):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
    return 0
