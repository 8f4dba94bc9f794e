"""RB001 route-disagrees and RB002 descriptions-collide, on small trees written here."""

from __future__ import annotations

from pathlib import Path

from skill_lsp.index import SkillIndex
from skill_lsp.rules.routability import check_routability


def write(root: Path, files: dict[str, str]) -> SkillIndex:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return SkillIndex.from_roots([str(root)])


def skill(name: str, description: str, body: str = "") -> str:
    return f"---\nname: {name}\ndescription: {description}\n---\n\n# {name}\n\n{body}\n"


LEAVES = {
    "skills/pruning/SKILL.md": skill(
        "pruning", "Use when fruit trees grow too dense - cutting crossing branches in winter."),
    "skills/soil-testing/SKILL.md": skill(
        "soil-testing", "Use when leaves turn yellow and seedlings stall - measuring soil pH and nitrogen."),
    "skills/pest-control/SKILL.md": skill(
        "pest-control", "Use when slugs and caterpillars chew holes in cabbages - traps and netting."),
}


def codes(ix: SkillIndex, rel: str, root: Path) -> list[tuple[str, int]]:
    doc = ix.docs[str((root / rel).resolve())]
    return [(f.code, f.span.start_line) for f in check_routability(ix, doc)]


def test_rb001_flags_a_row_whose_words_lead_elsewhere(tmp_path: Path) -> None:
    router = skill("using-garden", "Use when a garden problem needs the right skill.",
                   "| Symptom | Skill |\n|---|---|\n"
                   "| Slugs chew holes in cabbages overnight | pruning |\n"
                   "| Fruit trees grow too dense | pruning |\n")
    ix = write(tmp_path, {**LEAVES, "skills/using-garden/SKILL.md": router})
    doc = ix.docs[str((tmp_path / "skills/using-garden/SKILL.md").resolve())]
    findings = check_routability(ix, doc)
    assert [f.code for f in findings] == ["RB001"]
    f = findings[0]
    assert f.span.start_line == 9  # the slugs row, not the pruning row that agrees
    assert "pest-control" in f.message and "pruning" in f.message
    assert f.related and f.related[0].path.endswith("pest-control/SKILL.md")


def test_rb001_is_quiet_when_table_and_descriptions_agree(tmp_path: Path) -> None:
    router = skill("using-garden", "Use when a garden problem needs the right skill.",
                   "| Symptom | Skill |\n|---|---|\n"
                   "| Slugs chew holes in cabbages overnight | pest-control |\n"
                   "| Leaves turn yellow, seedlings stall | soil-testing |\n"
                   "| Testing | soil-testing |\n")  # a one-word label is never judged
    ix = write(tmp_path, {**LEAVES, "skills/using-garden/SKILL.md": router})
    assert codes(ix, "skills/using-garden/SKILL.md", tmp_path) == []


def test_rb002_flags_two_skills_described_alike(tmp_path: Path) -> None:
    ix = write(tmp_path, {
        "skills/unit-tests/SKILL.md": skill("unit-tests", "Use when writing tests for Python code with pytest fixtures."),
        "skills/test-writing/SKILL.md": skill("test-writing", "Use when writing tests for Python code with pytest fixtures and mocks."),
        **LEAVES,
    })
    doc = ix.docs[str((tmp_path / "skills/unit-tests/SKILL.md").resolve())]
    findings = check_routability(ix, doc)
    assert [f.code for f in findings] == ["RB002"]
    assert "test-writing" in findings[0].message
    assert findings[0].span.start_line == 2  # the description value
    assert findings[0].related[0].path.endswith("test-writing/SKILL.md")


def test_rb002_is_quiet_for_skills_that_say_what_sets_them_apart(tmp_path: Path) -> None:
    ix = write(tmp_path, {
        "skills/unit-tests/SKILL.md": skill(
            "unit-tests", "Use when writing fast isolated unit tests for one Python function with pytest."),
        "skills/load-tests/SKILL.md": skill(
            "load-tests", "Use when measuring how a web service behaves under thousands of concurrent users with locust."),
        **LEAVES,
    })
    for rel in ("skills/unit-tests/SKILL.md", "skills/load-tests/SKILL.md"):
        assert codes(ix, rel, tmp_path) == []


def test_routability_checks_are_opt_in_through_settings(tmp_path: Path) -> None:
    from skill_lsp.rules import check_all

    router = skill("using-garden", "Use when a garden problem needs the right skill.",
                   "| Symptom | Skill |\n|---|---|\n"
                   "| Slugs chew holes in cabbages overnight | pruning |\n"
                   "| Fruit trees grow too dense | pruning |\n"
                   "| Leaves turn yellow, seedlings stall | soil-testing |\n")
    ix = write(tmp_path, {**LEAVES, "skills/using-garden/SKILL.md": router})
    assert not [f for f in check_all(ix) if f.code.startswith("RB")]
    (tmp_path / ".skill-lsp.toml").write_text("routability = true\n", encoding="utf-8")
    ix = SkillIndex.from_roots([str(tmp_path)])
    assert [f.code for f in check_all(ix) if f.code.startswith("RB")] == ["RB001"]
