"""Plugin manifest checks (PL001-PL004) on fixture trees, with the exact JSON ranges they report."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from skill_lsp.index import SkillIndex
from skill_lsp.model import Finding, Severity, Span
from skill_lsp.rules.manifests import check_manifest, kebab, manifest_paths

FIXTURES = Path(__file__).parent / "fixtures" / "manifests"


def findings(tree: str | Path) -> list[Finding]:
    ix = SkillIndex.from_roots([str(tree)])
    out: list[Finding] = []
    for p in manifest_paths(ix):
        out.extend(check_manifest(ix, p))
    return out


def rel(f: Finding, tree: Path) -> str:
    return os.path.relpath(f.path, os.path.realpath(tree)).replace(os.sep, "/")


def summary(tree: Path) -> set[tuple[str, str, Span]]:
    return {(rel(f, tree), f.code, f.span) for f in findings(tree)}


def test_manifest_paths_lists_plugin_and_marketplace_files() -> None:
    ix = SkillIndex.from_roots([str(FIXTURES / "good")])
    names = [os.path.relpath(p, ix.roots[0]) for p in manifest_paths(ix)]
    assert names == [".claude-plugin/marketplace.json", "plugins/alpha/.claude-plugin/plugin.json"]


def test_good_tree_is_silent() -> None:
    assert findings(FIXTURES / "good") == []


def test_invalid_json_is_reported_at_the_decoder_position() -> None:
    [f] = findings(FIXTURES / "bad-json")
    assert f.code == "PL001"
    assert f.severity is Severity.ERROR
    # the closing brace after the trailing comma, where the decoder expected another key
    assert f.span == Span(3, 0, 3, 1)
    assert "not valid JSON" in f.message


def test_missing_required_fields() -> None:
    tree = FIXTURES / "missing-fields"
    got = summary(tree)
    assert got == {
        (".claude-plugin/marketplace.json", "PL001", Span(0, 0, 0, 1)),  # no owner: at the opening brace
        (".claude-plugin/marketplace.json", "PL001", Span(3, 4, 3, 5)),  # entry without a name
        (".claude-plugin/marketplace.json", "PL001", Span(4, 4, 4, 5)),  # entry without a source
        ("nameless/.claude-plugin/plugin.json", "PL001", Span(0, 0, 0, 1)),  # plugin.json without a name
        ("nameless/.claude-plugin/plugin.json", "PL001", Span(2, 12, 2, 13)),  # "skills": 3
    }
    messages = " | ".join(f.message for f in findings(tree))
    assert "lacks 'owner'" in messages and "lacks 'name'" in messages and "lacks 'source'" in messages


def test_marketplace_needs_name_owner_and_a_plugins_array(tmp_path: Path) -> None:
    write(tmp_path / ".claude-plugin/marketplace.json", '{"owner": "me", "plugins": {}}')
    got = {(f.code, f.span, f.message.split(" ")[0]) for f in findings(tmp_path)}
    assert got == {
        ("PL001", Span(0, 0, 0, 1), "marketplace.json"),  # lacks name
        ("PL001", Span(0, 10, 0, 14), "'owner'"),  # a string, not an object
        ("PL001", Span(0, 27, 0, 29), "'plugins'"),  # an object, not an array
    }


def test_missing_paths_point_at_the_path_value() -> None:
    tree = FIXTURES / "missing-paths"
    got = summary(tree)
    gamma = "plugins/gamma/.claude-plugin/plugin.json"
    assert got == {
        (".claude-plugin/marketplace.json", "PL002", Span(5, 32, 5, 49)),  # source ./plugins/delta
        (".claude-plugin/marketplace.json", "PL002", Span(6, 101, 6, 118)),  # skills ./skills/absent
        (gamma, "PL002", Span(2, 33, 2, 48)),  # ./skills/gone
        (gamma, "PL002", Span(3, 14, 3, 26)),  # ./commands (only Commands/ exists)
        (gamma, "PL002", Span(4, 13, 4, 33)),  # ./agents/helper.md
        (gamma, "PL002", Span(5, 11, 5, 31)),  # ./hooks/hooks.json
        (gamma, "PL002", Span(6, 16, 6, 29)),  # ./.lsp.json
        (gamma, "PL002", Span(7, 16, 7, 29)),  # ./.mcp.json
    }
    commands = next(f for f in findings(tree) if "'./commands'" in f.message)
    assert "differs only in letter case" in commands.message


def test_paths_must_be_relative_and_stay_inside(tmp_path: Path) -> None:
    write(tmp_path / "p/.claude-plugin/plugin.json",
          '{"name": "p", "commands": ["../outside.md", "/etc/passwd", "cmds"], "agents": "./agents"}')
    (tmp_path / "p/agents").mkdir()
    got = sorted((f.code, f.message) for f in findings(tmp_path))
    codes = [c for c, _ in got]
    assert codes.count("PL001") == 4 and codes.count("PL002") == 1
    text = " | ".join(m for _, m in got)
    assert "contains '..'" in text
    assert "is absolute" in text
    assert "must start with './'" in text
    assert "must name a .md file" in text  # agents entries are Markdown files
    assert "'cmds' does not exist" in text


def test_variables_in_paths_are_not_judged(tmp_path: Path) -> None:
    write(tmp_path / "p/.claude-plugin/plugin.json",
          '{"name": "p", "hooks": "./${CLAUDE_PLUGIN_ROOT}/hooks.json"}')
    assert findings(tmp_path) == []


def test_duplicate_plugins_in_a_root_and_in_a_marketplace() -> None:
    tree = FIXTURES / "duplicates"
    got = findings(tree)
    assert {(rel(f, tree), f.code, f.span) for f in got} == {
        (".claude-plugin/marketplace.json", "PL003", Span(4, 13, 4, 18)),
        (".claude-plugin/marketplace.json", "PL003", Span(5, 13, 5, 18)),
        ("plugins/one/.claude-plugin/plugin.json", "PL003", Span(0, 9, 0, 16)),
        ("plugins/two/.claude-plugin/plugin.json", "PL003", Span(1, 10, 1, 17)),
    }
    one = next(f for f in got if rel(f, tree) == "plugins/one/.claude-plugin/plugin.json")
    # the other manifest is named, with the range of its own name
    [related] = one.related
    assert related.path.endswith(os.path.join("two", ".claude-plugin", "plugin.json"))
    assert related.span == Span(1, 10, 1, 17)


def test_names_that_are_not_kebab_case() -> None:
    tree = FIXTURES / "bad-names"
    got = {rel(f, tree): f for f in findings(tree)}
    assert set(got) == {".claude-plugin/marketplace.json", "snake/.claude-plugin/plugin.json",
                        "spaced/.claude-plugin/plugin.json"}
    spaced = got["spaced/.claude-plugin/plugin.json"]
    assert spaced.code == "PL004" and spaced.severity is Severity.ERROR  # Claude Code refuses spaces
    assert spaced.span == Span(0, 9, 0, 19)
    [fix] = spaced.fixes
    assert fix.edits[0][1:] == (Span(0, 9, 0, 19), '"my-tools"')
    snake = got["snake/.claude-plugin/plugin.json"]
    assert snake.code == "PL004" and snake.severity is Severity.WARNING
    entry = got[".claude-plugin/marketplace.json"]
    assert entry.code == "PL004" and entry.span == Span(5, 13, 5, 20)


def test_kebab_spelling() -> None:
    assert kebab("My Tools") == "my-tools"
    assert kebab("snake_case") == "snake-case"
    assert kebab("camelCase2") == "camel-case2"


def test_severity_settings_apply(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "bad-names", tmp_path / "t")
    write(tmp_path / "t/.skill-lsp.toml", '[severity]\nPL004 = "off"\n')
    ix = SkillIndex.from_roots([str(tmp_path / "t")])
    assert [f for p in manifest_paths(ix) for f in check_manifest(ix, p)] == []


def test_editor_text_wins_over_the_disk() -> None:
    ix = SkillIndex.from_roots([str(FIXTURES / "good")])
    path = next(p for p in manifest_paths(ix) if p.endswith("plugin.json"))
    [f] = check_manifest(ix, path, text='{"name": "alpha", "skills": "./skills/unsaved"}')
    assert f.code == "PL002" and f.span == Span(0, 28, 0, 46)


def test_nothing_outside_the_roots_is_read(tmp_path: Path) -> None:
    write(tmp_path / "outside/.claude-plugin/plugin.json", "{not json")
    (tmp_path / "root").mkdir()
    ix = SkillIndex.from_roots([str(tmp_path / "root")])
    assert check_manifest(ix, str(tmp_path / "outside/.claude-plugin/plugin.json")) == []
    assert check_manifest(ix, str(tmp_path / "root/../outside/.claude-plugin/plugin.json")) == []


def test_non_json_constants_and_non_objects(tmp_path: Path) -> None:
    write(tmp_path / "a/.claude-plugin/plugin.json", '{"name": "a", "version": NaN}')
    write(tmp_path / "b/.claude-plugin/plugin.json", '["b"]')
    got = {rel(f, tmp_path): f for f in findings(tmp_path)}
    assert got["a/.claude-plugin/plugin.json"].span == Span(0, 25, 0, 28)
    assert "NaN" in got["a/.claude-plugin/plugin.json"].message
    assert got["b/.claude-plugin/plugin.json"].message.startswith("a manifest is a JSON object")


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
