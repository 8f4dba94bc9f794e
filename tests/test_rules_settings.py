"""Per-rule severity and disable from `[tool.skill-lsp]` / `.skill-lsp.toml`, and the per-line
disable comments `<!-- skill-lsp: disable=CODE -->`, `disable-next-line`, `disable-file`."""

from __future__ import annotations

from pathlib import Path

from skill_lsp.index import SkillIndex
from skill_lsp.model import Severity
from skill_lsp.rules import check_all

# one skill with three defects: no "Use when" (FM007), a broken link (LK001), an orphan (RT004)
BODY = "---\nname: grill\ndescription: Grilling notes.\n---\n\n# Grill\n\nSee [the rub](dry-rub.md).\n"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def tree(tmp_path: Path, body: str = BODY, **extra: str) -> Path:
    return write(tmp_path, {"skills/grill/SKILL.md": body, "skills/grill/marinade.md": "# Marinade\n", **extra})


def found(root: Path) -> dict[str, Severity]:
    ix = SkillIndex.from_roots([str(root)])
    return {f.code: f.severity for f in check_all(ix)}


def test_defaults(tmp_path: Path) -> None:
    assert found(tree(tmp_path)) == {"FM007": Severity.WARNING, "LK001": Severity.ERROR, "RT004": Severity.WARNING}


def test_pyproject_section_sets_severity_and_turns_rules_off(tmp_path: Path) -> None:
    toml = '[tool.skill-lsp]\ndisable = ["RT004"]\n\n[tool.skill-lsp.severity]\nFM007 = "error"\nLK001 = "hint"\n'
    assert found(tree(tmp_path, **{"pyproject.toml": toml})) == {"FM007": Severity.ERROR, "LK001": Severity.HINT}


def test_pyproject_without_our_section_changes_nothing(tmp_path: Path) -> None:
    toml = '[project]\nname = "kitchen"\n'
    assert set(found(tree(tmp_path, **{"pyproject.toml": toml}))) == {"FM007", "LK001", "RT004"}


def test_dot_file_wins_over_pyproject(tmp_path: Path) -> None:
    root = tree(tmp_path, **{
        "pyproject.toml": '[tool.skill-lsp.severity]\nFM007 = "error"\n',
        ".skill-lsp.toml": 'severity = { FM007 = "off", LK001 = "warning" }\n',
    })
    assert found(root) == {"LK001": Severity.WARNING, "RT004": Severity.WARNING}


def test_bad_settings_are_reported_and_the_defaults_kept(tmp_path: Path) -> None:
    root = tree(tmp_path, **{".skill-lsp.toml": 'severity = { FM007 = "loud" }\nline-budget = "many"\nshiny = 1\n'})
    ix = SkillIndex.from_roots([str(root)])
    errors = " ".join(ix.settings_errors[str(root.resolve())])
    assert "FM007" in errors and "line-budget" in errors and "shiny" in errors
    assert {f.code: f.severity for f in check_all(ix)}["FM007"] is Severity.WARNING


def test_disable_comment_on_the_same_line(tmp_path: Path) -> None:
    body = BODY.replace("See [the rub](dry-rub.md).", "See [the rub](dry-rub.md). <!-- skill-lsp: disable=LK001 -->")
    assert set(found(tree(tmp_path, body))) == {"FM007", "RT004"}


def test_disable_next_line_with_several_codes(tmp_path: Path) -> None:
    body = BODY.replace("See [the rub]", "<!-- skill-lsp: disable-next-line=LK001, RT001 -->\nSee [the rub]")
    assert set(found(tree(tmp_path, body))) == {"FM007", "RT004"}


def test_bare_disable_silences_every_code_of_its_line_only(tmp_path: Path) -> None:
    body = BODY.replace("See [the rub](dry-rub.md).", "See [the rub](dry-rub.md). <!-- skill-lsp: disable -->")
    assert set(found(tree(tmp_path, body))) == {"FM007", "RT004"}


def test_disable_file(tmp_path: Path) -> None:
    root = tree(tmp_path, **{"skills/grill/marinade.md": "<!-- skill-lsp: disable-file=RT004 -->\n# Marinade\n"})
    assert set(found(root)) == {"FM007", "LK001"}
    everything = BODY + "\n<!-- skill-lsp: disable-file -->\n"
    assert set(found(tree(tmp_path / "all", everything))) == {"RT004"}


def test_a_disable_for_another_code_does_not_hide_this_one(tmp_path: Path) -> None:
    body = BODY.replace("See [the rub](dry-rub.md).", "See [the rub](dry-rub.md). <!-- skill-lsp: disable=LK003 -->")
    assert "LK001" in found(tree(tmp_path, body))
