"""FM rules: what the messages say, where they point, and the quick fixes they offer."""

from __future__ import annotations

from pathlib import Path

from skill_lsp.index import SkillIndex
from skill_lsp.model import Finding, Span
from skill_lsp.rules import check_all

FIXTURES = Path(__file__).parent / "fixtures" / "rules"


def run(tree: Path) -> list[Finding]:
    return check_all(SkillIndex.from_roots([str(tree)]))


def one(tree: Path, code: str) -> Finding:
    found = [f for f in run(tree) if f.code == code]
    assert len(found) == 1, found
    return found[0]


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def test_yaml_error_points_at_the_colon_and_offers_quoting() -> None:
    (f,) = [x for x in run(FIXTURES / "fm002" / "bad") if x.path.endswith("SKILL.md")]
    assert f.code == "FM002"
    assert "must be quoted" in f.message
    # the error sits on the description line; the fix rewrites that whole line
    assert f.span.start_line == 2
    (fix,) = f.fixes
    (_path, span, new_text), = fix.edits
    assert span == Span(2, 0, 2, len("description: Use when the oven beeps: reset the timer first"))
    assert new_text == 'description: "Use when the oven beeps: reset the timer first"'


def test_a_sheet_with_broken_front_matter_is_reported_too() -> None:
    sheet = [x for x in run(FIXTURES / "fm002" / "bad") if x.path.endswith("timer-codes.md")]
    assert [f.code for f in sheet] == ["FM002"]


def test_missing_name_offers_the_folder_name() -> None:
    f = one(FIXTURES / "fm003" / "bad", "FM003")
    assert f.fixes[0].edits[0][2] == "name: soup-stock\n"


def test_name_folder_mismatch_is_a_warning_with_a_rename_fix() -> None:
    f = one(FIXTURES / "fm005" / "bad", "FM005")
    assert f.severity.label == "warning"
    assert "`pastry`" in f.message and "`pastry-tools`" in f.message
    assert f.fixes[0].edits[0][2] == "pastry-tools"


def test_description_length_counts_characters() -> None:
    f = one(FIXTURES / "fm008" / "bad", "FM008")
    assert "over the 1,024 limit" in f.message


def test_lowercase_skill_file_is_indexed_and_offers_a_rename(tmp_path: Path) -> None:
    ix = SkillIndex.from_roots([str(FIXTURES / "fm011" / "bad")])
    assert [s.name for s in ix.skills.values()] == ["tea-brewing"]
    f = one(FIXTURES / "fm011" / "bad", "FM011")
    (old, new), = f.fixes[0].rename
    assert old.endswith("tea-brewing/skill.md") and new.endswith("tea-brewing/SKILL.md")


def test_documented_claude_code_keys_are_never_flagged_but_portable_policy_flags_them(tmp_path: Path) -> None:
    files = {"skills/pan-sauce/SKILL.md": (FIXTURES / "fm009" / "good" / "skills/pan-sauce/SKILL.md").read_text()}
    default = write(tmp_path / "default", files)
    assert [f.code for f in run(default)] == []
    portable = write(tmp_path / "portable", {**files, ".skill-lsp.toml": 'key-policy = "portable"\n'})
    flagged = sorted(f.message.split("`")[1] for f in run(portable) if f.code == "FM009")
    assert flagged == ["argument-hint", "when_to_use"]


def test_use_when_pattern_is_a_setting(tmp_path: Path) -> None:
    skill = "---\nname: grill\ndescription: Grilling steps. Reach for it at the barbecue.\n---\n\n# Grill\n"
    plain = write(tmp_path / "plain", {"skills/grill/SKILL.md": skill})
    assert [f.code for f in run(plain)] == ["FM007"]
    tuned = write(tmp_path / "tuned", {"skills/grill/SKILL.md": skill,
                                       ".skill-lsp.toml": "use-when-pattern = 'reach for it'\n"})
    assert run(tuned) == []


def test_usual_trigger_wordings_count_as_saying_when() -> None:
    # "Use when" and "triggers on": both fixtures are in the good tree of FM007
    assert run(FIXTURES / "fm007" / "good") == []


def test_unclosed_front_matter_is_a_finding(tmp_path: Path) -> None:
    tree = write(tmp_path, {"skills/grill/SKILL.md": "---\nname: grill\ndescription: Use when grilling.\n\n# Grill\n"})
    f = one(tree, "FM002")
    assert "not closed" in f.message and f.span == Span(0, 0, 0, 3)


def test_other_trigger_wordings_of_real_trees_count(tmp_path: Path) -> None:
    """"Use this skill any time ...", "Trigger whenever ..." and a block that starts "TRIGGER —"
    say when, without the words "use when"."""
    descriptions = [
        "Use this skill any time a jar of preserves is opened.",
        "Pickling helpers. Trigger whenever the user mentions brine.",
        "|-\n  Reference for smoking fish.\n  TRIGGER — read first — whenever: the prompt names a smoker.",
    ]
    for i, desc in enumerate(descriptions):
        tree = write(tmp_path / str(i), {"skills/jars/SKILL.md": f"---\nname: jars\ndescription: {desc}\n---\n\n# Jars\n"})
        assert run(tree) == [], desc
