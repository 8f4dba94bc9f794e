#!/usr/bin/env python3
"""Routing figures over every query set of an eval folder, alone and buried among decoys.

    python bench/route_eval.py ../shared/eval [--corpora ../shared/corpora] [--decoys 10000]

Each set is run over its own tree (skillpacks_* over tachyon-beep-skillpacks, anthropics_* over
anthropics-skills, superpowers_* over obra-superpowers), our router beside a plain BM25 over name +
description in the same run; then the same sets again with the tree indexed together with N
generated decoy skills (bench/gentree.py, --decoy mode), where top-1 may drop at most 5 points and
the p95 latency per query must stay under 5 ms. Latency: wall clock p50/p95, and cpu95, the CPU
time p95 of the query thread (what a query costs even when the machine is busy).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from skill_lsp.index import SkillIndex
from skill_lsp.route import router_for
from skill_lsp.route_cmd import BaselineBM25, decoy_tree, evaluate, format_table, read_queries

TREES = {"skillpacks": "tachyon-beep-skillpacks", "anthropics": "anthropics-skills", "superpowers": "obra-superpowers"}


def run(eval_dir: Path, corpora: Path, decoys: int) -> dict[str, object]:
    sets: dict[str, list[tuple[str, list]]] = {}
    for f in sorted(eval_dir.glob("*.jsonl")):
        if "excluded" in f.name:
            continue  # rows the set's authors left out on purpose (ambiguous phrases)
        tree = TREES.get(f.name.split("_", 1)[0])
        if tree and (corpora / tree).is_dir():
            sets.setdefault(tree, []).append((f.stem, read_queries(str(f))))
    report: dict[str, object] = {}
    # alone: each set over its own tree. Buried: every tree and the decoys in one index (one
    # 10k-skill build instead of three), each set answered from its own tree and the decoys only
    # (the `root` scope of skills/route): its tree buried among the decoys.
    phases: list[tuple[str, list[tuple[list[str], list[tuple[str, list]]]]]] = [
        ("alone", [([str(corpora / tree)], tree_sets) for tree, tree_sets in sets.items()])]
    decoy_root = decoy_tree(decoys) if decoys else ""
    if decoys:
        phases.append((f"with {decoys} decoys", [([str(corpora / t) for t in sets] + [decoy_root],
                                                  [(f"{t}|{n}", r) for t, ts in sets.items() for n, r in ts])]))
    for label, runs in phases:
        table = []
        for roots, tree_sets in runs:
            t0 = time.perf_counter()
            ix = SkillIndex.from_roots(roots)
            t1 = time.perf_counter()
            router_for(ix).refresh()
            t2 = time.perf_counter()
            baseline = BaselineBM25(ix)
            print(f"[{label}] {len(ix.docs)} documents in {len(roots)} roots: index {t1 - t0:.1f}s, "
                  f"router {t2 - t1:.1f}s", file=sys.stderr, flush=True)
            for name, rows in tree_sets:
                scope = None
                if "|" in name:
                    tree, name = name.split("|", 1)
                    scope = [os.path.realpath(corpora / tree), os.path.realpath(decoy_root)]
                ours, base = evaluate(ix, rows, baseline, roots=scope)
                table.append((name, ours.row(), base.row()))
                report[f"{label}/{name}"] = {"ours": ours.row(), "bm25": base.row(),
                                             "index_s": t1 - t0, "router_build_s": t2 - t1}
        print(f"\n== {label}")
        print(format_table(table), flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("eval_dir", type=Path)
    ap.add_argument("--corpora", type=Path, default=None, help="default: corpora/ beside the eval folder")
    ap.add_argument("--decoys", type=int, default=10000)
    ap.add_argument("--json", type=Path, help="also write every figure as JSON here")
    args = ap.parse_args(argv)
    corpora = args.corpora or args.eval_dir.parent / "corpora"
    report = run(args.eval_dir, corpora, args.decoys)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
