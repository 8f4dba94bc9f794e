"""`skill-lsp route QUERY` and `skill-lsp eval QUERIES.jsonl`: the router from the shell.

`eval` reads JSON lines {"query": ..., "expected": id} and prints top-1, recall@3, MRR and
latency for our router beside a plain BM25 over name + description computed in the same run, so
the two are always compared on the same index, machine and moment.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .agent_api import route_request
from .index import SkillIndex
from .model import DocKind
from .route import router_for
from .stem import tokens

RANK_DEPTH = 10  # MRR counts ranks up to here


def run_route(args: argparse.Namespace) -> int:
    ix = _index(args.root)
    if ix is None:
        return 2
    try:
        answer = route_request(ix, {"query": args.query, "limit": args.limit})
    except ValueError as exc:
        print(f"skill-lsp: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
        return 0
    if not answer["results"]:
        print("no match")
        return 1
    if not answer["confident"]:
        print("no confident match; closest:")
    for rank, r in enumerate(answer["results"], 1):
        print(f"{rank:>2}. {r['id']}  ({r['score']:.2f})")
        if len(r["route"]) > 1:
            print("    route: " + " -> ".join(r["route"]))
        if r["description"]:
            print("    " + _clip(r["description"], 160))
        if r["why"]:
            print("    why: " + r["why"])
    return 0


def _index(roots: Sequence[str]) -> SkillIndex | None:
    for r in roots:
        if not os.path.isdir(r):
            print(f"skill-lsp: {r}: not a folder", file=sys.stderr)
            return None
    return SkillIndex.from_roots(roots)


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# --- evaluation -----------------------------------------------------------------------------------
@dataclass(slots=True)
class Scores:
    n: int = 0
    top1: int = 0
    recall3: int = 0
    rr: float = 0.0
    times_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    misses: list[tuple[str, str, list[str]]] = field(default_factory=list)

    def add(self, expected: str, ranked: list[str], ms: float, query: str, cpu: float = 0.0) -> None:
        self.n += 1
        self.times_ms.append(ms)
        self.cpu_ms.append(cpu)
        if ranked[:1] == [expected]:
            self.top1 += 1
        else:
            self.misses.append((query, expected, ranked[:3]))
        if expected in ranked[:3]:
            self.recall3 += 1
        if expected in ranked[:RANK_DEPTH]:
            self.rr += 1.0 / (ranked.index(expected) + 1)

    def row(self) -> dict[str, float]:
        n = max(self.n, 1)
        return {
            "n": self.n,
            "top1": self.top1 / n,
            "recall3": self.recall3 / n,
            "mrr": self.rr / n,
            "p50_ms": _pct(self.times_ms, 0.50),
            "p95_ms": _pct(self.times_ms, 0.95),
            "cpu_p95_ms": _pct(self.cpu_ms, 0.95),
        }


def _pct(values: list[float], q: float) -> float:
    t = sorted(values) or [0.0]
    return statistics.median(t) if q == 0.5 else t[min(len(t) - 1, math.ceil(q * len(t)) - 1)]


class BaselineBM25:
    """Plain BM25 (k1 1.2, b 0.75) over name + description, same tokenizer: the figure to beat."""

    def __init__(self, ix: SkillIndex) -> None:
        self.ix = ix
        self.paths = sorted(p for p, d in ix.docs.items() if d.kind in (DocKind.SKILL, DocKind.SHEET))
        postings: dict[str, dict[int, float]] = {}
        lengths = []
        bags = []
        for p in self.paths:
            name = ix.name_of(p).replace("-", " ").replace("_", " ")
            bag = Counter(tokens(name + " " + ix.docs[p].parsed.description()))
            bags.append(bag)
            lengths.append(sum(bag.values()))
        avg = max(sum(lengths) / max(len(lengths), 1), 1.0)
        for i, bag in enumerate(bags):
            norm = 1.2 * (0.25 + 0.75 * lengths[i] / avg)
            for t, tf in bag.items():
                postings.setdefault(t, {})[i] = tf * 2.2 / (tf + norm)
        n = len(self.paths)
        self.idf = {t: math.log(1 + (n - len(d) + 0.5) / (len(d) + 0.5)) for t, d in postings.items()}
        self.postings = postings

    def rank(self, query: str, depth: int = RANK_DEPTH, roots: list[str] | None = None) -> list[str]:
        acc: dict[int, float] = {}
        for t, qtf in Counter(tokens(query)).items():
            for d, s in self.postings.get(t, {}).items():
                acc[d] = acc.get(d, 0.0) + self.idf[t] * s * qtf
        if roots:
            prefixes = tuple(r.rstrip(os.sep) + os.sep for r in roots)
            acc = {d: s for d, s in acc.items() if self.paths[d].startswith(prefixes)}
        best = sorted(acc.items(), key=lambda kv: (-kv[1], kv[0]))[:depth]
        return [self.paths[d] for d, _ in best]


def read_queries(path: str) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("query"), str) or not isinstance(
                    row.get("expected"), str):
                raise ValueError(f"{path}:{n}: expected {{\"query\": str, \"expected\": id}}")
            rows.append(row)
    return rows


def evaluate(ix: SkillIndex, rows: list[dict[str, Any]], baseline: BaselineBM25 | None = None,
             roots: list[str] | None = None) -> tuple[Scores, Scores]:
    """Our router and the baseline over the same rows; ids compared as the index names them."""
    router = router_for(ix)
    router.refresh()  # built before timing: a query's latency is what the server pays per request
    baseline = baseline or BaselineBM25(ix)
    ours, base = Scores(), Scores()
    clock: Callable[[], float] = time.perf_counter
    cpu: Callable[[], float] = time.thread_time  # what the query itself costs, whatever else runs
    for row in rows:
        q = row["query"]
        c0, t0 = cpu(), clock()
        answer = router.route(q, limit=RANK_DEPTH, roots=roots)
        t1, c1 = clock(), cpu()
        ours.add(row["expected"], [ix.doc_id(h.path) for h in answer.hits], (t1 - t0) * 1000, q,
                 (c1 - c0) * 1000)
        c0, t0 = cpu(), clock()
        ranked = baseline.rank(q, roots=roots)
        t1, c1 = clock(), cpu()
        base.add(row["expected"], [ix.doc_id(p) for p in ranked], (t1 - t0) * 1000, q, (c1 - c0) * 1000)
    return ours, base


def decoy_tree(count: int, seed: int = 7) -> str:
    """A folder of `count` generated decoy skills (bench/gentree.py), made once and reused."""
    gentree = _gentree()
    base = Path(tempfile.gettempdir()) / f"skill-lsp-decoys-{count}-{seed}"
    done = base / ".complete"
    if not done.exists():
        if base.exists():
            import shutil

            shutil.rmtree(base)
        gentree.generate(base, skills=count, seed=seed, defect_rate=0.0, prefix="decoy", decoy=True)
        done.write_text("ok\n")
    return str(base)


def _gentree() -> Any:
    """bench/gentree.py of the source checkout: the one generator every benchmark shares."""
    here = Path(__file__).resolve()
    for up in here.parents:
        candidate = up / "bench" / "gentree.py"
        if candidate.exists():
            spec = importlib.util.spec_from_file_location("skill_lsp_bench_gentree", candidate)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # dataclasses look their module up while defining
            spec.loader.exec_module(module)
            return module
    raise RuntimeError("--decoys needs bench/gentree.py from the skill-lsp source tree")


def format_table(rows: list[tuple[str, dict[str, float], dict[str, float]]]) -> str:
    """Our figures, then plain BM25's of the same run. Latency in ms: wall p50/p95, and the CPU
    time p95 of the query thread (what a query costs even on a busy machine)."""
    head = (f"{'set':<34} {'n':>5}  {'top-1':>6} {'rec@3':>6} {'MRR':>6} {'p50ms':>6} {'p95ms':>6} "
            f"{'cpu95':>6}   | BM25 {'top-1':>6} {'rec@3':>6} {'MRR':>6} {'p95ms':>6}")
    out = [head, "-" * len(head)]
    for name, o, b in rows:
        out.append(
            f"{name:<34} {o['n']:>5}  {o['top1']:>6.3f} {o['recall3']:>6.3f} {o['mrr']:>6.3f} "
            f"{o['p50_ms']:>6.2f} {o['p95_ms']:>6.2f} {o['cpu_p95_ms']:>6.2f}   |      {b['top1']:>6.3f} "
            f"{b['recall3']:>6.3f} {b['mrr']:>6.3f} {b['p95_ms']:>6.2f}"
        )
    return "\n".join(out)


def run_eval(args: argparse.Namespace) -> int:
    for r in args.root:
        if not os.path.isdir(r):
            print(f"skill-lsp: {r}: not a folder", file=sys.stderr)
            return 2
    try:
        sets = [(Path(q).stem, read_queries(q)) for q in args.queries]
    except (OSError, ValueError) as exc:
        print(f"skill-lsp: {exc}", file=sys.stderr)
        return 2
    roots = list(args.root)
    if args.decoys:
        try:
            roots.append(decoy_tree(args.decoys))
        except RuntimeError as exc:
            print(f"skill-lsp: {exc}", file=sys.stderr)
            return 2
    t0 = time.perf_counter()
    ix = SkillIndex.from_roots(roots)
    t1 = time.perf_counter()
    router_for(ix).refresh()
    t2 = time.perf_counter()
    baseline = BaselineBM25(ix)
    targets = sum(1 for d in ix.docs.values() if d.kind in (DocKind.SKILL, DocKind.SHEET))
    table = []
    results: dict[str, Any] = {}
    for name, rows in sets:
        ours, base = evaluate(ix, rows, baseline)
        table.append((name, ours.row(), base.row()))
        results[name] = {"ours": ours.row(), "bm25": base.row(),
                         "misses": [{"query": q, "expected": e, "got": g} for q, e, g in ours.misses]}
    if args.json:
        print(json.dumps({"targets": targets, "index_s": t1 - t0, "compile_s": t2 - t1, "sets": results},
                         indent=2))
        return 0
    print(f"{targets} skills and sheets in {len(roots)} root(s); index {t1 - t0:.1f}s, "
          f"router compile {t2 - t1:.2f}s")
    print(format_table(table))
    return 0
