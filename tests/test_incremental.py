"""Incremental index updates end exactly where a cold index of the final tree starts.

Each test edits a copy of `fixtures/watch_tree` on disk, tells the index what changed (the
way the watcher would), and compares the whole index and every finding with a cold index of
the tree as it is now. The touched set that the server republishes from is checked too: every
file whose findings changed must be in it.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import pytest
from skill_lsp.index import SkillIndex
from skill_lsp.rules import check_all, check_path
from skill_lsp.watch import Change, apply_changes

FIXTURE = Path(__file__).parent / "fixtures" / "watch_tree"


# --- helpers shared with the other watch tests ----------------------------------------------------
def snapshot(ix: SkillIndex) -> dict[str, object]:
    """Everything a cold index decides, in comparable form."""
    return {
        "findings": Counter(check_all(ix)),
        "docs": {p: (d.kind, d.skill_dir, d.plugin_dir, d.parsed.text) for p, d in ix.docs.items()},
        "doc order": list(ix.docs),
        "resolutions": {p: list(r) for p, r in ix.resolutions.items()},
        "skills": {k: (s.name, s.folder, s.path, s.plugin, list(s.sheets)) for k, s in ix.skills.items()},
        "plugins": {k: (p.name, p.dir, p.manifest, list(p.skills)) for k, p in ix.plugins.items()},
        "files": set(ix.files),
        "dirs": set(ix.dirs),
        "read problems": dict(ix.read_problems),
        "reverse": {k: set(v) for k, v in ix.reverse.items() if v},
        # what each document looked up, and so is re-resolved for: drives every later update
        "lookups": {p: set(k) for p, k in ix.doc_deps.items()},
        "users": {k: {v} if isinstance(v, str) else set(v) for k, v in ix.deps.items()},
        "unresolved": (set(ix.unresolved_docs), set(ix.fuzzy_docs)),
        "ids": {p: ix.doc_id(p) for p in ix.docs},
    }


def assert_same_as_cold(ix: SkillIndex, overlay: dict[str, str] | None = None) -> None:
    cold = SkillIndex()
    for root in ix.roots:
        cold._load_root(root, overlay)
    cold._resolve_everything()
    got, want = snapshot(ix), snapshot(cold)
    assert set(got) == set(want)
    if got["findings"] != want["findings"]:
        extra = got["findings"] - want["findings"]  # type: ignore[operator]
        missing = want["findings"] - got["findings"]  # type: ignore[operator]
        lines = [f"  only incremental: {f.path}:{f.span.start_line + 1} {f.code} {f.message}" for f in extra]
        lines += [f"  only cold:        {f.path}:{f.span.start_line + 1} {f.code} {f.message}" for f in missing]
        pytest.fail("findings differ from a cold index:\n" + "\n".join(lines))
    for key in want:
        assert got[key] == want[key], f"{key} differs from a cold index"


def findings_by_path(ix: SkillIndex) -> dict[str, list[object]]:
    paths = set(ix.docs) | set(ix.read_problems)
    return {p: check_path(ix, p) for p in paths}


def assert_touched_covers(before: dict[str, list[object]], ix: SkillIndex, touched: set[str]) -> None:
    """Every file whose findings changed is in `touched` (so the server republishes it)."""
    after = findings_by_path(ix)
    changed = {p for p in set(before) | set(after) if before.get(p, []) != after.get(p, [])}
    assert changed <= touched, f"findings changed outside the touched set: {sorted(changed - touched)}"


# --- fixtures ------------------------------------------------------------------------------------
@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "garden"
    shutil.copytree(FIXTURE, root)
    return Path(os.path.realpath(root))


def codes(ix: SkillIndex, path: Path) -> list[str]:
    return [f.code for f in check_path(ix, str(path))]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def apply(ix: SkillIndex, *changes: Change, open_paths: set[str] | None = None) -> set[str]:
    before = findings_by_path(ix)
    touched = apply_changes(ix, list(changes), open_paths or set())
    assert_touched_covers(before, ix, touched)
    return touched


SKILL = """---
name: {name}
description: Use when {what}.
---
# {title}

{body}
"""


def skill_text(name: str, body: str = "Some guidance.") -> str:
    return SKILL.format(name=name, what=name.replace("-", " "), title=name.replace("-", " ").title(), body=body)


# --- tests ---------------------------------------------------------------------------------------
def test_a_skill_the_router_names_clears_the_dead_route(tree: Path) -> None:
    ix = SkillIndex.from_roots([str(tree)])
    router = tree / "skills/using-garden/SKILL.md"
    assert "RT001" in codes(ix, router)
    new = write(tree / "skills/soil-feeding/SKILL.md", skill_text("soil-feeding"))
    touched = apply(ix, Change("created", str(new.parent), is_dir=True))
    assert "RT001" not in codes(ix, router)
    assert str(router) in touched and str(new) in touched
    assert_same_as_cold(ix)


def test_deleting_a_sheet_makes_the_links_to_it_dead(tree: Path) -> None:
    ix = SkillIndex.from_roots([str(tree)])
    skill = tree / "skills/deep-watering/SKILL.md"
    sheet = tree / "skills/deep-watering/root-depth.md"
    assert "LK001" not in codes(ix, skill)
    sheet.unlink()
    touched = apply(ix, Change("deleted", str(sheet)))
    assert "LK001" in codes(ix, skill)
    assert {str(skill), str(sheet)} <= touched  # the sheet's own diagnostics must be cleared
    assert str(sheet) not in ix.docs
    assert_same_as_cold(ix)


def test_a_new_sheet_satisfies_the_link_waiting_for_it(tree: Path) -> None:
    ix = SkillIndex.from_roots([str(tree)])
    router = tree / "skills/using-garden/SKILL.md"
    assert "LK001" in codes(ix, router)
    new = write(tree / "skills/deep-watering/watering-schedule.md", "# Watering schedule\n\nMornings.\n")
    apply(ix, Change("created", str(new)))
    assert "LK001" not in codes(ix, router)
    assert ix.docs[str(new)].skill_dir == str(tree / "skills/deep-watering")
    assert_same_as_cold(ix)


def test_moving_a_skill_folder(tree: Path) -> None:
    ix = SkillIndex.from_roots([str(tree)])
    src, dest = tree / "skills/deep-watering", tree / "skills/watering-deeply"
    src.rename(dest)
    apply(ix, Change("moved", str(src), str(dest), is_dir=True))
    assert str(dest / "ref/soil-types.md") in ix.docs and str(src / "SKILL.md") not in ix.docs
    assert_same_as_cold(ix)


def test_moving_a_whole_plugin_folder(tree: Path) -> None:
    ix = SkillIndex.from_roots([str(tree)])
    src, dest = tree / "plugins/fruit-orchard", tree / "plugins/stone-fruit"
    src.rename(dest)
    touched = apply(ix, Change("moved", str(src), str(dest), is_dir=True))
    assert {p.name for p in ix.plugins.values()} == {"stone-fruit"}
    assert ix.doc_id(str(dest / "skills/whip-grafting/SKILL.md")) == "stone-fruit/whip-grafting"
    assert str(src / "skills/whip-grafting/SKILL.md") in touched  # cleared
    assert_same_as_cold(ix)


def test_a_new_plugin_manifest(tree: Path) -> None:
    ix = SkillIndex.from_roots([str(tree)])
    pack = tree / "packs/herbs"
    write(pack / "skills/basil-care/SKILL.md", skill_text("basil-care"))
    apply(ix, Change("created", str(tree / "packs"), is_dir=True))
    assert not any(p.name == "herbs" for p in ix.plugins.values())
    manifest = write(pack / ".claude-plugin/plugin.json", '{"name": "herbs"}\n')
    apply(ix, Change("created", str(manifest.parent), is_dir=True))
    assert ix.doc_id(str(pack / "skills/basil-care/SKILL.md")) == "herbs/basil-care"
    assert_same_as_cold(ix)


def test_renaming_a_skill_in_its_front_matter(tree: Path) -> None:
    ix = SkillIndex.from_roots([str(tree)])
    skill = tree / "skills/winter-pruning/SKILL.md"
    write(skill, skill_text("pruning-cuts"))
    apply(ix, Change("modified", str(skill)))
    assert "FM005" in codes(ix, skill) or ix.skills[str(skill.parent)].name == "pruning-cuts"
    assert_same_as_cold(ix)
    # and a second skill takes the old name: the router's row becomes ambiguous or resolves anew
    write(tree / "skills/pruning-two/SKILL.md", skill_text("winter-pruning"))
    apply(ix, Change("created", str(tree / "skills/pruning-two"), is_dir=True))
    assert_same_as_cold(ix)


def test_headings_decide_anchors(tree: Path) -> None:
    ix = SkillIndex.from_roots([str(tree)])
    skill = tree / "skills/deep-watering/SKILL.md"
    sheet = tree / "skills/deep-watering/ref/soil-types.md"
    original = sheet.read_text(encoding="utf-8")
    write(sheet, original.replace("## Clay soil", "## Heavy soil"))
    touched = apply(ix, Change("modified", str(sheet)))
    assert "LK003" in codes(ix, skill) and str(skill) in touched
    assert_same_as_cold(ix)
    write(sheet, original)
    apply(ix, Change("modified", str(sheet)))
    assert "LK003" not in codes(ix, skill)
    assert_same_as_cold(ix)


def test_a_touch_without_a_change_does_no_work(tree: Path) -> None:
    ix = SkillIndex.from_roots([str(tree)])
    sheet = tree / "skills/deep-watering/root-depth.md"
    doc, generation = ix.docs[str(sheet)], ix.generation
    os.utime(sheet, ns=(doc.mtime_ns + 5_000_000_000, doc.mtime_ns + 5_000_000_000))
    assert apply_changes(ix, [Change("modified", str(sheet))], set()) == set()
    assert ix.docs[str(sheet)] is doc and ix.generation == generation
    assert doc.mtime_ns == sheet.stat().st_mtime_ns  # the new stamp is remembered
    # the same text written again is no change either
    write(sheet, sheet.read_text(encoding="utf-8"))
    assert apply_changes(ix, [Change("modified", str(sheet))], set()) == set()
    assert ix.generation == generation


def test_a_stable_stamp_skips_the_read(tree: Path) -> None:
    """Size and mtime equal and old enough: the file is not read again (like git's index).

    Shown by changing the bytes behind the index's back while keeping size and mtime: the index
    keeps the text it has, because it never looked.
    """
    sheet = tree / "skills/deep-watering/root-depth.md"
    old = sheet.stat().st_mtime_ns - 3600 * 10**9
    os.utime(sheet, ns=(old, old))
    ix = SkillIndex.from_roots([str(tree)])
    assert str(sheet) not in ix.racy
    text, generation = ix.docs[str(sheet)].parsed.text, ix.generation
    sheet.write_text(text.replace("Water", "Wet!!"), encoding="utf-8")
    os.utime(sheet, ns=(old, old))
    assert apply_changes(ix, [Change("modified", str(sheet))], set()) == set()
    assert ix.docs[str(sheet)].parsed.text == text and ix.generation == generation


def test_a_fresh_stamp_is_not_trusted(tree: Path) -> None:
    """A file written within the timestamp's resolution of its read may change unseen: read it."""
    sheet = write(tree / "skills/deep-watering/root-depth.md", "# Root depth\n\nWater deeply.\n")
    ix = SkillIndex.from_roots([str(tree)])
    assert str(sheet) in ix.racy  # written just now
    doc = ix.docs[str(sheet)]
    sheet.write_text(doc.parsed.text.replace("Water", "Wet!!"), encoding="utf-8")
    os.utime(sheet, ns=(doc.mtime_ns, doc.mtime_ns))
    apply(ix, Change("modified", str(sheet)))
    assert "Wet!!" in ix.docs[str(sheet)].parsed.text


def test_open_documents_keep_the_editors_text(tree: Path) -> None:
    ix = SkillIndex.from_roots([str(tree)])
    skill = tree / "skills/winter-pruning/SKILL.md"
    editor_text = skill_text("winter-pruning", "See [the missing sheet](not-written-yet.md).")
    ix.update(str(skill), editor_text)
    write(skill, skill_text("winter-pruning", "Disk text."))
    apply(ix, Change("modified", str(skill)), open_paths={str(skill)})
    assert ix.docs[str(skill)].parsed.text == editor_text
    assert "LK001" in codes(ix, skill)
    assert_same_as_cold(ix, overlay={str(skill): editor_text})


def test_a_new_skill_file_adopts_the_markdown_around_it(tree: Path) -> None:
    ix = SkillIndex.from_roots([str(tree)])
    folder = tree / "skills/composting"
    write(folder / "hot-piles.md", "# Hot piles\n")
    write(folder / "deep/worm-bins.md", "# Worm bins\n")
    apply(ix, Change("created", str(folder), is_dir=True))
    assert str(folder / "hot-piles.md") not in ix.docs
    assert_same_as_cold(ix)
    skill = write(folder / "SKILL.md", skill_text("composting", "Start with [hot piles](hot-piles.md)."))
    apply(ix, Change("created", str(skill)))
    assert ix.docs[str(folder / "deep/worm-bins.md")].skill_dir == str(folder)
    assert_same_as_cold(ix)
    skill.unlink()
    apply(ix, Change("deleted", str(skill)))
    assert str(folder / "hot-piles.md") not in ix.docs
    assert_same_as_cold(ix)


def test_a_nested_skill_takes_over_the_sheets_under_it(tree: Path) -> None:
    ix = SkillIndex.from_roots([str(tree)])
    inner = tree / "skills/deep-watering/ref"
    skill = write(inner / "SKILL.md", skill_text("ref", "Read [soil](soil-types.md)."))
    apply(ix, Change("created", str(skill)))
    assert ix.docs[str(inner / "soil-types.md")].skill_dir == str(inner)
    assert str(inner / "soil-types.md") not in ix.skills[str(tree / "skills/deep-watering")].sheets
    assert_same_as_cold(ix)
    skill.unlink()
    apply(ix, Change("deleted", str(skill)))
    assert ix.docs[str(inner / "soil-types.md")].skill_dir == str(tree / "skills/deep-watering")
    assert_same_as_cold(ix)


def test_an_ignore_file_is_honoured_as_it_changes(tree: Path) -> None:
    ix = SkillIndex.from_roots([str(tree)])
    gi = write(tree / ".gitignore", "skills/winter-pruning/\n")
    apply(ix, Change("created", str(gi)))
    assert str(tree / "skills/winter-pruning/SKILL.md") not in ix.docs
    assert_same_as_cold(ix)
    # a file created under an ignored folder stays out
    new = write(tree / "skills/winter-pruning/summer.md", "# Summer\n")
    apply(ix, Change("created", str(new)))
    assert str(new) not in ix.files
    gi.unlink()
    apply(ix, Change("deleted", str(gi)))
    assert str(new) in ix.docs
    assert_same_as_cold(ix)


def test_unreadable_and_binary_documents(tree: Path) -> None:
    ix = SkillIndex.from_roots([str(tree)])
    sheet = tree / "skills/deep-watering/root-depth.md"
    sheet.write_bytes(b"\x00\x01binary")
    apply(ix, Change("modified", str(sheet)))
    assert "IO002" in codes(ix, sheet) and str(sheet) not in ix.docs
    assert_same_as_cold(ix)
    write(sheet, "# Root depth\n\nBack to text.\n")
    apply(ix, Change("modified", str(sheet)))
    assert codes(ix, sheet) == []
    assert_same_as_cold(ix)


def test_editor_updates_and_renames_through_the_index_api(tree: Path) -> None:
    ix = SkillIndex.from_roots([str(tree)])
    before = findings_by_path(ix)
    sheet = tree / "skills/deep-watering/root-depth.md"
    text = "# Root depth\n\nSee [sandy soil](ref/soil-types.md#sandy-soil) and [nothing](nope.md).\n"
    touched = ix.update(str(sheet), text)
    assert_touched_covers(before, ix, touched)
    assert_same_as_cold(ix, overlay={str(sheet): text})
    # rename on disk, then tell the index
    new = sheet.with_name("rooting-depth.md")
    sheet.rename(new)
    before = findings_by_path(ix)
    touched = ix.rename(str(sheet), str(new))
    assert_touched_covers(before, ix, touched)
    assert_same_as_cold(ix)
    before = findings_by_path(ix)
    touched = ix.remove(str(tree / "skills/deep-watering"))
    assert_touched_covers(before, ix, touched)
    shutil.rmtree(tree / "skills/deep-watering")
    assert_same_as_cold(ix)


def test_a_burst_of_changes_in_one_batch(tree: Path) -> None:
    ix = SkillIndex.from_roots([str(tree)])
    changes = []
    for i in range(60):
        folder = tree / f"plugins/fruit-orchard/skills/tree-care-{i:02d}"
        write(folder / "SKILL.md", skill_text(f"tree-care-{i:02d}", f"Read [notes](notes-{i}.md)."))
        if i % 3:
            write(folder / f"notes-{i}.md", f"# Notes {i}\n")
        changes.append(Change("created", str(folder), is_dir=True))
    (tree / "skills/winter-pruning/SKILL.md").unlink()
    changes.append(Change("deleted", str(tree / "skills/winter-pruning/SKILL.md")))
    apply(ix, *changes)
    assert_same_as_cold(ix)


def test_roots_come_and_go(tree: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    write(other / "skills/soil-feeding/SKILL.md", skill_text("soil-feeding"))
    ix = SkillIndex.from_roots([str(tree)])
    router = tree / "skills/using-garden/SKILL.md"
    assert "RT001" in codes(ix, router)
    touched = ix.add_root(str(other))
    assert "RT001" not in codes(ix, router) and str(router) in touched
    assert_same_as_cold(ix)
    touched = ix.remove_root(str(other))
    assert "RT001" in codes(ix, router) and str(router) in touched
    assert_same_as_cold(ix)


def test_the_path_filter_agrees_with_walk_on_every_path(tmp_path: Path) -> None:
    """Single-path decisions (used for events) match what a cold walk indexes, path for path."""
    from skill_lsp.discover import walk
    from skill_lsp.index import PathFilter

    root = tmp_path / "t"
    for rel in ("skills/a/SKILL.md", "skills/a/keep.md", "skills/a/drop.tmp.md", "skills/a/sub/x.md",
                "skills/b/build/out.md", "skills/b/build/keep-me.md", "skills/b/SKILL.md", "node_modules/p/SKILL.md",
                ".git/HEAD", ".hidden/s/SKILL.md", ".claude/skills/c/SKILL.md", ".github/x.md", "env/pyvenv.cfg",
                "env/lib/SKILL.md", "notes/private/secret.md", "notes/public.md", "deep/" + "/".join("d" * 30) + "/f.md"):
        write(root / rel, "# x\n")
    write(root / ".gitignore", "*.tmp.md\nnotes/private/\n")
    write(root / "skills/b/.gitignore", "build/*\n!build/keep-me.md\n")
    write(root / "skills/a/sub/.gitignore", "x.md\n")
    real = os.path.realpath(root)
    layout = walk(real, ["deep/d/d/"])
    filt = PathFilter(real, ["deep/d/d/"])
    for d, dirs, files in os.walk(real):
        for name in dirs:
            p = os.path.join(d, name)
            assert filt.allows(p, True) == (p in layout.dirs), p
        for name in files:
            p = os.path.join(d, name)
            assert filt.allows(p, False) == (p in layout.files), p


def test_typing_in_a_router_keeps_up_with_what_else_changes(tree: Path) -> None:
    """Keystrokes in one document reuse its resolutions from the last keystroke (a 1,000-row router
    re-resolves the row typed in only): reused or not, the index ends where a cold one starts,
    what each document looked up included."""
    ix = SkillIndex.from_roots([str(tree)])
    router = str(tree / "skills/using-garden/SKILL.md")
    text = Path(router).read_text(encoding="utf-8") + "\nBack to [the top](#garden-router).\n"
    overlay: dict[str, str] = {}

    def same_as_cold() -> None:
        assert_same_as_cold(ix, overlay=overlay)  # lookups included

    def keystroke(new: str, removals: tuple[str, ...] = ()) -> set[str]:
        overlay[router] = new
        touched = ix.commit({router: ix.text_update(router, new)}, removals, editor=True)
        same_as_cold()
        return touched

    keystroke(text)
    keystroke(text.replace("droop at noon", "droop at midday"))  # reuses every row

    def status(name: str) -> str:
        return next(r.status.value for r in ix.resolutions[router] if r.ref.target == name)

    assert status("winter-pruning") == "ok"
    # the same batch removes a skill a row names: that row is resolved again, and leads nowhere now
    gone = tree / "skills/winter-pruning"
    shutil.rmtree(gone)
    touched = keystroke(text.replace("droop at noon", "droop in the heat"), (str(gone),))
    assert router in touched and status("winter-pruning") == "missing"
    # another batch, between two keystrokes, removes a skill a row names (the router is resolved
    # anew there, not for its own edit): the next keystroke must not bring the old row back
    shutil.copytree(FIXTURE / "skills/winter-pruning", gone)
    apply(ix, Change("created", str(gone), is_dir=True))
    keystroke(text)
    assert status("winter-pruning") == "ok"
    shutil.rmtree(gone)
    apply(ix, Change("deleted", str(gone), is_dir=True))
    keystroke(text.replace("droop at noon", "wilt at noon"))
    assert status("winter-pruning") == "missing"
    # the keystroke renames the heading its own link points at: that link is resolved again
    keystroke(text.replace("# Garden router", "# Garden routes"))
    assert "LK003" in codes(ix, Path(router))
    keystroke(text)
    assert "LK003" not in codes(ix, Path(router))


def test_a_second_skill_file_moves_every_name_of_its_folder(tree: Path) -> None:
    """`skill.md` beside `SKILL.md` takes the folder's skill over: a reference by a name only the
    other file declares leads to the new file too (found by the property suite)."""
    write(tree / "skills/winter-pruning/SKILL.md", skill_text("pruning-in-winter"))
    # (a document that names the folder too is resolved anew anyway)
    write(tree / "skills/deep-watering/after-watering.md", "# After watering\n\nRoute to: `pruning-in-winter`\n")
    ix = SkillIndex.from_roots([str(tree)])
    second = write(tree / "skills/winter-pruning/skill.md", skill_text("winter-pruning"))
    apply(ix, Change("created", str(second)))
    assert_same_as_cold(ix)
    second.unlink()
    apply(ix, Change("deleted", str(second)))
    assert_same_as_cold(ix)


def test_the_index_says_which_documents_changed_since_a_generation(tree: Path) -> None:
    """What views derived from the index (the router) read to catch up with edits without
    looking at every document: exact while it remembers, None (look at everything) beyond."""
    from skill_lsp import index as index_module

    ix = SkillIndex.from_roots([str(tree)])
    start = ix.generation
    assert ix.changed_since(start) == set()
    assert ix.changed_since(start - 1) is None  # the cold build itself: everything
    sheet = str(tree / "skills/deep-watering/root-depth.md")
    text = Path(sheet).read_text(encoding="utf-8")
    ix.update(sheet, text + "\nMore.\n")
    assert sheet in ix.changed_since(start)
    gone = tree / "skills/winter-pruning"
    shutil.rmtree(gone)
    apply(ix, Change("deleted", str(gone), is_dir=True))
    since = ix.changed_since(start)
    assert sheet in since and str(gone / "SKILL.md") in since  # what came or went is listed too
    mark = ix.generation
    other = str(tree / "skills/using-garden/SKILL.md")
    ix.update(other, Path(other).read_text(encoding="utf-8") + "\nMore.\n")
    for i in range(2 * index_module.JOURNAL):
        ix.update(sheet, text + f"\nEdit {i}.\n")
    assert len(ix._journal) <= index_module.JOURNAL  # old spans merged, not dropped
    assert {sheet, other} <= ix.changed_since(mark)  # long ago, still known
    assert ix.changed_since(ix.generation - 1) == {sheet}
    assert ix.changed_since(start - 1) is None
