"""Every rule against a bad and a good fixture tree (tests/fixtures/rules/<case>/{bad,good}).

Each bad tree must produce exactly the findings listed (code, file, 1-based line and column, as
`skill-lsp check` prints them): the defect, plus the consequences a user would also see (a sheet
orphaned by a broken link). Each good tree, the same tree with the defect mended, must be clean.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from skill_lsp.index import SkillIndex
from skill_lsp.model import Finding, Severity
from skill_lsp.rules import BY_CODE, check_all

FIXTURES = Path(__file__).parent / "fixtures" / "rules"

Row = tuple[str, str, int, int]  # code, path relative to the tree, line, column (1-based)

BAD: dict[str, set[Row]] = {
    "fm001": {("FM001", "skills/bread-baking/SKILL.md", 1, 1)},
    "fm002": {("FM002", "skills/oven-reset/SKILL.md", 3, 37),
              ("FM002", "skills/oven-reset/timer-codes.md", 2, 19)},
    "fm003": {("FM003", "skills/soup-stock/SKILL.md", 1, 1)},
    "fm004": {("FM004", "skills/Knife_Care/SKILL.md", 2, 7)},
    "fm005": {("FM005", "skills/pastry-tools/SKILL.md", 2, 7)},
    "fm006": {("FM006", "skills/rice-cooking/SKILL.md", 1, 1)},
    "fm007": {("FM007", "skills/spice-rack/SKILL.md", 3, 14)},
    "fm008": {("FM008", "skills/dough-folding/SKILL.md", 3, 14)},
    "fm009": {("FM009", "skills/pan-sauce/SKILL.md", 4, 1)},
    "fm010": {("FM010", "skills/egg-timer/SKILL.md", 2, 7)},
    "fm011": {("FM011", "skills/tea-brewing/skill.md", 1, 1)},
    "fm012": {("FM012", "skills/plating/SKILL.md", 3, 14)},
    "fm013": {("FM013", "plugins/kitchen/skills/stock/SKILL.md", 2, 7),
              ("FM013", "plugins/kitchen/skills/stock-pot/SKILL.md", 2, 7),
              ("FM005", "plugins/kitchen/skills/stock-pot/SKILL.md", 2, 7)},
    "fm014": {("FM014", "skills/jam-making/SKILL.md", 3, 14)},
    "lk001": {("LK001", "plugins/bakery/skills/bread/SKILL.md", 8, 20),
              ("LK001", "plugins/bakery/skills/bread/SKILL.md", 10, 43),
              ("RT004", "plugins/bakery/skills/bread/sourdough-starter.md", 1, 1)},
    "lk002": {("LK002", "skills/bread/SKILL.md", 8, 20), ("LK002", "skills/bread/SKILL.md", 10, 22)},
    "lk003": {("LK003", "skills/bread/SKILL.md", 8, 36), ("LK003", "skills/bread/SKILL.md", 8, 66)},
    "lk004": {("LK004", "skills/bread/SKILL.md", 8, 25)},
    "rt001": {("RT001", "plugins/bakery/skills/using-bakery/SKILL.md", 12, 25),
              ("RT001", "plugins/bakery/skills/using-bakery/SKILL.md", 13, 26),
              ("RT005", "plugins/bakery/skills/bread-proofing/SKILL.md", 1, 1)},
    "rt002": {("RT002", "plugins/bakery-bread/skills/using-bread/SKILL.md", 8, 21),
              ("RT002", "plugins/bakery-bread/skills/using-bread/SKILL.md", 9, 24),
              ("RT002", "plugins/bakery-bread/skills/using-bread/SKILL.md", 10, 22)},
    "rt003": {("RT003", "plugins/desserts/skills/using-desserts/SKILL.md", 8, 16)},
    "rt004": {("RT004", "skills/bread/scoring-patterns.md", 1, 1)},
    "rt005": {("RT005", "plugins/bakery/skills/cooling-racks/SKILL.md", 1, 1)},
    "rt006": {("RT006", "plugins/kitchen/skills/using-cooking/SKILL.md", 10, 23)},
    "rt007": {("RT007", "plugins/bakery/skills/bread/SKILL.md", 8, 13)},
    "bg": {("BG001", "skills/long-recipe/SKILL.md", 13, 1), ("BG002", "skills/long-recipe/SKILL.md", 5, 1),
           ("BG003", "skills/long-recipe/SKILL.md", 5, 1)},
    "md001": {("MD001", "skills/oven/answers.md", 10, 1), ("MD001", "skills/oven/template.md", 7, 1)},
    "io": {("IO001", "skills/pantry/big-list.md", 1, 1), ("IO002", "skills/pantry/old-notes.md", 1, 1)},
}


def findings(tree: Path) -> list[Finding]:
    return check_all(SkillIndex.from_roots([str(tree)]))


def rows(tree: Path) -> set[Row]:
    root = os.path.realpath(tree)
    return {(f.code, os.path.relpath(f.path, root).replace(os.sep, "/"), f.span.start_line + 1, f.span.start_col + 1)
            for f in findings(tree)}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_tree_gives_exactly_its_findings(case: str) -> None:
    assert rows(FIXTURES / case / "bad") == BAD[case]


@pytest.mark.parametrize("case", sorted(BAD))
def test_good_tree_is_clean(case: str) -> None:
    assert rows(FIXTURES / case / "good") == set()


def test_every_rule_of_ours_has_a_bad_example_here() -> None:
    covered = {code for rows_ in BAD.values() for code, *_ in rows_}
    # PL* (manifests) and RB* (routability) are tested with their own fixtures; IO003/IO004 need
    # permissions and symlinks, made in tmp by test_discover.py
    ours = {c for c in BY_CODE if not c.startswith(("PL", "RB"))} - {"IO003", "IO004"}
    assert ours <= covered, f"rules without a bad fixture: {sorted(ours - covered)}"


def test_findings_carry_the_registry_severity() -> None:
    for f in findings(FIXTURES / "rt001" / "bad"):
        assert f.severity is BY_CODE[f.code].severity
    assert BY_CODE["RT001"].severity is Severity.ERROR and BY_CODE["RT005"].severity is Severity.INFORMATION
