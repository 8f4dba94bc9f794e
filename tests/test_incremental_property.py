"""Property: any sequence of edits applied incrementally ends where a cold index of the final tree is.

Hypothesis draws sequences of operations on a small temporary tree (create, rewrite, delete and
rename skills, sheets, routing tables, commands, whole skill folders and plugin folders; touch
files; add ignore files and plugin manifests). Each operation changes the disk and reports the
changes a watcher would; they are applied in batches of random size (coalesced like the watcher
does). After every batch the index must equal a cold index of the tree as it now is: every
finding (paths, codes, spans, messages, related locations, fixes), every resolution, every table.
And every file whose findings changed must be in the touched set.

Names are drawn from a small pool with near misses and collisions on purpose, so that ambiguous
names, "did you mean" candidates, duplicate names and sheets shadowing skills all come up.

More examples: SKILL_LSP_PROPERTY_EXAMPLES=500 pytest tests/test_incremental_property.py
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skill_lsp.index import SkillIndex
from skill_lsp.watch import Change, apply_changes, coalesce
from test_incremental import assert_same_as_cold, assert_touched_covers, findings_by_path

EXAMPLES = int(os.environ.get("SKILL_LSP_PROPERTY_EXAMPLES", "40"))
# the default run (CI) sees the same examples every time; a deeper run asked for by the variable
# draws new ones
DERANDOMIZE = "SKILL_LSP_PROPERTY_EXAMPLES" not in os.environ

SKILL_NAMES = ["using-kit", "alpha-one", "alpha-two", "beta-case", "gamma-ray", "alpha-tow"]
# "long-notes-page" makes `notes-page` a name cut short when that sheet is missing
SHEETS = ["notes-page", "note-page", "deep-dive", "alpha-one", "ref/extra-bits", "long-notes-page"]
SKILL_HOMES = ["skills", "plugins/tool-pack/skills", "plugins/other-pack/skills", ".claude/skills"]
HEADINGS = ["Section One", "Section Two", "Clay Soil"]
TARGETS = SKILL_NAMES + ["notes-page", "note-page", "deep-dive", "extra-bits", "tool-pack", "other-pack",
                         "tool-pack/alpha-one", "other-pack/gamma-ray", "tool-pack/alpha-one/deep-dive",
                         "alpha-one/notes-page", "notes-page.md", "tidy-up", "missing-thing", "notes-pag"]
LINKS = ["notes-page.md", "note-page.md#section-one", "notes-page.md#section-two", "ref/extra-bits.md",
         "../alpha-one/SKILL.md", "../beta-case/notes-page.md#clay-soil", "ref/", "scripts/run.py",
         "missing-file.md", "Notes-Page.md", "../../../other-pack/skills/gamma-ray/SKILL.md"]


def skill_dirs(root: Path) -> list[Path]:
    return [root / home / name for home in SKILL_HOMES for name in SKILL_NAMES]


def body(r: random.Random) -> str:
    out = [f"# {r.choice(HEADINGS)}", ""]
    for _ in range(r.randint(0, 6)):
        pick = r.random()
        name = r.choice(TARGETS)
        if pick < 0.25:
            out.append(f"See [this]({r.choice(LINKS)}) for more.")
        elif pick < 0.5:
            rows = "\n".join(f"| when {i} happens | {r.choice(TARGETS)} |" for i in range(r.randint(1, 3)))
            out.append(f"| Symptom | Skill |\n|---|---|\n{rows}\n")
        elif pick < 0.6:
            out.append(f"Route to: `{name}`")
        elif pick < 0.7:
            out.append(f"If it breaks -> {name}")
        elif pick < 0.8:
            out.append(f"Load `{name}` when needed.")
        elif pick < 0.9:
            out.append(f"## {r.choice(HEADINGS)}")
        else:
            out.append(f"Run /{r.choice(['tidy-up', 'alpha-one', 'tool-pack'])} first.")
    return "\n".join(out) + "\n"


def skill_text(r: random.Random, folder: str) -> str:
    fm = []
    name = r.choice([folder, folder, folder, r.choice(SKILL_NAMES), None])
    if name:
        fm.append(f"name: {name}")
    if r.random() < 0.8:
        fm.append(r.choice([f"description: Use when you need {folder}.", "description: Handy things."]))
    head = "---\n" + "\n".join(fm) + "\n---\n" if fm or r.random() < 0.9 else ""
    return head + body(r)


def sheet_text(r: random.Random) -> str:
    return body(r)


class Tree:
    """The temporary tree, and the changes a watcher would have reported for each operation."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.changes: list[Change] = []

    def files(self) -> list[Path]:
        out = []
        for d, _ds, fs in os.walk(self.root):
            out.extend(Path(d) / f for f in fs)
        return sorted(out)

    def _mkdirs(self, folder: Path) -> None:
        """Create missing folders; report the topmost new one, as inotify does."""
        top = None
        p = folder
        while not p.exists():
            top = p
            p = p.parent
        folder.mkdir(parents=True, exist_ok=True)
        if top is not None:
            self.changes.append(Change("created", str(top), is_dir=True))

    def write(self, path: Path, text: str) -> None:
        self._mkdirs(path.parent)
        existed = path.exists()
        path.write_text(text, encoding="utf-8")
        self.changes.append(Change("modified" if existed else "created", str(path)))

    def delete(self, path: Path) -> None:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        self.changes.append(Change("deleted", str(path), is_dir=False))

    def delete_dir(self, folder: Path, r: random.Random) -> None:
        if r.random() < 0.5:  # sometimes the watcher reports every file first
            for f in sorted(folder.rglob("*"), reverse=True):
                if f.is_file():
                    self.changes.append(Change("deleted", str(f)))
        shutil.rmtree(folder)
        self.changes.append(Change("deleted", str(folder), is_dir=True))

    def move(self, src: Path, dest: Path) -> None:
        self._mkdirs(dest.parent)
        is_dir = src.is_dir()
        src.rename(dest)
        self.changes.append(Change("moved", str(src), str(dest), is_dir=is_dir))


OPS = ["skill", "skill", "sheet", "sheet", "sheet", "delete", "rename", "move_dir", "delete_dir", "touch",
       "same", "script", "command", "structural", "move_plugin", "binary"]


def run_op(tree: Tree, op: str, r: random.Random) -> None:
    root = tree.root
    files = [f for f in tree.files() if f.suffix in (".md", ".py")]
    dirs = [d for d in skill_dirs(root) if d.is_dir()]
    if op == "skill":
        folder = r.choice(skill_dirs(root))
        tree.write(folder / r.choice(["SKILL.md", "SKILL.md", "skill.md"]) if r.random() < 0.1
                   else folder / "SKILL.md", skill_text(r, folder.name))
    elif op == "sheet":
        folder = r.choice(skill_dirs(root) + [root / "skills/loose-folder"])
        tree.write(folder / f"{r.choice(SHEETS)}.md", sheet_text(r))
    elif op == "delete" and files:
        tree.delete(r.choice(files))
    elif op == "rename" and files:
        src = r.choice(files)
        dest = r.choice(skill_dirs(root)) / (r.choice(SHEETS + ["SKILL"]) + ".md")
        if not dest.exists() and src != dest:
            tree.move(src, dest)
    elif op == "move_dir" and dirs:
        src = r.choice(dirs)
        dest = r.choice(skill_dirs(root))
        if not dest.exists() and not str(dest).startswith(str(src) + os.sep):
            tree.move(src, dest)
    elif op == "delete_dir" and dirs:
        tree.delete_dir(r.choice(dirs), r)
    elif op == "touch" and files:
        f = r.choice(files)
        st_ = f.stat()
        os.utime(f, ns=(st_.st_atime_ns, st_.st_mtime_ns + r.randint(1, 10**9)))
        tree.changes.append(Change("modified", str(f)))
    elif op == "same" and files:
        f = r.choice(files)
        tree.write(f, f.read_text(encoding="utf-8", errors="replace"))
    elif op == "script":
        tree.write(r.choice(skill_dirs(root)) / "scripts/run.py", "print('hi')\n")
    elif op == "command":
        pack = r.choice(["plugins/tool-pack", "plugins/other-pack", ".claude"])
        tree.write(root / pack / "commands" / f"{r.choice(['tidy-up', 'alpha-one'])}.md", sheet_text(r))
    elif op == "structural":
        pick = r.random()
        if pick < 0.3:
            tree.write(root / ".gitignore", r.choice(["skills/loose-folder/\n", "*-page.md\n", "!x\n", ""]))
        elif pick < 0.6:
            tree.write(root / "plugins/tool-pack/.claude-plugin/plugin.json",
                       r.choice(['{"name": "tool-pack"}', '{"name": "renamed-pack"}', "{broken"]))
        else:
            tree.write(root / "pyproject.toml", r.choice(["", "[tool.skill-lsp]\nignore = [\"**/deep-dive.md\"]\n"]))
    elif op == "move_plugin":
        plugins = [p for p in (root / "plugins").iterdir()] if (root / "plugins").is_dir() else []
        if plugins:
            src = r.choice(sorted(plugins))
            dest = root / "plugins" / r.choice(["tool-pack", "other-pack", "third-pack"])
            if not dest.exists():
                tree.move(src, dest)
    elif op == "binary" and files:
        f = r.choice(files)
        f.write_bytes(b"\x00\x01\x02 not text")
        tree.changes.append(Change("modified", str(f)))


def initial_tree(root: Path, r: random.Random) -> Tree:
    tree = Tree(root)
    for folder in r.sample(skill_dirs(root), 5):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "SKILL.md").write_text(skill_text(r, folder.name), encoding="utf-8")
        for stem in r.sample(SHEETS, r.randint(0, 2)):
            (folder / f"{stem}.md").parent.mkdir(parents=True, exist_ok=True)
            (folder / f"{stem}.md").write_text(sheet_text(r), encoding="utf-8")
    tree.changes.clear()
    return tree


@settings(max_examples=EXAMPLES, deadline=None, derandomize=DERANDOMIZE, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1),
       ops=st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 2**32 - 1), st.booleans()),
                    min_size=1, max_size=14))
def test_incremental_equals_cold(seed: int, ops: list[tuple[str, int, bool]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(os.path.realpath(tmp)) / "tree"
        tree = initial_tree(root, random.Random(seed))
        ix = SkillIndex.from_roots([str(root)])
        assert_same_as_cold(ix)
        for i, (op, op_seed, flush) in enumerate(ops):
            run_op(tree, op, random.Random(op_seed))
            if not (flush or i == len(ops) - 1):
                continue  # several operations in one batch
            before = findings_by_path(ix)
            touched = apply_changes(ix, coalesce(tree.changes), set())
            tree.changes.clear()
            assert_same_as_cold(ix)
            assert_touched_covers(before, ix, touched)


@settings(max_examples=max(10, EXAMPLES // 4), deadline=None, derandomize=DERANDOMIZE,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1),
       ops=st.lists(st.tuples(st.sampled_from(["skill", "sheet", "sheet", "delete"]), st.integers(0, 2**32 - 1)),
                    min_size=1, max_size=10))
def test_editor_updates_equal_cold_with_the_same_buffers(seed: int, ops: list[tuple[str, int]]) -> None:
    """The editor's path: `ix.update`/`ix.remove` with buffer texts equal a cold index with that overlay."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(os.path.realpath(tmp)) / "tree"
        tree = initial_tree(root, random.Random(seed))
        ix = SkillIndex.from_roots([str(root)])
        overlay: dict[str, str] = {}
        for op, op_seed in ops:
            r = random.Random(op_seed)
            before = findings_by_path(ix)
            if op == "delete":
                files = [f for f in tree.files() if f.suffix == ".md"]
                if not files:
                    continue
                f = r.choice(files)
                f.unlink()
                overlay.pop(str(f), None)
                touched = ix.remove(str(f))
            else:
                # folders that make no new plugin: plugins come from the disk, through the watcher
                folders = [d for d in skill_dirs(root) if d.parent.exists() or not str(d).startswith(str(root / "plugins"))]
                folder = r.choice(folders)
                path = folder / ("SKILL.md" if op == "skill" else f"{r.choice(SHEETS)}.md")
                text = skill_text(r, folder.name) if op == "skill" else sheet_text(r)
                if not path.exists():  # a new file is saved once, then edited in the buffer
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text("", encoding="utf-8")
                overlay[str(path)] = text
                touched = ix.update(str(path), text)
            assert_same_as_cold(ix, overlay=overlay)
            assert_touched_covers(before, ix, touched)
