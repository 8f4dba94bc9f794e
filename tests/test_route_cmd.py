"""`skill-lsp route` and `skill-lsp eval` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TREE = Path(__file__).parent / "fixtures" / "route_tree"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "skill_lsp.cli", *args], capture_output=True, text=True,
                          timeout=300)


def test_route_json_has_the_protocol_shape() -> None:
    out = cli("route", "my brakes feel spongy", "--root", str(TREE), "--limit", "2", "--json")
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert set(answer) == {"results", "confident"} and answer["confident"] is True
    assert len(answer["results"]) == 2
    first = answer["results"][0]
    assert set(first) == {"id", "name", "kind", "uri", "score", "description", "route", "why"}
    assert first["id"] == "bikes/using-bikes/brake-bleeding.md" and first["kind"] == "sheet"
    assert first["route"] == ["using-workshop", "bikes/using-bikes", "bikes/using-bikes/brake-bleeding.md"]
    assert first["uri"].startswith("file://")


def test_route_text_lists_rank_id_route_and_description() -> None:
    out = cli("route", "compost heap smells", "--root", str(TREE))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(" 1. garden/composting  (")
    assert "route: using-workshop -> garden/using-garden -> garden/composting" in out.stdout
    assert "Use when turning kitchen scraps" in out.stdout


def test_route_says_when_nothing_fits() -> None:
    out = cli("route", "qwertyuiop asdfghjkl", "--root", str(TREE))
    assert out.returncode == 1
    assert out.stdout.strip() == "no match"
    out = cli("route", "a question about kitchen tiles", "--root", str(TREE))
    assert out.stdout.startswith("no confident match")


def test_route_rejects_a_missing_root(tmp_path: Path) -> None:
    out = cli("route", "x", "--root", str(tmp_path / "nope"))
    assert out.returncode == 2 and "not a folder" in out.stderr


def test_eval_prints_our_figures_beside_plain_bm25(tmp_path: Path) -> None:
    queries = tmp_path / "q.jsonl"
    rows = [
        {"query": "slugs eat my lettuce at night", "expected": "garden/using-garden/pest-control.md"},
        {"query": "Chain skips or squeaks", "expected": "bikes/chain-care"},
        {"query": "the spokes are loose and the rim is not straight", "expected": "bikes/wheel-truing"},
        {"query": "which branches to remove from an old apple tree", "expected": "garden/pruning"},
    ]
    queries.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = cli("eval", "--root", str(TREE), str(queries))
    assert out.returncode == 0, out.stderr
    head, rule, row = out.stdout.splitlines()[1:4]
    for col in ("top-1", "rec@3", "MRR", "p50ms", "p95ms", "BM25"):
        assert col in head
    assert row.split()[0] == "q" and row.split()[1] == "4"
    assert row.split()[2] == "1.000"  # our top-1
    js = cli("eval", "--root", str(TREE), str(queries), "--json")
    report = json.loads(js.stdout)["sets"]["q"]
    assert report["ours"]["top1"] == 1.0 and report["ours"]["recall3"] == 1.0
    assert set(report["bm25"]) >= {"top1", "recall3", "mrr", "p50_ms", "p95_ms"}
    assert report["ours"]["mrr"] >= report["bm25"]["mrr"]


def test_eval_rejects_a_malformed_query_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "x"}\n', encoding="utf-8")
    out = cli("eval", "--root", str(TREE), str(bad))
    assert out.returncode == 2 and "bad.jsonl:1" in out.stderr


def test_eval_with_decoys_buries_the_tree(tmp_path: Path) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps({"query": "hydraulic brake lever feels soft",
                                   "expected": "bikes/using-bikes/brake-bleeding.md"}) + "\n", encoding="utf-8")
    out = cli("eval", "--root", str(TREE), "--decoys", "40", str(queries), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["targets"] > 40 + 10  # the decoys are in the index
    assert report["sets"]["q"]["ours"]["top1"] == 1.0
