"""The watcher with real watchdog observers on real files: what an author sees when the disk moves.

Every wait is on a condition signalled after each applied batch, with a deadline; no fixed sleeps.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from skill_lsp.index import SkillIndex
from skill_lsp.watch import Change, TreeWatcher, apply_changes, coalesce
from test_incremental import FIXTURE, assert_same_as_cold, codes, skill_text, write
from watchdog.observers.api import BaseObserver, EventEmitter

DEADLINE = 60.0  # generous: the machine is small and busy; a pass is usually well under a second


class Live:
    """An index kept in step by a TreeWatcher; tests wait for conditions after each batch."""

    def __init__(self, root: Path, **watcher_args: object) -> None:
        self.root = root
        self.ix = SkillIndex.from_roots([str(root)])
        self.cond = threading.Condition()
        self.batches: list[list[Change]] = []
        self.threads: set[str] = set()
        self.errors: list[BaseException] = []
        self.watcher = TreeWatcher(self._on_batch, **watcher_args)  # type: ignore[arg-type]

    def _on_batch(self, batch: list[Change]) -> None:
        try:
            apply_changes(self.ix, batch, set())
        except BaseException as exc:  # surfaced by wait()
            self.errors.append(exc)
        with self.cond:
            self.batches.append(batch)
            self.threads.add(threading.current_thread().name)
            self.cond.notify_all()

    def wait(self, predicate: Callable[[], bool], what: str) -> None:
        def check() -> bool:
            if self.errors:
                return True
            with self.ix.lock:
                return predicate()

        with self.cond:
            ok = self.cond.wait_for(check, timeout=DEADLINE)
        if self.errors:
            raise self.errors[0]
        assert ok, f"timed out waiting for: {what}"

    def wait_in_step(self, what: str) -> None:
        """Until the index holds exactly the disk's texts (then compare with a cold index)."""
        self.wait(lambda: _in_step(self.ix, self.root), what)


def _in_step(ix: SkillIndex, root: Path) -> bool:
    on_disk = {}
    for d, _ds, fs in os.walk(root):
        for f in fs:
            p = os.path.join(d, f)
            on_disk[p] = p
    if set(on_disk) != ix.files:
        return False
    for p, doc in ix.docs.items():
        try:
            if Path(p).read_text(encoding="utf-8") != doc.parsed.text:
                return False
        except OSError:
            return False
    return True


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "garden"
    shutil.copytree(FIXTURE, root)
    return Path(os.path.realpath(root))


@pytest.fixture
def live(tree: Path) -> Iterator[Live]:
    lv = Live(tree)
    assert lv.watcher.add_root(str(tree))
    assert str(tree) not in lv.watcher.polling_roots
    yield lv
    lv.watcher.stop()


def test_creating_a_skill_the_router_names_clears_the_dead_route(live: Live, tree: Path) -> None:
    router = tree / "skills/using-garden/SKILL.md"
    assert "RT001" in codes(live.ix, router)
    write(tree / "skills/soil-feeding/SKILL.md", skill_text("soil-feeding"))
    live.wait(lambda: "RT001" not in codes(live.ix, router), "the dead route to go")
    live.wait_in_step("the new skill")
    assert_same_as_cold(live.ix)
    # batches arrive on the watcher's own thread
    assert live.threads == {"skill-lsp-watch"}


def test_deleting_a_sheet_makes_its_links_dead(live: Live, tree: Path) -> None:
    skill = tree / "skills/deep-watering/SKILL.md"
    (tree / "skills/deep-watering/root-depth.md").unlink()
    live.wait(lambda: "LK001" in codes(live.ix, skill), "the link to the deleted sheet to break")
    assert_same_as_cold(live.ix)


def test_moving_a_whole_plugin_folder(live: Live, tree: Path) -> None:
    src, dest = tree / "plugins/fruit-orchard", tree / "plugins/stone-fruit"
    src.rename(dest)
    grafting = str(dest / "skills/whip-grafting/SKILL.md")
    live.wait(lambda: grafting in live.ix.docs and live.ix.doc_id(grafting) == "stone-fruit/whip-grafting",
              "the plugin to be known by its new folder")
    live.wait_in_step("the moved plugin")
    assert not any(p.startswith(str(src) + os.sep) for p in live.ix.files)
    assert_same_as_cold(live.ix)


# watchdog warns when a folder it watched comes back under another name; harmless here
@pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning")
def test_moving_a_skill_folder_out_and_back(live: Live, tree: Path, tmp_path: Path) -> None:
    src, outside = tree / "skills/winter-pruning", tmp_path / "parked"
    src.rename(outside)
    live.wait(lambda: str(src / "SKILL.md") not in live.ix.docs, "the skill to leave")
    outside.rename(tree / "skills/pruning-cuts")
    live.wait(lambda: str(tree / "skills/pruning-cuts/SKILL.md") in live.ix.docs, "the skill to come back")
    assert_same_as_cold(live.ix)


def test_two_thousand_files_at_once(live: Live, tree: Path) -> None:
    pack = tree / "plugins/fruit-orchard/skills"
    for i in range(500):
        folder = pack / f"tree-care-{i:03d}"
        folder.mkdir()
        (folder / "SKILL.md").write_text(skill_text(f"tree-care-{i:03d}", f"Read [pests](pests-{i}.md)."),
                                         encoding="utf-8")
        (folder / f"pests-{i}.md").write_text(f"# Pests {i}\n\nSee [soil](soil-{i}.md).\n", encoding="utf-8")
        (folder / f"soil-{i}.md").write_text(f"# Soil {i}\n", encoding="utf-8")
        (folder / "notes.txt").write_text("not markdown\n", encoding="utf-8")
    (tree / "skills/deep-watering/root-depth.md").unlink()
    live.wait_in_step("2,000 new files")
    assert_same_as_cold(live.ix)
    # coalesced, not replayed one event at a time (each file makes several events)
    assert len(live.batches) < 200


def test_ignored_folders_send_nothing(live: Live, tree: Path) -> None:
    for noisy in (".git/objects/ab/x.md", "node_modules/pkg/SKILL.md", ".venv/lib/y.md", ".cache/z.md"):
        write(tree / noisy, "# noise\n")
    sentinel = write(tree / "skills/deep-watering/watering-schedule.md", "# Schedule\n")
    live.wait(lambda: str(sentinel) in live.ix.docs, "the sentinel file")
    delivered = [c.path for batch in live.batches for c in batch]
    assert not [p for p in delivered if "/.git/" in p or "node_modules" in p or "/.venv/" in p or "/.cache/" in p]
    assert_same_as_cold(live.ix)


def test_a_burst_in_a_folder_that_is_then_deleted(live: Live, tree: Path) -> None:
    """Created, modified, then deleted again before the batch is applied: the index ends as the disk."""
    folder = tree / "skills/short-lived"
    for i in range(50):
        write(folder / f"sheet-{i}.md", f"# Sheet {i}\n")
    write(folder / "SKILL.md", skill_text("short-lived"))
    shutil.rmtree(folder)
    sentinel = write(tree / "skills/winter-pruning/shaping.md", "# Shaping\n")
    live.wait(lambda: str(sentinel) in live.ix.docs, "the sentinel file")
    live.wait_in_step("the folder to be gone")
    assert_same_as_cold(live.ix)


# --- graceful degradation ---------------------------------------------------------------------
class _RefusingEmitter(EventEmitter):
    """Like inotify when the watch limit is reached: starting the watch fails with ENOSPC."""

    def on_thread_start(self) -> None:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    def queue_events(self, timeout: float) -> None:  # pragma: no cover - never started
        raise AssertionError


class _RefusingObserver(BaseObserver):
    def __init__(self) -> None:
        super().__init__(_RefusingEmitter)


class _DyingEmitter(EventEmitter):
    """A native watch that starts, then stops working (its thread ends on an error)."""

    def queue_events(self, timeout: float) -> None:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")


class _DyingObserver(BaseObserver):
    def __init__(self) -> None:
        super().__init__(_DyingEmitter)


class _DeafEmitter(EventEmitter):
    """A native watch that stays up but whose events were lost (as after a queue overflow)."""

    def queue_events(self, timeout: float) -> None:
        self.stopped_event.wait(timeout)


class _DeafObserver(BaseObserver):
    def __init__(self) -> None:
        super().__init__(_DeafEmitter)


def test_lost_events_lead_to_a_full_rescan(tree: Path) -> None:
    lv = Live(tree, observer_class=_DeafObserver)
    try:
        assert lv.watcher.add_root(str(tree))
        write(tree / "skills/soil-feeding/SKILL.md", skill_text("soil-feeding"))
        (tree / "skills/deep-watering/root-depth.md").unlink()
        shutil.rmtree(tree / "plugins/fruit-orchard/commands")
        # what watchdog logs when the kernel's queue overflowed
        logging.getLogger("watchdog.observers.inotify_c").warning(
            "Inotify queue overflowed; filesystem events were lost")
        lv.wait_in_step("the rescan")
        assert "RT001" not in codes(lv.ix, tree / "skills/using-garden/SKILL.md")
        assert_same_as_cold(lv.ix)
    finally:
        lv.watcher.stop()


def test_the_watch_limit_falls_back_to_polling(tree: Path, caplog: pytest.LogCaptureFixture) -> None:
    lv = Live(tree, observer_class=_RefusingObserver, polling_interval=0.2)
    try:
        with caplog.at_level(logging.WARNING, logger="skill_lsp.watch"):
            assert lv.watcher.add_root(str(tree))
        assert str(tree) in lv.watcher.polling_roots
        message = " ".join(r.getMessage() for r in caplog.records)
        assert "polling" in message and "max_user_watches" in message
        router = tree / "skills/using-garden/SKILL.md"
        write(tree / "skills/soil-feeding/SKILL.md", skill_text("soil-feeding"))
        lv.wait(lambda: "RT001" not in codes(lv.ix, router), "polling to see the new skill")
        (tree / "skills/deep-watering/root-depth.md").unlink()
        lv.wait(lambda: "LK001" in codes(lv.ix, tree / "skills/deep-watering/SKILL.md"), "polling to see a deletion")
        assert_same_as_cold(lv.ix)
    finally:
        lv.watcher.stop()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the emitter's death
def test_a_native_watch_that_dies_is_replaced_by_polling(tree: Path, caplog: pytest.LogCaptureFixture) -> None:
    lv = Live(tree, observer_class=_DyingObserver, polling_interval=0.2, health_interval=0.2)
    try:
        with caplog.at_level(logging.WARNING, logger="skill_lsp.watch"):
            assert lv.watcher.add_root(str(tree))
            # nothing reports this change natively; the health check must notice and poll
            write(tree / "skills/soil-feeding/SKILL.md", skill_text("soil-feeding"))
            router = tree / "skills/using-garden/SKILL.md"
            lv.wait(lambda: "RT001" not in codes(lv.ix, router), "the rescan after falling back")
        assert str(tree) in lv.watcher.polling_roots
        assert any("polling" in r.getMessage() for r in caplog.records)
        assert_same_as_cold(lv.ix)
    finally:
        lv.watcher.stop()


def test_a_root_that_cannot_be_watched_at_all(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    watcher = TreeWatcher(lambda batch: None, observer_class=_RefusingObserver)
    try:
        with caplog.at_level(logging.WARNING, logger="skill_lsp.watch"):
            assert watcher.add_root(str(tmp_path / "does-not-exist")) is False
        assert any("cannot be polled" in r.getMessage() for r in caplog.records)
    finally:
        watcher.stop()


# --- coalescing -------------------------------------------------------------------------------
def test_coalescing_reduces_each_path_to_its_net_change() -> None:
    events = [
        Change("created", "/r/a.md"), Change("modified", "/r/a.md"), Change("deleted", "/r/a.md"),
        Change("created", "/r/b.md"), Change("modified", "/r/b.md"),
        Change("deleted", "/r/c.md"), Change("created", "/r/c.md"),
        Change("modified", "/r/d.md"), Change("modified", "/r/d.md"), Change("deleted", "/r/d.md"),
        Change("moved", "/r/e", "/r/f", is_dir=True),
        Change("created", "/r/g.md"), Change("moved", "/r/g.md", "/r/h.md"),
        Change("deleted", "/r/dir", is_dir=True), Change("created", "/r/dir", is_dir=True),
    ]
    assert coalesce(events) == [
        Change("created", "/r/b.md"),
        Change("modified", "/r/c.md"),
        Change("deleted", "/r/d.md"),
        Change("moved", "/r/e", "/r/f", is_dir=True),
        Change("created", "/r/h.md"),
        Change("created", "/r/dir", is_dir=True),  # replaced: scanned whole again
    ]


def test_changes_outside_every_root_are_ignored(tree: Path, tmp_path: Path) -> None:
    ix = SkillIndex.from_roots([str(tree)])
    stray = write(tmp_path / "elsewhere/SKILL.md", skill_text("elsewhere"))
    assert apply_changes(ix, [Change("created", str(stray))], set()) == set()
    assert str(stray) not in ix.files
