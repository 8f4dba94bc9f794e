#!/usr/bin/env python3
"""Soak: one `skill-lsp serve` connection under a long mixed load, with the tree changing underneath.

    python bench/soak.py [--skills 80] [--docs 200] [--edits 3000] [--queries 1500] [--hovers 500]
                         [--storm-events 1500] [--max-seconds 300] [--seed 0] [--json]

What it does, all over stdio on one connection (raw JSON-RPC frames, no network):

1. generates a tree with bench/gentree.py `generate()` and starts the server on it;
2. opens `--docs` documents (skills and sheets);
3. sends `--edits` incremental edits (didChange, at typing pace: each adds a uniquely named broken
   link, so each changes the diagnostics; every 25th edit of a document restores it whole),
   `--queries` `skills/route` requests and `--hovers` hover and completion requests, interleaved;
4. meanwhile a storm thread writes, rewrites, renames and deletes files and folders in the tree
   (new sheets, new skills, a plugin manifest now and then), `--storm-events` operations;
5. when the load ends and the server is quiet, checks that what it last published for every open
   document equals a cold index of the final tree with the final buffers (`check_path`).

It reports latency percentiles per request type (p50/p95/p99/max, ms), edit-to-diagnostics latency
(which includes the debounce), the server's peak resident memory (VmHWM from /proc, or psutil),
and every error: error answers, unanswered requests, tracebacks and ERROR lines on stderr, bad
frames, stale diagnostics, the exit code. Bounded in count and time (`--max-seconds` stops the
load early and says so). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


gentree = _load("gentree", HERE / "gentree.py")
rawlsp = _load("rawlsp", REPO / "tests" / "fixtures" / "hostile" / "rawlsp.py")


# --- measurements -----------------------------------------------------------------------------
@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=dict)  # kind -> seconds
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    storm: dict[str, int] = field(default_factory=dict)
    rss_samples_kb: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, kind: str, seconds: float) -> None:
        self.latencies.setdefault(kind, []).append(seconds)

    def error(self, kind: str, sample: str = "") -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if sample and len(self.error_samples) < 20:
            self.error_samples.append(f"{kind}: {sample[:300]}")


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"n": len(ordered), "p50_ms": round(pick(0.50) * 1000, 2), "p95_ms": round(pick(0.95) * 1000, 2),
            "p99_ms": round(pick(0.99) * 1000, 2), "max_ms": round(ordered[-1] * 1000, 2),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 2)}


def proc_status_kb(pid: int, key: str) -> int | None:
    """`VmRSS` (now) or `VmHWM` (peak) of a process in kB: /proc on Linux, psutil elsewhere (now only)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    try:
        import psutil  # type: ignore[import-not-found]

        return int(psutil.Process(pid).memory_info().rss // 1024)  # no peak figure: the current one
    except Exception:  # psutil missing or the process gone
        return None


# --- the editor side --------------------------------------------------------------------------
def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


@dataclass
class Buffer:
    path: Path
    uri: str
    original: str
    text: str
    version: int = 1
    edits_since_reset: int = 0
    body_from: int = 0  # first line after the front matter


def body_start(text: str) -> int:
    lines = text.split("\n")
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() in ("---", "..."):
                return i + 1
    return 0


class Editor:
    """Sends edits and requests; tracks what the buffers hold and when diagnostics came back."""

    def __init__(self, server: Any, stats: Stats, rng: random.Random) -> None:
        self.s = server
        self.stats = stats
        self.rng = rng
        self.buffers: dict[str, Buffer] = {}
        self.pending_edits: dict[str, list[tuple[int, float]]] = {}  # uri -> [(version, sent at)]
        self.seen_diag = 0
        self.counter = 0

    def open(self, path: Path) -> None:
        text = path.read_text(encoding="utf-8")
        uri = self.s.open(path, text=text)
        self.buffers[uri] = Buffer(path, uri, text, text, body_from=body_start(text))

    def edit(self) -> None:
        buf = self.buffers[self.rng.choice(list(self.buffers))]
        buf.version += 1
        self.counter += 1
        if buf.edits_since_reset >= 25:
            buf.text, buf.edits_since_reset = buf.original, 0
            change: dict[str, Any] = {"text": buf.text}
        else:
            lines = buf.text.split("\n")
            line = self.rng.randrange(min(buf.body_from, len(lines) - 1), len(lines))
            col = utf16_len(lines[line])
            insert = f" [soak {self.counter}](missing-soak-{self.counter}.md)"
            lines[line] += insert
            buf.text = "\n".join(lines)
            buf.edits_since_reset += 1
            pos = {"line": line, "character": col}
            change = {"range": {"start": pos, "end": pos}, "text": insert}
        self.s.notify("textDocument/didChange", {"textDocument": {"uri": buf.uri, "version": buf.version},
                                                 "contentChanges": [change]})
        self.pending_edits.setdefault(buf.uri, []).append((buf.version, time.perf_counter()))

    def collect_diagnostics(self) -> None:
        """Match publishDiagnostics (uri, version) to the edits they answer."""
        msgs = self.s.messages
        while self.seen_diag < len(msgs):
            m = msgs[self.seen_diag]
            self.seen_diag += 1
            if m.get("method") != "textDocument/publishDiagnostics":
                continue
            p = m["params"]
            version = p.get("version")
            arrived = m.get("_t") or time.perf_counter()
            waiting = self.pending_edits.get(p["uri"])
            if not waiting or version is None:
                continue
            done = [(v, t) for v, t in waiting if v <= version]
            for _v, t in done:
                self.stats.add("edit->diagnostics", arrived - t)
            self.pending_edits[p["uri"]] = [(v, t) for v, t in waiting if v > version]

    def request(self, kind: str, method: str, params: Any, timeout: float) -> dict[str, Any] | None:
        t0 = time.perf_counter()
        try:
            answer = self.s.call(method, params, timeout=timeout)
        except AssertionError as exc:
            self.stats.error(f"{kind}: no answer within {timeout:.0f} s", str(exc).split("\n")[0])
            return None
        self.stats.add(kind, time.perf_counter() - t0)
        if "error" in answer:
            self.stats.error(f"{kind}: error answer", json.dumps(answer["error"]))
        return answer

    def random_position(self) -> tuple[str, dict[str, int]]:
        buf = self.buffers[self.rng.choice(list(self.buffers))]
        lines = buf.text.split("\n")
        line = self.rng.randrange(len(lines))
        links = [m.start() + 1 for m in re.finditer(r"\]\(", lines[line])]
        col = self.rng.choice(links) + 2 if links and self.rng.random() < 0.7 else self.rng.randrange(len(lines[line]) + 1)
        return buf.uri, {"line": line, "character": utf16_len(lines[line][:col])}


# --- the storm --------------------------------------------------------------------------------
class Storm(threading.Thread):
    """Writes, rewrites, renames and deletes files under the tree: a busy `git checkout` or build."""

    def __init__(self, root: Path, events: int, interval_s: float, seed: int, stats: Stats,
                 protected: set[Path]) -> None:
        super().__init__(daemon=True, name="storm")
        self.root = root
        self.events = events
        self.interval_s = interval_s
        self.rng = random.Random(seed + 1)
        self.stats = stats
        self.stop = threading.Event()
        self.protected = protected
        self.skill_dirs = sorted(p.parent for p in root.rglob("SKILL.md"))
        self.manifests = sorted(root.rglob(".claude-plugin/plugin.json"))
        self.created: list[Path] = []
        self.new_skills: list[Path] = []
        self.sheets = sorted(p for d in self.skill_dirs for p in d.glob("*.md")
                             if p.name != "SKILL.md" and p not in protected)
        self.manifest_touches = 0

    def count(self, what: str) -> None:
        self.stats.storm[what] = self.stats.storm.get(what, 0) + 1

    def run(self) -> None:
        for i in range(self.events):
            if self.stop.is_set():
                break
            try:
                self.step(i)
            except OSError as exc:  # racing ourselves is fine; the server is what is under test
                self.count("oserror")
                if len(self.stats.notes) < 5:
                    self.stats.notes.append(f"storm: {exc}")
            self.stop.wait(self.interval_s)

    def step(self, i: int) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.35 or not self.created:
            d = rng.choice(self.skill_dirs)
            p = d / f"storm-{i}.md"
            p.write_text(f"# Storm {i}\n\nSee [the skill](SKILL.md) and [gone](storm-{i - 1}.md).\n", encoding="utf-8")
            self.created.append(p)
            self.count("create sheet")
        elif roll < 0.55:
            p = rng.choice(self.created)
            if p.exists():
                p.write_text(p.read_text(encoding="utf-8") + f"\n-> storm-edit-{i}\n", encoding="utf-8")
                self.count("modify sheet")
        elif roll < 0.75:
            p = self.created.pop(rng.randrange(len(self.created)))
            if p.exists():
                p.unlink()
                self.count("delete sheet")
        elif roll < 0.83:
            p = rng.choice(self.created)
            if p.exists():
                q = p.with_name(f"moved-{i}.md")
                p.rename(q)
                self.created.remove(p)
                self.created.append(q)
                self.count("rename sheet")
        elif roll < 0.90:
            parent = rng.choice(self.skill_dirs).parent
            d = parent / f"storm-skill-{i}"
            d.mkdir()
            (d / "SKILL.md").write_text(f"---\nname: storm-skill-{i}\ndescription: Use when storm {i}.\n---\n"
                                        f"# Storm skill\n\n[notes](notes.md)\n", encoding="utf-8")
            (d / "notes.md").write_text("# Notes\n", encoding="utf-8")
            self.new_skills.append(d)
            self.count("create skill folder")
        elif roll < 0.96:
            if self.new_skills:
                shutil.rmtree(self.new_skills.pop(rng.randrange(len(self.new_skills))))
                self.count("delete skill folder")
        elif roll < 0.99 and self.sheets:
            p = rng.choice(self.sheets)  # an existing sheet rewritten with the same bytes (a touch)
            p.write_bytes(p.read_bytes())
            self.count("touch real sheet")
        elif self.manifests and self.manifest_touches < 3:
            p = rng.choice(self.manifests)  # plugin layout: the server re-indexes the root
            p.write_text(p.read_text(encoding="utf-8"), encoding="utf-8")
            self.manifest_touches += 1
            self.count("touch manifest")


# --- the run ------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, Any]:
    stats = Stats()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="skill-lsp-soak-"))
    try:
        root = work / "tree"
        t0 = time.perf_counter()
        tree = gentree.generate(root, skills=args.skills, seed=args.seed, defect_rate=0.03)
        root = root.resolve()
        gen_s = time.perf_counter() - t0
        docs = sorted(p for p in root.rglob("*.md") if "skills" in p.parts)
        chosen = sorted(rng.sample(docs, min(args.docs, len(docs))))
        queries = [q.query for q in tree.queries] or ["how do I start"]

        server = rawlsp.RawLsp(cwd=str(root))
        original_on_message = server._on_message

        def stamped(msg: dict[str, Any]) -> None:  # arrival time, for edit->diagnostics
            msg["_t"] = time.perf_counter()
            original_on_message(msg)

        server._on_message = stamped
        pid = server.proc.pid
        result: dict[str, Any] = {}
        try:
            t0 = time.perf_counter()
            server.initialize([root], capabilities={})
            ready_s = time.perf_counter() - t0
            editor = Editor(server, stats, rng)
            t0 = time.perf_counter()
            for p in chosen:
                editor.open(p)
            editor.request("first request after opening", "skills/list", {}, args.timeout)
            open_s = time.perf_counter() - t0

            storm = Storm(root, args.storm_events, args.storm_interval_ms / 1000, args.seed, stats, set(chosen))
            storm.start()
            plan = (["edit"] * args.edits + ["route"] * args.queries + ["hover"] * args.hovers
                    + ["completion"] * args.hovers + ["lens"] * (args.hovers // 2) + ["calls"] * (args.hovers // 2))
            rng.shuffle(plan)
            deadline = time.monotonic() + args.max_seconds
            load_t0 = time.perf_counter()
            done = 0
            for step in plan:
                if time.monotonic() > deadline:
                    stats.notes.append(f"stopped by --max-seconds after {done} of {len(plan)} steps")
                    break
                if step == "edit":
                    editor.edit()
                    time.sleep(args.edit_interval_ms / 1000)
                elif step == "route":
                    editor.request("skills/route", "skills/route",
                                   {"query": rng.choice(queries), "limit": 5}, args.timeout)
                elif step == "lens":
                    uri, _pos = editor.random_position()
                    editor.request("textDocument/codeLens", "textDocument/codeLens",
                                   {"textDocument": {"uri": uri}}, args.timeout)
                elif step == "calls":
                    # what "Show Call Hierarchy" sends: prepare, then the callers of what it gave
                    uri, pos = editor.random_position()
                    answer = editor.request("textDocument/prepareCallHierarchy", "textDocument/prepareCallHierarchy",
                                            {"textDocument": {"uri": uri}, "position": pos}, args.timeout)
                    for item in ((answer or {}).get("result") or [])[:1]:
                        editor.request("callHierarchy/incomingCalls", "callHierarchy/incomingCalls",
                                       {"item": item}, args.timeout)
                else:
                    uri, pos = editor.random_position()
                    method = "textDocument/hover" if step == "hover" else "textDocument/completion"
                    editor.request(method, method, {"textDocument": {"uri": uri}, "position": pos}, args.timeout)
                done += 1
                if done % 50 == 0:
                    editor.collect_diagnostics()
                    rss = proc_status_kb(pid, "VmRSS")
                    if rss:
                        stats.rss_samples_kb.append(rss)
            load_s = time.perf_counter() - load_t0
            storm.stop.set()
            storm.join(30)

            # settle: the last debounce, the watcher's last batch, a rebuild after a manifest touch
            settle_t0 = time.perf_counter()
            quiet_since, last_len = time.monotonic(), len(server.messages)
            while time.monotonic() - quiet_since < args.quiet_s and time.perf_counter() - settle_t0 < 120:
                time.sleep(0.2)
                if len(server.messages) != last_len:
                    last_len, quiet_since = len(server.messages), time.monotonic()
            editor.request("skills/list after the storm", "skills/list", {}, args.timeout)
            editor.collect_diagnostics()
            unanswered_edits = sum(len(v) for v in editor.pending_edits.values())

            stale = final_check(root, server, editor, stats)
            peak_kb = proc_status_kb(pid, "VmHWM")
            code = server.shutdown(60)
            stderr = server.stderr_text()
            tracebacks = stderr.count("Traceback")
            error_lines = len(re.findall(r" ERROR ", stderr))
            if tracebacks:
                stats.error("tracebacks on stderr", stderr[stderr.index("Traceback"):][:600])
            if error_lines:
                stats.error("ERROR log lines", next(line for line in stderr.splitlines() if " ERROR " in line))
            if server.bad_frames:
                stats.error("frames that were not JSON", repr(server.bad_frames[0][:200]))
            if code != 0:
                stats.error("exit code", str(code))
            result = {
                "command": "python bench/soak.py " + " ".join(sys.argv[1:]),
                "tree": {**tree.summary(), "generate_s": round(gen_s, 2)},
                "opened_docs": len(chosen),
                "initialize_to_ready_s": round(ready_s, 2),
                "open_docs_s": round(open_s, 2),
                "load": {"steps": done, "of": len(plan), "seconds": round(load_s, 2),
                         "edits": sum(1 for s in plan[:done] if s == "edit"),
                         "routes": sum(1 for s in plan[:done] if s == "route"),
                         "hovers": sum(1 for s in plan[:done] if s == "hover"),
                         "completions": sum(1 for s in plan[:done] if s == "completion"),
                         "lenses": sum(1 for s in plan[:done] if s == "lens"),
                         "call hierarchies": sum(1 for s in plan[:done] if s == "calls")},
                "storm": dict(sorted(stats.storm.items())),
                "latency": {k: percentiles(v) for k, v in sorted(stats.latencies.items())},
                "edits_without_diagnostics": unanswered_edits,
                "stale_documents_after_settle": stale,
                "server_peak_rss_mb": round(peak_kb / 1024, 1) if peak_kb else None,
                "server_rss_mb_during_load": {
                    "min": round(min(stats.rss_samples_kb) / 1024, 1), "max": round(max(stats.rss_samples_kb) / 1024, 1)}
                if stats.rss_samples_kb else None,
                "exit_code": code,
                "errors": dict(sorted(stats.errors.items())),
                "errors_total": sum(stats.errors.values()),
                "error_samples": stats.error_samples,
                "notes": stats.notes,
            }
        finally:
            server.close()
        return result
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"tree kept in {work}", file=sys.stderr)


def final_check(root: Path, server: Any, editor: Editor, stats: Stats) -> int:
    """What the server last published per open document == a cold index of the final state."""
    sys.path.insert(0, str(REPO / "lsp"))
    from skill_lsp.index import SkillIndex
    from skill_lsp.rules import check_path

    overlay = {str(b.path): b.text for b in editor.buffers.values()}
    ix = SkillIndex()
    ix.add_root(str(root), overlay)
    last: dict[str, list[tuple[str, int]]] = {}
    for m in server.messages:
        if m.get("method") == "textDocument/publishDiagnostics":
            p = m["params"]
            last[p["uri"]] = sorted((str(d.get("code")), d["range"]["start"]["line"]) for d in p["diagnostics"])
    stale = 0
    for b in editor.buffers.values():
        want = sorted((f.code, f.span.start_line) for f in check_path(ix, str(b.path)))
        got = last.get(b.uri, [])
        if got != want:
            stale += 1
            if stale <= 3:
                only_server = [x for x in got if x not in want][:4]
                only_cold = [x for x in want if x not in got][:4]
                stats.error("stale diagnostics after settle",
                            f"{b.path.relative_to(root)}: server-only {only_server}, cold-only {only_cold}")
    return stale


def print_report(r: dict[str, Any]) -> None:
    print(f"command: {r['command']}")
    t = r["tree"]
    print(f"tree: {t['files']} files, {t['skills']} skills, {t['sheets']} sheets, {t['plugins']} plugins "
          f"(generated in {t['generate_s']} s); {r['opened_docs']} documents open")
    print(f"initialize -> ready {r['initialize_to_ready_s']} s; opening the documents {r['open_docs_s']} s")
    ld = r["load"]
    print(f"load: {ld['steps']}/{ld['of']} steps in {ld['seconds']} s: {ld['edits']} edits, {ld['routes']} routes, "
          f"{ld['hovers']} hovers, {ld['completions']} completions, {ld['lenses']} code lenses, "
          f"{ld['call hierarchies']} call hierarchies")
    print("storm: " + ", ".join(f"{k} {v}" for k, v in r["storm"].items()))
    print(f"{'request':32} {'n':>6} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} {'max ms':>9}")
    for kind, p in r["latency"].items():
        if p:
            print(f"{kind:32} {p['n']:>6} {p['p50_ms']:>9} {p['p95_ms']:>9} {p['p99_ms']:>9} {p['max_ms']:>9}")
    print(f"server peak RSS: {r['server_peak_rss_mb']} MB (during load {r['server_rss_mb_during_load']})")
    print(f"edits never answered by diagnostics: {r['edits_without_diagnostics']}; "
          f"documents whose last diagnostics differ from a cold index: {r['stale_documents_after_settle']}")
    print(f"exit code {r['exit_code']}; errors: {r['errors_total']} {r['errors']}")
    for s in r["error_samples"]:
        print(f"  - {s}")
    for n in r["notes"]:
        print(f"  note: {n}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skills", type=int, default=80, help="skills in the generated tree (default 80: ~330 files)")
    ap.add_argument("--docs", type=int, default=200, help="documents to open")
    ap.add_argument("--edits", type=int, default=3000)
    ap.add_argument("--queries", type=int, default=1500, help="skills/route requests")
    ap.add_argument("--hovers", type=int, default=400, help="hover requests, and as many completion requests")
    ap.add_argument("--storm-events", type=int, default=1500, help="file operations under the tree")
    ap.add_argument("--storm-interval-ms", type=float, default=20.0)
    ap.add_argument("--edit-interval-ms", type=float, default=4.0, help="pause after each edit (typing pace)")
    ap.add_argument("--max-seconds", type=float, default=300.0, help="stop the load after this long")
    ap.add_argument("--timeout", type=float, default=60.0, help="a request unanswered this long is an error")
    ap.add_argument("--quiet-s", type=float, default=3.0, help="settled when nothing arrived for this long")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the generated tree")
    args = ap.parse_args(argv)
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
