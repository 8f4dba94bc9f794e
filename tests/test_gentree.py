"""bench/gentree.py: the benchmark tree generator writes what it says it writes, the same way each time."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

_PATH = Path(__file__).resolve().parents[1] / "bench" / "gentree.py"
_spec = importlib.util.spec_from_file_location("gentree", _PATH)
assert _spec and _spec.loader
gentree = importlib.util.module_from_spec(_spec)
sys.modules["gentree"] = gentree  # dataclasses look their module up while the class is built
_spec.loader.exec_module(gentree)

_LINK = re.compile(r"\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^(`{3,}|~{3,})", re.M)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _front_matter(text: str) -> str | None:
    if not text.startswith("---\n"):
        return None
    end = text.index("\n---\n", 4)
    return text[4:end]


def _prose(text: str) -> str:
    """The text outside fenced code blocks (links inside fences are examples, not links)."""
    out, fence = [], None
    for line in text.split("\n"):
        m = _FENCE.match(line)
        if m and (fence is None or (line.strip()[0] == fence[0] and len(line.strip()) >= len(fence)
                                    and not line.strip().strip(fence[0]))):
            fence = m.group(1) if fence is None else None
            continue
        if fence is None:
            out.append(line)
    return "\n".join(out)


def _slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.fixture(scope="module")
def defective(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """A 20-skill tree with many defects, so that every kind shows up in a small tree."""
    root = tmp_path_factory.mktemp("defective")
    stats = gentree.generate(root, 20, seed=3, defect_rate=0.6)
    return root, stats


def test_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    a = gentree.generate(tmp_path / "a", 20, seed=11)
    b = gentree.generate(tmp_path / "b", 20, seed=11)
    gentree.generate(tmp_path / "c", 20, seed=12)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert a.summary() | {"root": ""} == b.summary() | {"root": ""}
    assert a.queries == b.queries
    assert _files(tmp_path / "a") != _files(tmp_path / "c")


def test_every_file_is_utf8_and_every_json_file_loads(defective: tuple[Path, object]) -> None:
    root, _ = defective
    for rel, data in _files(root).items():
        text = data.decode("utf-8")  # raises on a bad byte
        if rel.endswith(".json"):
            assert isinstance(json.loads(text), dict)


def test_front_matter_loads_except_where_a_yaml_defect_was_injected(defective: tuple[Path, object]) -> None:
    root, stats = defective
    broken = {d.path for d in stats.injected if d.kind == "yaml_colon"}
    assert broken, "seed 3 at rate 0.6 injects YAML defects; pick another seed if the plan changes"
    skill_files = sorted(root.rglob("SKILL.md"))
    assert len(skill_files) == 20
    for path in sorted(root.rglob("*.md")):
        rel = path.relative_to(root).as_posix()
        fm = _front_matter(path.read_text(encoding="utf-8"))
        if path.name == "SKILL.md":
            assert fm is not None, rel
        if fm is None:
            continue
        if rel in broken:
            with pytest.raises(yaml.YAMLError):
                yaml.safe_load(fm)
            continue
        data = yaml.safe_load(fm)
        assert isinstance(data, dict), rel
        assert isinstance(data["description"], str) and data["description"], rel
        if path.name == "SKILL.md":
            assert isinstance(data["name"], str), rel


def test_counts_in_stats_match_the_files_on_disk(defective: tuple[Path, object]) -> None:
    root, stats = defective
    files = [p for p in root.rglob("*") if p.is_file()]
    skill_dirs = {p.parent for p in root.rglob("SKILL.md")}
    sheets = [p for p in files if p.suffix == ".md" and p.name != "SKILL.md" and p.parent in skill_dirs]
    assert stats.files == len(files)
    assert stats.bytes == sum(p.stat().st_size for p in files)
    assert stats.skills == len(skill_dirs) == 20
    assert stats.sheets == len(sheets)
    assert stats.routers == sum(1 for d in skill_dirs if d.name.startswith("using-"))
    assert stats.plugins == len(list(root.glob("plugins/*/.claude-plugin/plugin.json")))
    assert stats.commands == len(list(root.glob("plugins/*/commands/*.md")))
    for kind in gentree.DEFECT_KINDS:
        assert stats.defects[kind] == sum(1 for d in stats.injected if d.kind == kind)
    assert sum(stats.defects.values()) >= 5
    for d in stats.injected:
        assert (root / d.path).is_file(), d


def test_the_shape_of_a_plugin_tree(tmp_path: Path) -> None:
    stats = gentree.generate(tmp_path, 40, seed=1, defect_rate=0.0)
    market = json.loads((tmp_path / ".claude-plugin" / "marketplace.json").read_text())
    names = [p["name"] for p in market["plugins"]]
    assert len(names) == stats.plugins >= 3
    for name in names:
        meta = json.loads((tmp_path / "plugins" / name / ".claude-plugin" / "plugin.json").read_text())
        assert set(meta) == {"name", "version", "description"} and meta["name"] == name
        routers = list((tmp_path / "plugins" / name / "skills").glob("using-*/SKILL.md"))
        assert len(routers) == 1
    top = [p for p in tmp_path.glob("plugins/*/skills/using-*/SKILL.md") if "`" in p.read_text() or "/" in p.read_text()]
    index = [p for p in top if all(f"{n}/using-" in p.read_text() for n in names if not n.endswith("index"))]
    assert index, "a top router names every plugin router as plugin/using-x"
    router = next(tmp_path.glob("plugins/gen-*/skills/using-*/SKILL.md"))
    text = router.read_text()
    assert "| Symptom | Route to |" in text and "**Route to:** [" in text and "## When to Use" in text
    skill_names = {p.parent.name for p in router.parent.parent.glob("*/SKILL.md")}
    rows = re.findall(r'^\| "[^"|]+" \| [*`]{0,2}([a-z0-9/-]+)[*`]{0,2} \|$', text, re.M)
    assert rows and all(r in skill_names or "/" in r for r in rows)


def test_a_clean_tree_has_no_broken_links_or_anchors_and_no_orphans(tmp_path: Path) -> None:
    stats = gentree.generate(tmp_path, 60, seed=5, defect_rate=0.0)
    assert sum(stats.defects.values()) == 0
    headings = {}
    for p in tmp_path.rglob("*.md"):
        body = _prose(p.read_text())
        headings[p] = {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", body, re.M)}
    linked: set[Path] = set()
    for p in tmp_path.rglob("*.md"):
        for target in _LINK.findall(_prose(p.read_text())):
            path, _, anchor = target.partition("#")
            dest = (p.parent / path).resolve() if path else p
            assert dest.is_file(), f"{p}: {target}"
            linked.add(dest)
            if anchor:
                assert anchor in headings[dest], f"{p}: {target}"
    for sheet in tmp_path.rglob("*.md"):
        if sheet.name != "SKILL.md" and (sheet.parent / "SKILL.md").exists():
            assert sheet.resolve() in linked, f"orphan sheet in a clean tree: {sheet}"


def test_injected_link_defects_really_are_broken(defective: tuple[Path, object]) -> None:
    root, stats = defective
    kinds = {d.kind for d in stats.injected}
    assert {"broken_link", "broken_anchor", "dead_route"} & kinds
    for d in stats.injected:
        src = root / d.path
        if d.kind == "broken_link":
            target = d.detail.split(" ")[0]
            assert f"]({target})" in src.read_text() and not (src.parent / target).exists()
        elif d.kind == "broken_anchor":
            sheet, anchor = d.detail.split("#")
            text = (src.parent / sheet).read_text()
            assert anchor not in {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}
        elif d.kind == "dead_route":
            dead = d.detail.split(" ")[0]
            assert f"| {dead} |" in src.read_text()
            assert not list(root.glob(f"plugins/*/skills/{dead}"))
        elif d.kind == "missing_use_when":
            fm = yaml.safe_load(_front_matter(src.read_text()))
            assert "use when" not in fm["description"].lower()
        elif d.kind == "name_mismatch":
            fm = yaml.safe_load(_front_matter(src.read_text()))
            assert fm["name"] != src.parent.name
        elif d.kind == "orphan_sheet":
            assert src.is_file() and f"]({src.name}" not in (src.parent / "SKILL.md").read_text()


def test_decoys_are_plugin_less_or_in_prefixed_plugins(tmp_path: Path) -> None:
    stats = gentree.generate(tmp_path, 40, seed=2, defect_rate=0.0, prefix="lure", decoy=True)
    loose = list(tmp_path.glob("skills/*/SKILL.md"))
    packed = list(tmp_path.glob("plugins/*/skills/*/SKILL.md"))
    assert loose and packed and len(loose) + len(packed) == stats.skills == 40
    assert all(p.parent.name.startswith("lure-") for p in loose)
    assert all(p.parts[-4].startswith("lure-") for p in packed)
    for p in loose + packed:
        fm = yaml.safe_load(_front_matter(p.read_text()))
        assert fm["name"] == p.parent.name and fm["description"].startswith("Use when ")


def test_cli_writes_queries_and_a_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, queries, manifest = tmp_path / "tree", tmp_path / "q.jsonl", tmp_path / "m.json"
    assert gentree.main([str(out), "--skills", "25", "--seed", "4", "--queries", str(queries),
                         "--manifest", str(manifest), "--defect-rate", "0.2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["skills"] == 25 and summary["files"] == len([p for p in out.rglob("*") if p.is_file()])
    rows = [json.loads(line) for line in queries.read_text().splitlines()]
    assert rows and all(set(r) == {"query", "expected", "id"} for r in rows)
    for r in rows:
        plugin, skill = r["expected"].split("/")
        assert (out / "plugins" / plugin / "skills" / skill / "SKILL.md").is_file()
    full = json.loads(manifest.read_text())
    assert len(full["injected"]) == summary["defects_total"]


def test_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        gentree.generate(tmp_path, 5)
    assert (tmp_path / "keep.txt").read_text() == "mine"
