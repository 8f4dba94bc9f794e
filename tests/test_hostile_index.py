"""The whole index under random edits: any sequence of incremental updates ends in the same
findings (and the same agent answers) as a cold index of the same final tree.

Hypothesis draws a small tree (a plugin-less skill pack and a plugin, with routing tables, links,
anchors, arrows and code-span names between the files) and a sequence of operations on it:
editor updates, removals of files and folders, renames. Every operation is also done on disk, the
way an editor saves, so that the cold index of the final tree reads the same texts. Two drivers:
the editor's (`ix.update` / `ix.remove` / `ix.rename`) and the watcher's (disk events through
`watch.apply_changes`). Derandomized, so CI sees the same examples every run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skill_lsp.agent_api import list_request, route_request
from skill_lsp.config import Settings
from skill_lsp.index import SkillIndex
from skill_lsp.rules import check_all
from skill_lsp.watch import Change, apply_changes

INDEX_PROFILE = settings(derandomize=True, deadline=None, max_examples=100, print_blob=True,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Files that are always there: the plugin's manifest and one skill of it. Plugin declarations are
# not incremental by design (the watcher re-indexes the root for them), so they stay put.
PINNED = {
    "plugins/pk/.claude-plugin/plugin.json": '{"name": "pk"}\n',
    "plugins/pk/skills/gamma/SKILL.md": None,  # text drawn like the others
}
UNIVERSE = [
    "skills/alpha/SKILL.md", "skills/alpha/notes.md", "skills/alpha/more.md", "skills/alpha/sub/deep.md",
    "skills/beta/SKILL.md", "skills/beta/notes.md", "skills/using-router/SKILL.md",
    "skills/orphan/readme.md", "plugins/pk/skills/gamma/SKILL.md", "plugins/pk/skills/gamma/g-sheet.md",
    "plugins/pk/skills/delta/SKILL.md", "plugins/pk/commands/do-it.md", "skills/Alpha/SKILL.md",
]
FOLDERS = ["skills/alpha", "skills/alpha/sub", "skills/beta", "skills/using-router", "plugins/pk/skills/delta"]
NAMES = ["alpha", "beta", "gamma", "delta", "using-router", "notes", "more", "g-sheet", "deep", "do-it",
         "missing-x", "pk/gamma", "pk:gamma", "pk/gamma/g-sheet.md", "/do-it", "alpah", "Alpha", "notes.md",
         "g-sheet.md"]
ANCHORS = ["", "#intro", "#details", "#nope"]


@st.composite
def doc_text(draw: st.DrawFn, rel: str) -> str:
    here = os.path.dirname(rel)
    folder = os.path.basename(here)
    out = []
    if draw(st.booleans()) or rel.endswith("SKILL.md"):
        name = draw(st.sampled_from([folder, folder, "alpha", "Bad_Name", folder + "-x"]))
        desc = draw(st.sampled_from(["Use when the tests need it.", "Does things.", "Use when a: b", "''"]))
        broken = draw(st.sampled_from(["", "", "", "bad: [\n"]))
        out.append(f"---\nname: {name}\ndescription: {desc}\n{broken}---\n")
    out.append("# Intro\n\nSome words here.\n\n## Details\n\n")
    for target, anchor in draw(st.lists(st.tuples(st.sampled_from(UNIVERSE + ["missing.md", "../x.md"]),
                                                  st.sampled_from(ANCHORS)), max_size=4)):
        link = os.path.relpath(target, here) if "/" in target else target
        out.append(f"See [t]({link}{anchor}).\n")
    rows = draw(st.lists(st.sampled_from(NAMES), max_size=4))
    if rows:
        out.append("\n| Symptom | Route to |\n|---|---|\n")
        out.extend(f"| case {i} | {n} |\n" for i, n in enumerate(rows))
        out.append("\n")
    for n in draw(st.lists(st.sampled_from(NAMES), max_size=3)):
        out.append(draw(st.sampled_from([f"-> {n}\n", f"Use `{n}` here.\n", f"**Route to:** {n}\n"])))
    return "".join(out)


@st.composite
def tree_and_ops(draw: st.DrawFn) -> tuple[dict[str, str], list[tuple]]:
    files = {rel: draw(doc_text(rel)) for rel in UNIVERSE if draw(st.booleans())}
    for rel, text in PINNED.items():
        files[rel] = text if text is not None else draw(doc_text(rel))
    ops: list[tuple] = []
    for _ in range(draw(st.integers(1, 10))):
        kind = draw(st.sampled_from(["update", "update", "update", "remove", "rmdir", "rename", "hostile"]))
        if kind == "hostile":  # what only the disk can hold: the watcher's events bring it
            ops.append((draw(st.sampled_from(HOSTILE_WRITES)), draw(st.sampled_from(UNIVERSE))))
        elif kind == "update":
            rel = draw(st.sampled_from(UNIVERSE))
            ops.append(("update", rel, draw(doc_text(rel))))
        elif kind == "remove":
            ops.append(("remove", draw(st.sampled_from(UNIVERSE))))
        elif kind == "rmdir":
            ops.append(("rmdir", draw(st.sampled_from(FOLDERS))))
        else:
            old, new = draw(st.sampled_from(UNIVERSE)), draw(st.sampled_from(UNIVERSE))
            ops.append(("rename", old, new))
    return files, ops


MAX_BYTES = 3000  # the size limit of both indexes: drawn texts stay under it, "big" goes over
HOSTILE_WRITES = ["binary", "big", "latin1", "link_out", "link_loop"]


@contextmanager
def tree(files: dict[str, str]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="hostile-index-") as d:
        root = Path(d, "tree")
        for rel, text in files.items():
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
        yield root.resolve()


def state(ix: SkillIndex) -> tuple[list[str], list[str], object]:
    """What users see: every finding, the agent's list, and one routing answer."""
    findings = sorted(repr(f) for f in check_all(ix))
    items = sorted(repr(i) for i in list_request(ix, {})["items"])
    try:
        route = route_request(ix, {"query": "alpha notes details for the tests", "limit": 5})
        route = [(r["id"], r["route"]) for r in route["results"]]
    except ValueError as exc:
        route = str(exc)
    return findings, items, route


def assert_same_as_cold(ix: SkillIndex, root: Path, history: list[tuple]) -> None:
    cold = SkillIndex.from_roots([root], Settings(max_file_bytes=MAX_BYTES))
    got, want = state(ix), state(cold)
    for part, a, b in zip(("findings", "list", "route"), got, want, strict=True):
        if a != b:
            extra = [x for x in a if x not in b] if isinstance(a, list) else a
            missing = [x for x in b if x not in a] if isinstance(b, list) else b
            raise AssertionError(f"incremental {part} differ from a cold index after {history}:\n"
                                 f"  only incremental: {extra}\n  only cold: {missing}")


def _disk_op(root: Path, op: tuple) -> list[Change] | None:
    """Do `op` on disk; the watcher events it causes (None when it is not possible on disk)."""
    kind = op[0]
    if kind in HOSTILE_WRITES:
        p = root / op[1]
        existed = p.exists() or p.is_symlink()
        events = _mkdirs(p.parent)
        if p.is_symlink() or (kind.startswith("link") and p.is_file()):
            p.unlink()
        if p.is_dir():
            return None
        if kind == "binary":
            p.write_bytes(b"\x00\x01PK\x03\x04" * 20)
        elif kind == "big":
            p.write_text("# Big\n\n" + "many words here " * (MAX_BYTES // 10), encoding="utf-8")
        elif kind == "latin1":
            p.write_bytes("---\nname: caf\u00e9\n---\n# Caf\u00e9 cr\u00e8me\n".encode("latin-1"))
        elif kind == "link_out":
            outside = root.parent / "outside.md"
            outside.write_text("# Outside\n\nNever indexed.\n", encoding="utf-8")
            p.symlink_to(outside)
        else:
            p.symlink_to(p.name)  # points at itself
        return events + [Change("modified" if existed else "created", str(p))]
    if kind == "update":
        p = root / op[1]
        if p.is_symlink():  # the editor saves a file of its own there
            p.unlink()
        created = not p.exists()
        events = _mkdirs(p.parent)
        p.write_text(op[2], encoding="utf-8")
        return events + [Change("created" if created else "modified", str(p))]
    if kind == "remove":
        p = root / op[1]
        if not p.is_file():
            return None
        p.unlink()
        return [Change("deleted", str(p))]
    if kind == "rmdir":
        p = root / op[1]
        if not p.is_dir():
            return None
        shutil.rmtree(p)
        return [Change("deleted", str(p), is_dir=True)]
    old, new = root / op[1], root / op[2]
    if not old.is_file() or new.exists() or old == new:
        return None
    events = _mkdirs(new.parent)
    os.rename(old, new)
    return events + [Change("moved", str(old), str(new))]


def _mkdirs(folder: Path) -> list[Change]:
    """Make `folder` and its missing parents; the created event inotify reports (the topmost new one)."""
    top, up = None, folder
    while not up.exists():
        top, up = up, up.parent
    if top is None:
        return []
    folder.mkdir(parents=True)
    return [Change("created", str(top), is_dir=True)]


@INDEX_PROFILE
@given(tree_and_ops())
def test_editor_updates_end_like_a_cold_index(case: tuple[dict[str, str], list[tuple]]) -> None:
    files, ops = case
    with tree(files) as root:
        ix = SkillIndex.from_roots([root], Settings(max_file_bytes=MAX_BYTES))
        history: list[tuple] = []
        for op in ops:
            if op[0] in HOSTILE_WRITES:
                changes = _disk_op(root, op)
                if changes is None:
                    continue
                apply_changes(ix, changes)
            elif op[0] == "update":
                text = op[2]
                _disk_op(root, op)
                ix.update(str(root / op[1]), text)
            elif op[0] in ("remove", "rmdir"):
                if _disk_op(root, op) is None:
                    continue
                ix.remove(str(root / op[1]))
            else:
                text = (root / op[1]).read_text(encoding="utf-8") if (root / op[1]).is_file() else None
                if _disk_op(root, op) is None:
                    continue
                ix.rename(str(root / op[1]), str(root / op[2]), text)
            history.append(op[:2] if op[0] != "rename" else op)
        assert_same_as_cold(ix, root, history)


@INDEX_PROFILE
@given(tree_and_ops(), st.integers(1, 4))
def test_disk_events_end_like_a_cold_index(case: tuple[dict[str, str], list[tuple]], batch: int) -> None:
    """The watcher's path: events applied in batches of `batch` operations, as debouncing groups them."""
    files, ops = case
    with tree(files) as root:
        ix = SkillIndex.from_roots([root], Settings(max_file_bytes=MAX_BYTES))
        history: list[tuple] = []
        pending: list[Change] = []
        for i, op in enumerate(ops):
            changes = _disk_op(root, op)
            if changes is None:
                continue
            pending += changes
            history.append(op[:2] if op[0] != "rename" else op)
            if (i + 1) % batch == 0:
                apply_changes(ix, pending)
                pending = []
        if pending:
            apply_changes(ix, pending)
        assert_same_as_cold(ix, root, history)


def test_a_folder_deleted_and_made_again_is_rescanned_even_if_its_created_event_is_lost() -> None:
    """Watchers lose and merge events; a `deleted` event for a folder that exists is a replaced folder."""
    files = {"skills/alpha/SKILL.md": "---\nname: alpha\ndescription: Use when testing.\n---\n# Intro\n"
                                      "See [n](notes.md).\n",
             "skills/alpha/notes.md": "# Intro\n",
             "skills/beta/SKILL.md": "---\nname: beta\ndescription: Use when beta.\n---\n-> alpha\n"}
    with tree(files) as root:
        ix = SkillIndex.from_roots([root])
        shutil.rmtree(root / "skills/alpha")
        (root / "skills/alpha").mkdir()
        (root / "skills/alpha/SKILL.md").write_text(files["skills/alpha/SKILL.md"], encoding="utf-8")
        apply_changes(ix, [Change("deleted", str(root / "skills/alpha"), is_dir=True),
                           Change("created", str(root / "skills/alpha/SKILL.md"))])
        assert_same_as_cold(ix, root, [("rmdir", "skills/alpha"), ("update", "skills/alpha/SKILL.md")])


def test_an_update_then_its_undo_restores_the_findings(tmp_path: Path) -> None:
    files = {"skills/alpha/SKILL.md": "---\nname: alpha\ndescription: Use when testing.\n---\n# Intro\n"
                                      "See [n](notes.md#intro).\n",
             "skills/alpha/notes.md": "# Intro\n",
             "plugins/pk/.claude-plugin/plugin.json": '{"name": "pk"}\n',
             "plugins/pk/skills/gamma/SKILL.md": "---\nname: gamma\ndescription: Use when gamma.\n---\n"
                                                 "| Symptom | Route to |\n|---|---|\n| a | alpha |\n"}
    with tree(files) as root:
        ix = SkillIndex.from_roots([root])
        before = state(ix)
        notes = str(root / "skills/alpha/notes.md")
        ix.update(notes, "# Other\n")
        assert state(ix) != before
        ix.update(notes, "# Intro\n")
        assert state(ix) == before

