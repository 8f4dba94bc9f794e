"""The bundled `skills/` tree is what the README's main command runs on: it must stay clean."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from skill_lsp.index import SkillIndex
from skill_lsp.model import DocKind
from skill_lsp.report import rules_markdown
from skill_lsp.rules import check_all

REPO = Path(__file__).resolve().parents[1]


def test_bundled_tree_is_clean_and_complete() -> None:
    ix = SkillIndex.from_roots([str(REPO / "skills")])
    assert check_all(ix) == []
    kinds = [d.kind for d in ix.docs.values()]
    assert kinds.count(DocKind.SKILL) >= 4 and kinds.count(DocKind.SHEET) >= 3
    assert {p.name for p in ix.plugins.values()} >= {"docs-writing", "code-review"}
    # the router's table really resolves, across packs too
    router = str(REPO / "skills/plugins/docs-writing/skills/using-docs-writing/SKILL.md")
    targets = {ix.doc_id(t) for _res, t in ix.routing_edges(router)}
    assert {"docs-writing/api-reference", "docs-writing/release-notes", "code-review/using-code-review"} <= targets


def test_main_command_exits_zero_with_summary() -> None:
    out = subprocess.run([sys.executable, "-m", "skill_lsp.cli", "check", "skills"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().startswith("0 errors, 0 warnings")


def test_rules_doc_is_generated_from_the_registry() -> None:
    assert (REPO / "docs/rules.md").read_text(encoding="utf-8") == rules_markdown(), \
        "docs/rules.md is stale: run `skill-lsp rules --markdown > docs/rules.md`"


def test_json_output_of_a_broken_copy(tmp_path: Path) -> None:
    import shutil

    tree = tmp_path / "skills"
    shutil.copytree(REPO / "skills", tree)
    router = tree / "plugins/docs-writing/skills/using-docs-writing/SKILL.md"
    router.write_text(router.read_text(encoding="utf-8").replace("| api-reference |", "| api-referense |", 1),
                      encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "skill_lsp.cli", "check", str(tree), "--format", "json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    found = json.loads(out.stdout)
    dead = [f for f in found if f["code"] == "RT001"]
    assert len(dead) == 1
    assert dead[0]["range"]["start"]["line"] == 20
    assert "did you mean `api-reference`" in dead[0]["message"]
