"""discover.walk: which files of a tree are plugins, skills, sheets, commands and agents; what is
skipped (dot-folders, .git, node_modules, virtual environments, ignored paths); how symlinks are
followed (inside the root, once) and reported (loops, links out of the root); read_doc's refusals."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from skill_lsp.discover import read_doc, walk
from skill_lsp.index import SkillIndex
from skill_lsp.model import DocKind
from skill_lsp.rules import check_all

FIXTURES = Path(__file__).parent / "fixtures" / "discover"


def docs(root: Path, ignore: list[str] | None = None) -> dict[str, str]:
    real = os.path.realpath(root)
    layout = walk(real, ignore or [])
    return {os.path.relpath(p, real).replace(os.sep, "/"): k.value for p, k in layout.docs.items()}


def copy(name: str, tmp_path: Path) -> Path:
    dest = tmp_path / name
    shutil.copytree(FIXTURES / name, dest)
    return dest


def skill(name: str) -> str:
    return f"---\nname: {name}\ndescription: Use when {name} is needed.\n---\n\n# {name}\n"


# --- plugins, skills, sheets, commands, agents --------------------------------------------------
def test_plugin_json_plugin_and_its_documents() -> None:
    assert docs(FIXTURES / "plugin_tree") == {
        "plugins/grill/skills/searing/SKILL.md": "skill",
        "plugins/grill/skills/searing/heat-zones.md": "sheet",
        "plugins/grill/commands/sear.md": "command",
        "plugins/grill/agents/pitmaster.md": "agent",
        "plugins/oven/skills/roasting/SKILL.md": "skill",
    }  # README beside the skills and loose notes are not indexed


def test_plugin_takes_its_name_from_the_manifest_and_folders_without_one_count() -> None:
    layout = walk(os.path.realpath(FIXTURES / "plugin_tree"))
    assert sorted((p.name, os.path.basename(p.dir), bool(p.manifest)) for p in layout.plugins) == [
        ("grill-pack", "grill", True), ("oven", "oven", False)]
    ix = SkillIndex.from_roots([str(FIXTURES / "plugin_tree")])
    assert sorted(ix.doc_id(p) for p in ix.docs) == [
        "grill-pack/agents/pitmaster.md", "grill-pack/commands/sear.md", "grill-pack/searing",
        "grill-pack/searing/heat-zones.md", "oven/roasting"]


def test_marketplace_lists_the_skills_of_a_plugin_and_points_at_plugin_folders() -> None:
    real = os.path.realpath(FIXTURES / "marketplace_tree")
    layout = walk(real)
    by_name = {p.name: p for p in layout.plugins}
    assert set(by_name) == {"preserves", "smoker"}  # the github-sourced entry has nothing here
    preserves = by_name["preserves"]
    assert preserves.virtual and preserves.manifest.endswith("marketplace.json")
    assert [os.path.relpath(s, real) for s in preserves.skills] == ["skills/pickling", "skills/fermenting"]
    assert not by_name["smoker"].virtual and os.path.relpath(by_name["smoker"].dir, real) == "plugins/smoker"
    assert docs(FIXTURES / "marketplace_tree") == {
        "skills/pickling/SKILL.md": "skill", "skills/fermenting/SKILL.md": "skill",
        "skills/canning/SKILL.md": "skill", "plugins/smoker/skills/cold-smoke/SKILL.md": "skill"}


def test_lowercase_skill_file_is_indexed_and_reported() -> None:
    assert docs(FIXTURES / "dot_tree")["skills/epsilon/skill.md"] == "skill"
    ix = SkillIndex.from_roots([str(FIXTURES / "dot_tree")])
    assert [(f.code, Path(f.path).parent.name) for f in check_all(ix)] == [("FM011", "epsilon")]


# --- what is skipped ---------------------------------------------------------------------------
def test_agent_folders_are_indexed_other_dot_folders_skipped() -> None:
    assert docs(FIXTURES / "dot_tree") == {
        ".claude/skills/alpha/SKILL.md": "skill",
        ".claude/commands/brew.md": "command",
        ".agents/skills/beta/SKILL.md": "skill",
        ".codex/skills/gamma/SKILL.md": "skill",
        "skills/epsilon/skill.md": "skill",
    }  # .test-fixtures and .hidden are someone's fixtures and tooling, not skills of this tree


def test_git_node_modules_and_virtual_environments_are_skipped(tmp_path: Path) -> None:
    root = copy("dot_tree", tmp_path)
    for folder in (".git/skills/x", "node_modules/pkg/skills/y", "env/lib/skills/z", ".venv/skills/w"):
        (root / folder).mkdir(parents=True)
        (root / folder / "SKILL.md").write_text(skill("hidden"), encoding="utf-8")
    (root / "env" / "pyvenv.cfg").write_text("home = /usr/bin\n", encoding="utf-8")
    assert docs(root) == docs(FIXTURES / "dot_tree")


def test_gitignore_and_our_globs_with_negation() -> None:
    assert docs(FIXTURES / "ignore_tree", ["*.draft.md", "!final.draft.md"]) == {
        "skills/stew/SKILL.md": "skill",
        "skills/stew/keep.tmp.md": "sheet",     # `!keep.tmp.md` in the root .gitignore
        "skills/stew/final.draft.md": "sheet",  # `!final.draft.md` in our own globs
        "skills/broth/SKILL.md": "skill",
        "skills/broth/bones.tmp.md": "sheet",   # a deeper .gitignore re-includes `*.tmp.md`
    }  # drafts/ and the other *.tmp.md / *.draft.md files are ignored


def test_ignore_globs_come_from_the_trees_settings() -> None:
    ix = SkillIndex.from_roots([str(FIXTURES / "ignore_tree")])
    names = sorted(os.path.basename(p) for p in ix.docs)
    assert "menu.draft.md" not in names and "final.draft.md" in names


# --- symlinks -------------------------------------------------------------------------------------
def test_symlink_inside_the_root_is_followed_once(tmp_path: Path) -> None:
    root = copy("plugin_tree", tmp_path)
    (root / "shortcut").symlink_to(root / "plugins/grill/skills", target_is_directory=True)
    (root / "plugins/grill/skills/searing/zones-link.md").symlink_to("heat-zones.md")
    found = docs(root)
    assert found == docs(FIXTURES / "plugin_tree")  # nothing twice, real paths win
    searing = root / "plugins/grill/skills/searing/SKILL.md"
    searing.write_text(searing.read_text(encoding="utf-8") + "Also [the link](zones-link.md).\n", encoding="utf-8")
    ix = SkillIndex.from_roots([str(root)])
    assert check_all(ix) == []  # the link to the linked file resolves; no loop is reported


def test_symlink_is_the_way_into_a_folder_we_would_skip(tmp_path: Path) -> None:
    root = copy("plugin_tree", tmp_path)
    (root / ".stash/skills/braising").mkdir(parents=True)
    (root / ".stash/skills/braising/SKILL.md").write_text(skill("braising"), encoding="utf-8")
    (root / "plugins/oven/skills/braising").symlink_to(root / ".stash/skills/braising", target_is_directory=True)
    assert docs(root)["plugins/oven/skills/braising/SKILL.md"] == "skill"


def test_symlink_loop_and_links_out_of_the_root_are_reported_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("# Secret\n", encoding="utf-8")
    root = copy("plugin_tree", tmp_path)
    skill_dir = root / "plugins/grill/skills/searing"
    (skill_dir / "again").symlink_to(root / "plugins", target_is_directory=True)  # a folder that holds it
    (skill_dir / "leak.md").symlink_to(outside / "secret.md")
    (skill_dir / "out").symlink_to(outside, target_is_directory=True)
    (skill_dir / "self.md").symlink_to("self.md")
    layout = walk(os.path.realpath(root))
    problems = sorted((os.path.basename(p), code, msg.split(":")[0].split(";")[0]) for p, code, msg in layout.problems)
    assert problems == [("again", "IO004", "symlink loop"), ("leak.md", "IO004", "symlink points outside the root"),
                        ("out", "IO004", "symlink points outside the root"), ("self.md", "IO004", "symlink loop")]
    assert not any("outside" in p or "secret" in p for p in layout.files)
    assert docs(root) == docs(FIXTURES / "plugin_tree")


# --- reading ------------------------------------------------------------------------------------
def test_read_doc_refuses_large_and_binary_files_and_strips_a_bom(tmp_path: Path) -> None:
    big = tmp_path / "big.md"
    big.write_text("x" * 500, encoding="utf-8")
    assert read_doc(str(big), 100).problem[0] == "IO001"
    binary = tmp_path / "bin.md"
    binary.write_bytes(b"# x\x00\x01\x02")
    result = read_doc(str(binary), 1000)
    assert result.text is None and result.problem[0] == "IO002"
    bom = tmp_path / "bom.md"
    bom.write_bytes("\ufeff# Title\n".encode())
    assert read_doc(str(bom), 1000).text == "# Title\n"
    latin = tmp_path / "latin.md"
    latin.write_bytes(b"caf\xe9\n")
    result = read_doc(str(latin), 1000)
    assert result.text == "caf\ufffd\n" and result.problem[0] == "IO002"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file whatever its mode")
def test_unreadable_file_is_a_finding(tmp_path: Path) -> None:
    f = tmp_path / "locked.md"
    f.write_text("# Locked\n", encoding="utf-8")
    f.chmod(0)
    assert read_doc(str(f), 1000).problem[0] == "IO003"


def test_kinds_match_the_index() -> None:
    ix = SkillIndex.from_roots([str(FIXTURES / "plugin_tree")])
    kinds = sorted(d.kind for d in ix.docs.values())
    assert kinds.count(DocKind.SKILL) == 2 and DocKind.COMMAND in kinds and DocKind.AGENT in kinds
