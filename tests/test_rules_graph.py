"""Graph rules (RT004 orphan sheet, RT005 unreachable skill, RT006 routing cycle, FM013 duplicate
name): what counts as a reference to a sheet, which skills count as routers, what a scope is."""

from __future__ import annotations

from pathlib import Path

from skill_lsp.index import SkillIndex
from skill_lsp.model import Finding
from skill_lsp.rules import check_all

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
PLUGIN = '{"name": "%s", "version": "1.0.0"}\n'


def run(tree: Path) -> list[Finding]:
    return check_all(SkillIndex.from_roots([str(tree)]))


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def skill(name: str, body: str = "") -> str:
    return f"---\nname: {name}\ndescription: Use when the kitchen needs {name}.\n---\n\n# {name}\n\n{body}"


def test_orphan_points_at_its_skill() -> None:
    (f,) = run(FIXTURES / "rt004" / "bad")
    assert "scoring-patterns.md" in f.message
    assert f.related[0].path.endswith("skills/bread/SKILL.md")


def test_each_way_of_naming_a_sheet_counts() -> None:
    """Link, table cell, code span, plain `x.md` in prose, a folder (`styles/`) and a path
    template (`{oven}/timings.md`) all name sheets; upper-case notes and test scenarios beside the
    sheets are kept on purpose and never loaded."""
    assert run(FIXTURES / "rt004" / "good") == []


def test_a_link_to_the_skill_folder_names_the_skill_not_its_sheets(tmp_path: Path) -> None:
    tree = write(tmp_path, {
        "skills/bread/SKILL.md": skill("bread"),
        "skills/bread/crumb.md": "# Crumb\n",
        "skills/soup/SKILL.md": skill("soup", "Serve with [bread](../bread/).\n"),
    })
    assert [(f.code, Path(f.path).name) for f in run(tree)] == [("RT004", "crumb.md")]


def test_a_skill_named_from_another_pack_is_reachable(tmp_path: Path) -> None:
    tree = write(tmp_path, {
        "plugins/bakery/.claude-plugin/plugin.json": PLUGIN % "bakery",
        "plugins/bakery/skills/using-bakery/SKILL.md": skill("using-bakery", "| Symptom | Skill |\n|---|---|\n| x | bread |\n"),
        "plugins/bakery/skills/bread/SKILL.md": skill("bread"),
        "plugins/bakery/skills/cooling/SKILL.md": skill("cooling"),
        "plugins/diner/.claude-plugin/plugin.json": PLUGIN % "diner",
        "plugins/diner/skills/using-diner/SKILL.md": skill("using-diner", "**Route to:** `bakery/cooling`\n"),
    })
    assert run(tree) == []


def test_unreachable_is_information_only_in_a_routed_pack(tmp_path: Path) -> None:
    routed = run(FIXTURES / "rt005" / "bad")
    assert [(f.code, f.severity.label) for f in routed] == [("RT005", "information")]
    # a pack without any router has nothing to be unreachable from
    plain = write(tmp_path, {
        "plugins/bakery/.claude-plugin/plugin.json": PLUGIN % "bakery",
        "plugins/bakery/skills/bread/SKILL.md": skill("bread"),
        "plugins/bakery/skills/cooling/SKILL.md": skill("cooling"),
    })
    assert run(plain) == []


def test_cycle_is_reported_once_with_every_member_related() -> None:
    (f,) = run(FIXTURES / "rt006" / "bad")
    assert "kitchen/using-baking -> kitchen/using-cooking -> kitchen/using-baking" in f.message
    assert len(f.related) == 2


def test_leaf_skills_pointing_at_each_other_are_not_a_cycle() -> None:
    assert run(FIXTURES / "rt006" / "good") == []


def test_duplicate_names_in_different_packs_are_fine(tmp_path: Path) -> None:
    tree = write(tmp_path, {
        "plugins/bakery/.claude-plugin/plugin.json": PLUGIN % "bakery",
        "plugins/bakery/skills/glaze/SKILL.md": skill("glaze"),
        "plugins/cakes/.claude-plugin/plugin.json": PLUGIN % "cakes",
        "plugins/cakes/skills/glaze/SKILL.md": skill("glaze"),
    })
    assert run(tree) == []


def test_one_skill_mirrored_for_two_agents_is_not_a_duplicate() -> None:
    assert run(FIXTURES / "fm013" / "good") == []


def test_typing_in_a_router_nothing_names_keeps_cycle_findings_exact(tmp_path: Path) -> None:
    """Cycles are only searched again when they can have changed; edits that can make one (a
    route back to the router itself, a route into a named router) still find it at once."""
    table = "| Symptom | Route to |\n|---|---|\n"
    root = write(tmp_path, {
        "skills/using-top/SKILL.md": skill("using-top", table + "| bread | using-bread |\n"),
        "skills/using-bread/SKILL.md": skill("using-bread", table + "| dough | using-dough |\n"),
        "skills/using-dough/SKILL.md": skill("using-dough", table + "| proof | using-bread |\n"),
    })
    ix = SkillIndex.from_roots([str(root)])
    top = str(root / "skills/using-top/SKILL.md")
    edits = [
        skill("using-top", table + "| bread | using-bread |\n| dough | using-dough |\n"),  # into the cycle
        skill("using-top", table + "| bread | using-bread |\n| again | using-top |\n"),  # a cycle of its own
        skill("using-top", table + "| bread | using-bread |\n"),
    ]
    for text in edits:
        (root / "skills/using-top/SKILL.md").write_text(text, encoding="utf-8")
        ix.update(top, text)
        got = sorted((f.path, f.message) for f in check_all(ix) if f.code == "RT006")
        want = sorted((f.path, f.message) for f in run(root) if f.code == "RT006")
        assert got == want and want, text
