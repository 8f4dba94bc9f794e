"""`skill-lsp check` and `skill-lsp rules` as a user runs them: output formats, order, exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from skill_lsp.rules import RULES

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]{2}\d{3}) \[(?P<sev>\w+)\] (?P<msg>.+)$")


def cli(*args: str, cwd: Path = FIXTURES) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "skill_lsp.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


# --- text -------------------------------------------------------------------------------------
def test_text_lines_are_sorted_and_followed_by_a_summary() -> None:
    out = cli("check", "rt004/bad", "lk003/bad", "fm002/bad")
    assert out.returncode == 1, out.stderr
    *body, summary = out.stdout.strip().split("\n")
    parsed = [LINE.match(line) for line in body]
    assert all(parsed), body
    keys = [(m["path"], int(m["line"]), int(m["col"])) for m in parsed]
    assert keys == sorted(keys)
    assert [(m["path"], m["line"], m["col"], m["code"], m["sev"]) for m in parsed] == [
        ("fm002/bad/skills/oven-reset/SKILL.md", "3", "37", "FM002", "error"),
        ("fm002/bad/skills/oven-reset/timer-codes.md", "2", "19", "FM002", "error"),
        ("lk003/bad/skills/bread/SKILL.md", "8", "36", "LK003", "warning"),
        ("lk003/bad/skills/bread/SKILL.md", "8", "66", "LK003", "warning"),
        ("rt004/bad/skills/bread/scoring-patterns.md", "1", "1", "RT004", "warning"),
    ]
    assert summary == "2 errors, 3 warnings, 0 notes in 7 files (3 skills, 4 sheets)"


def test_clean_tree_prints_only_the_summary_and_exits_zero() -> None:
    out = cli("check", "rt001/good")
    assert (out.returncode, out.stdout.strip()) == (0, "0 errors, 0 warnings, 0 notes in 5 files (3 skills, 2 sheets)")


def test_warnings_and_notes_alone_exit_zero() -> None:
    assert cli("check", "rt004/bad").returncode == 0
    assert cli("check", "rt005/bad").returncode == 0


# --- usage errors -----------------------------------------------------------------------------
def test_usage_errors_exit_two() -> None:
    assert cli("check").returncode == 2
    missing = cli("check", "no-such-folder")
    assert missing.returncode == 2 and "not a folder: no-such-folder" in missing.stderr
    assert cli("check", "rt001/good", "--format", "xml").returncode == 2
    assert cli("frobnicate").returncode == 2


def test_settings_problems_are_reported_on_stderr_without_stopping(tmp_path: Path) -> None:
    (tmp_path / "skills/grill").mkdir(parents=True)
    (tmp_path / "skills/grill/SKILL.md").write_text(
        "---\nname: grill\ndescription: Use when grilling.\n---\n\n# Grill\n", encoding="utf-8")
    (tmp_path / ".skill-lsp.toml").write_text("line-budget = \"lots\"\n", encoding="utf-8")
    out = cli("check", str(tmp_path))
    assert out.returncode == 0 and "line-budget" in out.stderr and out.stdout.startswith("0 errors")


# --- json -------------------------------------------------------------------------------------
def test_json_is_one_array_with_zero_based_ranges() -> None:
    out = cli("check", "lk003/bad", "--format", "json")
    assert out.returncode == 0
    data = json.loads(out.stdout)
    assert isinstance(data, list) and len(data) == 2
    first = data[0]
    assert set(first) >= {"path", "range", "code", "severity", "message", "related"}
    assert first["path"] == "lk003/bad/skills/bread/SKILL.md"
    assert first["range"] == {"start": {"line": 7, "character": 35}, "end": {"line": 7, "character": 50}}
    assert (first["code"], first["severity"]) == ("LK003", "warning")
    (rel,) = first["related"]
    assert rel["path"] == "lk003/bad/skills/bread/sourdough-starter.md"
    assert set(rel) == {"path", "range", "message"} and rel["range"]["start"] == {"line": 0, "character": 0}


def test_json_of_a_clean_tree_is_an_empty_array() -> None:
    out = cli("check", "rt001/good", "--format", "json")
    assert (out.returncode, json.loads(out.stdout)) == (0, [])


# --- sarif ------------------------------------------------------------------------------------
def test_sarif_is_valid_2_1_0_for_code_scanning() -> None:
    out = cli("check", "rt001/bad", "--format", "sarif")
    assert out.returncode == 1
    doc = json.loads(out.stdout)
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "skill-lsp" and driver["version"]
    rule_ids = [r["id"] for r in driver["rules"]]
    assert rule_ids == sorted({"RT001", "RT005"})
    for r in driver["rules"]:
        assert r["shortDescription"]["text"] and r["helpUri"].startswith("https://")
        assert r["defaultConfiguration"]["level"] in ("error", "warning", "note")
    assert len(run["results"]) == 3
    for res in run["results"]:
        assert driver["rules"][res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["level"] in ("error", "warning", "note") and res["message"]["text"]
        (loc,) = res["locations"]
        phys = loc["physicalLocation"]
        assert not phys["artifactLocation"]["uri"].startswith("/")
        region = phys["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1  # SARIF counts from 1
    dead = next(r for r in run["results"] if r["ruleId"] == "RT001")
    assert dead["locations"][0]["physicalLocation"]["region"]["startLine"] == 12


# --- rules --------------------------------------------------------------------------------------
def test_rules_lists_every_rule_with_code_severity_and_summary() -> None:
    out = cli("rules")
    assert out.returncode == 0
    lines = out.stdout.strip().split("\n")
    assert len(lines) == len(RULES)
    for rule, line in zip(RULES, lines, strict=True):
        assert line.startswith(rule.code) and rule.severity.label in line and rule.summary in line


def test_rules_explains_one_rule_and_refuses_unknown_codes() -> None:
    out = cli("rules", "rt001")
    assert out.returncode == 0 and out.stdout.startswith("RT001 dead-route (error)") and "Bad:" in out.stdout
    assert cli("rules", "XX999").returncode == 2
