"""LK and RT rules on references: messages, "did you mean", fixes, and the tricky patterns of real
trees that must stay silent (each test names the pattern; the texts are ours)."""

from __future__ import annotations

from pathlib import Path

import pytest
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


def codes(tree: Path) -> list[tuple[str, str, int]]:
    return sorted((f.code, Path(f.path).name, f.span.start_line + 1) for f in run(tree))


# --- links ------------------------------------------------------------------------------------
def test_broken_link_names_the_file_that_was_meant_and_offers_it() -> None:
    (f, _) = sorted((x for x in run(FIXTURES / "lk001" / "bad") if x.code == "LK001"), key=lambda x: x.span)
    assert "did you mean `sourdough-starter.md`?" in f.message
    assert f.fixes[0].edits[0][2] == "sourdough-starter.md"
    assert f.related and f.related[0].path.endswith("bread/sourdough-starter.md")


def test_folder_link_one_level_short_gets_the_right_depth() -> None:
    (_, f) = sorted((x for x in run(FIXTURES / "lk001" / "bad") if x.code == "LK001"), key=lambda x: x.span)
    assert "`../../pastry/`" in f.message and "did you mean `../../../pastry/`?" in f.message


def test_missing_sheet_link_inside_the_skill_offers_to_create_it(tmp_path: Path) -> None:
    tree = write(tmp_path, {"skills/bread/SKILL.md": skill("bread", "Read [the crumb notes](crumb-notes.md).\n")})
    (f,) = run(tree)
    assert f.code == "LK001"
    (fix,) = f.fixes
    assert fix.create and fix.create[0][0].endswith("skills/bread/crumb-notes.md")


def test_case_mismatch_offers_the_name_on_disk() -> None:
    found = sorted((f for f in run(FIXTURES / "lk002" / "bad")), key=lambda f: f.span)
    assert [f.fixes[0].edits[0][2] for f in found] == ["sourdough-starter.md", "timings.md"]


def test_anchor_finding_points_at_the_anchor_and_offers_the_slug() -> None:
    f = min((x for x in run(FIXTURES / "lk003" / "bad")), key=lambda x: x.span)
    line = (FIXTURES / "lk003" / "bad" / "skills/bread/SKILL.md").read_text().split("\n")[f.span.start_line]
    assert line[f.span.start_col:f.span.end_col] == "feeding-schedul"
    assert f.fixes[0].edits[0][2] == "feeding-schedule"


def test_urls_absolute_home_and_variable_paths_are_not_judged(tmp_path: Path) -> None:
    body = ("[site](https://example.com/x.md) [mail](mailto:a@b.c) [abs](/etc/hosts) [home](~/notes.md) "
            "[var]($HOME/x.md) [tpl]({{ base }}/x.md) <https://example.com>\n")
    assert run(write(tmp_path, {"skills/bread/SKILL.md": skill("bread", body)})) == []


def test_missing_script_link_is_still_a_broken_link(tmp_path: Path) -> None:
    tree = write(tmp_path, {"skills/bread/SKILL.md": skill("bread", "Run [the timer](scripts/timer.py).\n")})
    assert codes(tree) == [("LK001", "SKILL.md", 8)]


# --- routes -----------------------------------------------------------------------------------
def test_dead_route_in_a_table_says_did_you_mean_and_offers_the_fix() -> None:
    f = next(x for x in run(FIXTURES / "rt001" / "bad") if "proofng" in x.message)
    assert "did you mean `bread-proofing`?" in f.message
    assert f.fixes[0].edits[0][2] == "bread-proofing"


def test_dead_route_to_a_missing_sheet_offers_to_create_it() -> None:
    f = next(x for x in run(FIXTURES / "rt001" / "bad") if "crust-colour" in x.message)
    assert any(fix.create and fix.create[0][0].endswith("using-bakery/crust-colour.md") for fix in f.fixes)


def test_name_cut_short_by_whole_words_gets_a_suggestion(tmp_path: Path) -> None:
    router = skill("using-kitchen", "| Symptom | Skill |\n|---|---|\n| \"Slow service\" | serving-patterns |\n")
    tree = write(tmp_path, {
        "plugins/kitchen/.claude-plugin/plugin.json": PLUGIN % "kitchen",
        "plugins/kitchen/skills/using-kitchen/SKILL.md": router,
        "plugins/kitchen/skills/model-serving-patterns/SKILL.md": skill("model-serving-patterns"),
    })
    (f,) = [x for x in run(tree) if x.code == "RT001"]
    assert "did you mean `model-serving-patterns`?" in f.message


def test_unknown_pack_in_a_known_namespace_and_misnamed_slash_command() -> None:
    messages = sorted(f.message for f in run(FIXTURES / "rt002" / "bad"))
    assert any("`/bread:shape` names plugin `bread`" in m and "did you mean `bakery-bread`?" in m for m in messages)
    assert any("`bakery/frosting` names plugin `bakery-frosting`" in m for m in messages)


def test_ambiguous_route_lists_the_candidates() -> None:
    (f,) = run(FIXTURES / "rt003" / "bad")
    assert "cakes/glaze" in f.message and "pastry/glaze" in f.message and len(f.related) == 2


def test_typo_in_prose_is_a_warning_with_a_fix() -> None:
    (f,) = run(FIXTURES / "rt007" / "bad")
    assert f.severity.label == "warning" and f.fixes[0].edits[0][2] == "sourdough-starter"


# --- patterns met in real trees that are NOT defects ----------------------------------------
def kitchen(router_body: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    files = {
        "plugins/kitchen/.claude-plugin/plugin.json": PLUGIN % "kitchen",
        "plugins/kitchen/skills/using-kitchen/SKILL.md": skill("using-kitchen", router_body),
        "plugins/kitchen/skills/using-kitchen/knife-skills.md": "# Knife skills\n",
        "plugins/kitchen/skills/using-kitchen/stock-making.md": "# Stock making\n",
    }
    files.update(extra or {})
    return files


def test_commands_and_agents_name_their_plugins_sheets_by_file_name(tmp_path: Path) -> None:
    """A plugin command (no skill of its own) lists `sheet.md` names of the plugin's router."""
    tree = write(tmp_path, kitchen("Sheets: [knives](knife-skills.md), [stock](stock-making.md).\n", {
        "plugins/kitchen/commands/prep.md": "# Prep\n\n| Step | Sheet |\n|---|---|\n| Dice | `knife-skills.md` |\n"
                                            "\n**Route to:** stock-making.md + knife-skills.md\n",
        "plugins/kitchen/agents/sous-chef.md": "# Sous chef\n\n- Broth → `stock-making.md`\n",
    }))
    assert codes(tree) == []


def test_plugin_colon_name_may_name_an_agent_or_a_sheet_of_the_plugin(tmp_path: Path) -> None:
    """Packs that folded their skills into one router keep `plugin:name` for the sheet."""
    tree = write(tmp_path, kitchen(
        "Sheets: [knives](knife-skills.md), [stock](stock-making.md).\n\n"
        "- Cutting → `kitchen:knife-skills`\n- Ask the `kitchen:sous-chef` agent.\n"
        "- Faction form: `kitchen/knife-skills`.\n",
        {"plugins/kitchen/agents/sous-chef.md": "# Sous chef\n"}))
    assert codes(tree) == []


def test_plugin_colon_name_that_names_nothing_in_the_plugin_is_stale(tmp_path: Path) -> None:
    tree = write(tmp_path, kitchen("Sheets: [knives](knife-skills.md), [stock](stock-making.md).\n\n"
                                   "Before cooking, load kitchen:mise-en-place first.\n"))
    assert codes(tree) == [("RT001", "SKILL.md", 10)]


def test_numbered_deliverables_a_workflow_writes_are_not_sheets(tmp_path: Path) -> None:
    """`03-menu-plan.md` names a document the user's project will hold, not a sheet."""
    tree = write(tmp_path, kitchen(
        "Sheets: [knives](knife-skills.md), [stock](stock-making.md).\n\n"
        "| Step | Output |\n|---|---|\n| Plan | `03-menu-plan.md` |\n\n**Route to:** `04-shopping-list.md` next.\n"
        "\n- Then → `05-prep-schedule.md`\n\nWrite `02-menu-plan.md` from `stock-making`.\n"))
    assert codes(tree) == []


def test_wrong_route_columns_mention_names_without_routing(tmp_path: Path) -> None:
    tree = write(tmp_path, kitchen(
        "Sheets: [knives](knife-skills.md), [stock](stock-making.md).\n\n"
        "| Symptom | Wrong route | Correct route |\n|---|---|---|\n| \"Dull knife\" | knife-sharpening | knife-skills |\n"))
    assert codes(tree) == []


def test_output_and_subcommand_columns_are_not_target_columns(tmp_path: Path) -> None:
    tree = write(tmp_path, kitchen(
        "Sheets: [knives](knife-skills.md), [stock](stock-making.md).\n\n"
        "| Subcommand | Action |\n|---|---|\n| `plan-onboard` | Plans the week. |\n\n"
        "| Phase | Spec file |\n|---|---|\n| Plan | `menu-plan-spec.md` |\n"))
    assert codes(tree) == []


@pytest.mark.parametrize("line", [
    "**Route to** appropriate station leads before dinner service.",     # "Route to" + a sentence
    "**Route to implementation**: sear first, then braise.",             # the phrase itself is bold
    "Route to domain-specific advice for the cuisine.",                   # hyphenated adjective
    "**Route to:** [knives](knife-skills.md) for the fine-dice and no-slip grip.",  # prose after the target
    "**Route to:** `/plate <dish>` (slash command — this is token-heavy work)",     # parenthetical aside
    "The menu goes draft → review → kitchen-ready state.",               # an arrow chain in prose
])
def test_prose_on_route_lines_and_arrows_is_not_a_dead_route(tmp_path: Path, line: str) -> None:
    tree = write(tmp_path, kitchen(f"Sheets: [knives](knife-skills.md), [stock](stock-making.md).\n\n{line}\n"))
    assert codes(tree) == []


def test_route_to_list_takes_every_name_and_skips_asides(tmp_path: Path) -> None:
    tree = write(tmp_path, kitchen(
        "Sheets: [knives](knife-skills.md), [stock](stock-making.md).\n\n"
        "**Route to:** knife-skills.md (PRIMARY) + stock-makin.md + sauce-base.md (for the glaze, see gravy-notes)\n"))
    assert codes(tree) == [("RT001", "SKILL.md", 10), ("RT001", "SKILL.md", 10)]
    messages = sorted(f.message for f in run(tree))
    assert "`sauce-base.md`" in messages[0] and "`stock-makin.md`" in messages[1]


def test_plain_words_in_a_prose_table_cell_are_not_names(tmp_path: Path) -> None:
    tree = write(tmp_path, kitchen(
        "Sheets: [knives](knife-skills.md), [stock](stock-making.md).\n\n"
        "| Symptom | Skill |\n|---|---|\n| \"Slow prep\" | Under 10% of well-rested cooks need knife-sharpening |\n"))
    assert codes(tree) == []


def test_a_near_miss_in_another_pack_is_a_coincidence_not_a_typo(tmp_path: Path) -> None:
    assert run(FIXTURES / "rt007" / "good") == []


def test_a_pack_the_tree_marks_as_planned_is_not_reported(tmp_path: Path) -> None:
    assert run(FIXTURES / "rt002" / "good") == []


def test_same_sheet_name_in_two_packs_is_ambiguous_not_missing(tmp_path: Path) -> None:
    """`**testing-notes**` in a root command, with that sheet in two packs: unqualified, not a typo."""
    files = {}
    for pack in ("grill", "oven"):
        files[f"plugins/{pack}/.claude-plugin/plugin.json"] = PLUGIN % pack
        files[f"plugins/{pack}/skills/using-{pack}/SKILL.md"] = skill(f"using-{pack}", "[notes](testing-notes.md)\n")
        files[f"plugins/{pack}/skills/using-{pack}/testing-notes.md"] = "# Testing notes\n"
    files[".claude/commands/cook.md"] = "# Cook\n\n- **testing-notes** - how each station is checked\n"
    assert codes(write(tmp_path, files)) == []


def test_project_command_wins_over_a_plugin_command_of_the_same_name(tmp_path: Path) -> None:
    tree = write(tmp_path, {
        "plugins/grill/.claude-plugin/plugin.json": PLUGIN % "grill",
        "plugins/grill/commands/taste.md": "# Taste\n",
        ".claude/commands/taste.md": "# Taste\n",
        ".claude/commands/serve.md": "# Serve\n\nBefore serving → `/taste`\n",
    })
    assert codes(tree) == []


def test_references_below_an_early_closed_fence_are_not_linted(tmp_path: Path) -> None:
    # the example's text between the early close and the orphaned fence renders as prose
    body = ("```markdown\n## Answer\n\n```python\nx = 1\n```\nSee [the api](api/entities.md).\n```\n")
    tree = write(tmp_path, {"skills/bread/SKILL.md": skill("bread", body)})
    assert [c for c, *_ in codes(tree)] == ["MD001"]
