#!/usr/bin/env python3
"""The performance suite of DESIGN section 6: every figure beside its baseline from the same run.

    python -m bench [--sizes 100,1000,10000] [--quick] [--shared PATH] [--out FILE]

For each size it generates (once, cached under /tmp/skill-lsp-bench/<size>-<seed>) a tree with
bench/gentree.py and measures:

- reading the tree's bytes (the baseline), then a cold index + full lint in a fresh interpreter
  (`SkillIndex.from_roots` + `rules.check_all`), and the CLI `skill-lsp check` as a subprocess;
- `skillcheck` (PyPI, installed into its own venv) on the same tree: time ratio and findings;
- the language server over stdio (`python -m skill_lsp.cli serve`, our own JSON-RPC client): time
  to the first index, a keystroke in an open SKILL.md to its new publishDiagnostics (debounce 0,
  so the figure is "after the debounce"), renaming a sheet that 100 files link to until all their
  diagnostics are updated, `skills/route` round trips, and the server's peak resident memory;
- `skills/route` in-process (agent_api.route_request) and the child's peak resident memory.

Runs one thing at a time (the machine has two cores); every wait has a time limit, and a step
that hits it is reported as a timeout rather than stopping the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE = Path("/tmp/skill-lsp-bench")
SKILLCHECK_VENV = Path("/tmp/skillcheck-venv")
SKILLCHECK_SPEC = "skillcheck"
HUB_REFERRERS = 100
# Which of our codes an injected defect of each kind must raise (bench/gentree.py, "Injected defects").
EXPECTED_CODE = {"dead_route": "RT001", "broken_link": "LK001", "broken_anchor": "LK003",
                 "missing_use_when": "FM007", "yaml_colon": "FM002", "orphan_sheet": "RT004",
                 "name_mismatch": "FM005"}


# --- small helpers ------------------------------------------------------------------------------
def pct(values: list[float], p: float) -> float | None:
    """Percentile by linear interpolation (p in 0..100); None for no values."""
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def ms_stats(seconds: list[float]) -> dict[str, Any]:
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50_ms": _r(pct(ms, 50)), "p95_ms": _r(pct(ms, 95)), "max_ms": _r(max(ms) if ms else None),
            "mean_ms": _r(statistics.fmean(ms) if ms else None)}


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(x, nd)


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_rss(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Like run_timed, plus the child's own peak RSS via wait4 (not a max over all children)."""
    t0 = time.perf_counter()
    with open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(cmd, stdin=devnull, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    chunks: dict[str, list[bytes]] = {"out": [], "err": []}

    def pump(stream: Any, key: str) -> None:
        for block in iter(lambda: stream.read(65536), b""):
            chunks[key].append(block)

    threads = [threading.Thread(target=pump, args=(proc.stdout, "out"), daemon=True),
               threading.Thread(target=pump, args=(proc.stderr, "err"), daemon=True)]
    for t in threads:
        t.start()
    deadline = t0 + timeout
    status, usage = 0, None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            for t in threads:
                t.join(5)
            return {"timeout": True, "seconds": round(time.perf_counter() - t0, 3), "cmd": cmd}
        time.sleep(0.005)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in threads:
        t.join(10)
    return {"timeout": False, "seconds": round(wall, 3), "rc": proc.returncode,
            "stdout": b"".join(chunks["out"]).decode("utf-8", "replace"),
            "stderr": b"".join(chunks["err"]).decode("utf-8", "replace"),
            "maxrss_mb": round(usage.ru_maxrss / 1024, 1) if usage else None, "cmd": cmd}


def last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line in the output:\n" + text[-2000:])


# --- trees --------------------------------------------------------------------------------------
def ensure_tree(size: int, seed: int, cache: Path) -> tuple[Path, dict[str, Any]]:
    """The generated tree of `size` skills, made once and kept; meta.json is written last, so a
    folder without it is a half-written tree and is made again."""
    folder = cache / f"{size}-{seed}"
    meta_path = folder / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta["cached"] = True
        return folder / "tree", meta
    if folder.exists():
        shutil.rmtree(folder)
    sys.path.insert(0, str(HERE))
    try:
        from gentree import generate
    finally:
        sys.path.remove(str(HERE))
    log(f"generating a tree of {size} skills into {folder} (kept for later runs)")
    t0 = time.perf_counter()
    stats = generate(folder / "tree", skills=size, seed=seed)
    meta = {"summary": stats.summary(), "injected": [asdict(i) for i in stats.injected],
            "queries": [asdict(q) for q in stats.queries], "gen_s": round(time.perf_counter() - t0, 2)}
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    meta["cached"] = False
    return folder / "tree", meta


def work_copy(tree: Path, dest: Path) -> Path:
    """A hard-linked copy of a cached tree that the server measurements may change.

    Every change to it must replace a file (write elsewhere, then os.replace) or rename one;
    writing into a file in place would change the cached tree through the shared inode.
    """
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", str(tree), str(dest)], check=True)
    return dest


def replace_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".bench-tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def tree_files(root: Path) -> list[str]:
    out = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        out.extend(os.path.join(d, f) for f in sorted(files) if f.endswith((".md", ".json", ".MD")))
    return out


# --- children: each figure from a fresh interpreter ------------------------------------------
def child_read(root: str) -> dict[str, Any]:
    """The baseline: walk the tree and read (and decode) every Markdown and JSON file."""
    t0 = time.perf_counter()
    files = tree_files(Path(root))
    nbytes = 0
    for f in files:
        with open(f, "rb") as fh:
            data = fh.read()
        nbytes += len(data)
        data.decode("utf-8", "replace")
    return {"files": len(files), "bytes": nbytes, "seconds": time.perf_counter() - t0}


def child_cold(root: str, queries: str | None, nroutes: int) -> dict[str, Any]:
    """Cold index + full lint in this (fresh) interpreter, then in-process routing."""
    t0 = time.perf_counter()
    from skill_lsp import agent_api
    from skill_lsp.index import SkillIndex
    from skill_lsp.model import Severity
    from skill_lsp.rules import check_all
    t1, c1 = time.perf_counter(), time.process_time()
    ix = SkillIndex.from_roots([root])
    t2, c2 = time.perf_counter(), time.process_time()
    findings = check_all(ix)
    t3, c3 = time.perf_counter(), time.process_time()
    rss_lint = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # parse workers, if the index used any
    out: dict[str, Any] = {
        "import_s": t1 - t0, "index_s": t2 - t1, "lint_s": t3 - t2,
        "index_cpu_s": c2 - c1, "lint_cpu_s": c3 - c2, "workers_cpu_s": kids.ru_utime + kids.ru_stime,
        "docs": len(ix.docs),
        "skills": len(ix.skills), "findings": len(findings),
        "by_code": dict(Counter(f.code for f in findings).most_common()),
        "found": sorted({(os.path.relpath(f.path, root), f.code) for f in findings
                         if f.severity in (Severity.ERROR, Severity.WARNING)}),
        "maxrss_mb_after_lint": rss_lint,
    }
    if queries:
        lines = Path(queries).read_text(encoding="utf-8").splitlines()
        qs = [json.loads(line)["query"] for line in lines if line.strip()]
        qs = (qs * (nroutes // max(1, len(qs)) + 1))[: nroutes + 1] if qs else []
        if qs:
            t = time.perf_counter()
            agent_api.route_request(ix, {"query": qs[0], "limit": 5})
            out["route_first_s"] = time.perf_counter() - t  # builds the router
            times = []
            for q in qs[1:]:
                t = time.perf_counter()
                agent_api.route_request(ix, {"query": q, "limit": 5})
                times.append(time.perf_counter() - t)
            out["route"] = ms_stats(times)
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def child_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=("read", "cold"))
    ap.add_argument("root")
    ap.add_argument("--queries")
    ap.add_argument("--routes", type=int, default=200)
    a = ap.parse_args(argv)
    result = child_read(a.root) if a.what == "read" else child_cold(a.root, a.queries, a.routes)
    print(json.dumps(result))
    return 0


def in_child(what: str, root: Path, timeout: float, *extra: str, env: dict[str, str] | None = None
             ) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", what, str(root), *extra]
    r = run_rss(cmd, timeout, env=env)
    if r["timeout"]:
        return {"timeout": True, "seconds": r["seconds"]}
    if r["rc"] != 0:
        return {"error": r["stderr"][-3000:]}
    out = last_json(r["stdout"])
    out["wall_s"] = r["seconds"]
    out["maxrss_mb_wait4"] = r["maxrss_mb"]
    return out


# --- skillcheck -----------------------------------------------------------------------------------
def skillcheck_bin() -> Path | None:
    exe = SKILLCHECK_VENV / "bin" / "skillcheck"
    if exe.exists():
        return exe
    log(f"installing {SKILLCHECK_SPEC} into {SKILLCHECK_VENV}")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(SKILLCHECK_VENV)], check=True, capture_output=True)
        subprocess.run([str(SKILLCHECK_VENV / "bin" / "pip"), "install", "-q", SKILLCHECK_SPEC], check=True,
                       capture_output=True, timeout=600)
    except (subprocess.SubprocessError, OSError) as exc:
        log(f"skillcheck unavailable: {exc}")
        return None
    return exe if exe.exists() else None


def skillcheck_version(exe: Path) -> str:
    r = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
    return (r.stdout or r.stderr).strip()


def run_skillcheck(exe: Path, root: Path, timeout: float) -> dict[str, Any]:
    """skillcheck scans every SKILL.md under the folder (it does not read sheets on their own)."""
    r = run_rss([str(exe), str(root), "--format", "json", "--no-color"], timeout)
    if r["timeout"]:
        return {"timeout": True, "seconds": r["seconds"]}
    try:
        data = json.loads(r["stdout"])
    except json.JSONDecodeError:
        return {"error": (r["stderr"] or r["stdout"])[-2000:], "seconds": r["seconds"]}
    sev: Counter[str] = Counter()
    flagged: set[str] = set()
    for res in data.get("results", []):
        for d in res.get("diagnostics", []):
            sev[d.get("severity", "?")] += 1
            if d.get("severity") in ("error", "warning"):
                flagged.add(os.path.relpath(res["path"], root))
    return {"seconds": r["seconds"], "rc": r["rc"], "maxrss_mb": r["maxrss_mb"],
            "files_checked": data.get("files_checked"), "findings": sum(sev.values()),
            "findings_error_warning": sev["error"] + sev["warning"], "by_severity": dict(sev),
            "flagged_files": sorted(flagged)}


def run_cli_check(root: Path, timeout: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    exe = Path(sys.executable).with_name("skill-lsp")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "skill_lsp.cli"]
    r = run_rss([*cmd, "check", str(root), "--format", "json"], timeout, env=env)
    if r["timeout"]:
        return {"timeout": True, "seconds": r["seconds"]}
    try:
        items = json.loads(r["stdout"])
    except json.JSONDecodeError:
        return {"error": r["stderr"][-2000:], "seconds": r["seconds"]}
    return {"seconds": r["seconds"], "rc": r["rc"], "maxrss_mb": r["maxrss_mb"], "findings": len(items),
            "by_severity": dict(Counter(i.get("severity", "?") for i in items))}


def recall(meta: dict[str, Any], ours: list[list[str]] | None, theirs: list[str] | None) -> dict[str, Any]:
    """Injected defects found: ours by the expected code on the defect's file, skillcheck by any
    error or warning on that file (its rules differ from ours); plus findings on other files."""
    injected = meta.get("injected", [])
    out: dict[str, Any] = {"injected": len(injected)}
    if ours is not None:
        found = {tuple(x) for x in ours}
        hit = [d for d in injected if (d["path"], EXPECTED_CODE.get(d["kind"], "?")) in found]
        defect_files = {d["path"] for d in injected}
        out["ours_found"] = len(hit)
        out["ours_missed"] = sorted(f"{d['kind']}:{d['path']}" for d in injected if d not in hit)[:20]
        out["ours_other_findings"] = sum(1 for p, _c in found if p not in defect_files)
    if theirs is not None:
        flagged = set(theirs)
        out["skillcheck_flagged_defect_files"] = sum(1 for d in injected if d["path"] in flagged)
        out["skillcheck_defects_in_skill_md"] = sum(1 for d in injected if d["path"].endswith("SKILL.md"))
        out["skillcheck_flagged_clean_files"] = len(flagged - {d["path"] for d in injected})
    return out


# --- a JSON-RPC client of the real server -------------------------------------------------------
class LspClient:
    """Just enough LSP over stdio: Content-Length framing, requests, and a log of notifications
    with the moment each arrived (perf_counter, taken as soon as its bytes are read)."""

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.seq = 0
        self.pending: dict[int, asyncio.Future] = {}
        self.diags: dict[str, list[tuple[float, int | None, list[dict]]]] = {}
        self.statuses: list[tuple[float, dict]] = []
        self.changed = asyncio.Event()
        self.reader: asyncio.Task | None = None

    async def start(self, cmd: list[str], stderr_path: Path, env: dict[str, str] | None = None) -> None:
        self._stderr = open(stderr_path, "wb")  # noqa: SIM115 - lives as long as the server
        self.proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=self._stderr,
            limit=1 << 24, env={**(env or os.environ), "PYTHONUNBUFFERED": "1"})
        self.reader = asyncio.create_task(self._read())

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        out = self.proc.stdout
        while True:
            try:
                header = await out.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            length = 0
            for line in header.decode("ascii").split("\r\n"):
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            body = await out.readexactly(length)
            now = time.perf_counter()
            msg = json.loads(body)
            if "id" in msg and "method" in msg:  # a request from the server: answer it plainly
                result: Any = [None] * len(msg.get("params", {}).get("items", [])) \
                    if msg["method"] == "workspace/configuration" else None
                self._send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
            elif "id" in msg:
                fut = self.pending.pop(msg["id"], None)
                if fut is not None and not fut.done():
                    fut.set_result((now, msg))
            elif msg.get("method") == "textDocument/publishDiagnostics":
                p = msg["params"]
                self.diags.setdefault(p["uri"], []).append((now, p.get("version"), p["diagnostics"]))
            elif msg.get("method") == "skills/status":
                self.statuses.append((now, msg["params"]))
            self.changed.set()
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError("the server closed its output"))

    def _send(self, msg: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        body = json.dumps(msg).encode("utf-8")
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def request(self, method: str, params: Any, timeout: float = 60) -> tuple[float, Any]:
        """(seconds from send to answer, result)."""
        self.seq += 1
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.seq] = fut
        t0 = time.perf_counter()
        self._send({"jsonrpc": "2.0", "id": self.seq, "method": method, "params": params})
        assert self.proc is not None and self.proc.stdin is not None
        await self.proc.stdin.drain()
        now, msg = await asyncio.wait_for(fut, timeout)
        if "error" in msg:
            raise RuntimeError(f"{method}: {msg['error']}")
        return now - t0, msg.get("result")

    async def notify(self, method: str, params: Any) -> float:
        """Send a notification; returns the moment it was written."""
        self._send({"jsonrpc": "2.0", "method": method, "params": params})
        t = time.perf_counter()
        assert self.proc is not None and self.proc.stdin is not None
        await self.proc.stdin.drain()
        return t

    async def until(self, predicate: Any, timeout: float) -> Any:
        """Wait until predicate() is truthy (checked after every message); None on timeout."""
        deadline = time.perf_counter() + timeout
        while True:
            value = predicate()
            if value:
                return value
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)

    def publish_after(self, uri: str, t0: float, version: int | None = None) -> tuple[float, list[dict]] | None:
        for t, v, diags in self.diags.get(uri, ()):
            if t >= t0 and (version is None or v == version):
                return t, diags
        return None

    async def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(Exception):
            await self.request("shutdown", None, timeout=20)
            await self.notify("exit", None)
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if self.reader is not None:
            self.reader.cancel()
        self._stderr.close()


def proc_memory(pid: int) -> dict[str, float]:
    out = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def uri(path: Path | str) -> str:
    return Path(path).as_uri()


def line_col(text: str, offset: int) -> dict[str, int]:
    """LSP position (UTF-16 columns) of a string offset."""
    line = text.count("\n", 0, offset)
    start = text.rfind("\n", 0, offset) + 1
    return {"line": line, "character": len(text[start:offset].encode("utf-16-le")) // 2}


def pick_leaf_skill(tree: Path) -> Path:
    """An ordinary skill (not a router) of a plugin in the middle of the tree, with a sheet link."""
    plugins = sorted(p for p in (tree / "plugins").iterdir() if p.is_dir() and "skill-index" not in p.name)
    for plugin in plugins[len(plugins) // 2:] + plugins:
        for skill in sorted((plugin / "skills").iterdir()):
            f = skill / "SKILL.md"
            if not skill.name.startswith("using-") and f.exists() and re.search(r"\]\([\w.-]+\.md\)", f.read_text()):
                return f
    raise RuntimeError("no ordinary skill with a sheet link")


def top_router(tree: Path) -> Path | None:
    found = sorted(tree.glob("plugins/*-skill-index/skills/using-*/SKILL.md"))
    return found[0] if found else None


async def open_doc(c: LspClient, path: Path, text: str) -> str:
    """Open `path` with `text` and wait for its first diagnostics; its URI."""
    u = uri(path)
    t0 = await c.notify("textDocument/didOpen", {"textDocument": {
        "uri": u, "languageId": "markdown", "version": 1, "text": text}})
    await c.until(lambda: c.publish_after(u, t0), 10)
    return u


async def keystrokes(c: LspClient, path: Path, pattern: str, n: int, timeout: float,
                     while_pending: asyncio.Future | None = None) -> dict[str, Any]:
    """Open `path`, then type one character into the target the regex `pattern` finds (breaking
    it) and delete it again, n times in all: every keystroke changes the file's diagnostics, so
    every one must be answered by a publishDiagnostics of its version. With `while_pending`, only
    as long as that request is not answered (at most n)."""
    text = path.read_text(encoding="utf-8")
    m = re.search(pattern, text, re.M)
    if m is None:
        return {"error": f"nothing to edit in {path}"}
    at = line_col(text, m.start(1))
    u = await open_doc(c, path, text)
    times, missed = [], 0
    for i in range(n):
        if while_pending is not None and while_pending.done():
            n = i
            break
        version = i + 2
        if i % 2 == 0:
            change = {"range": {"start": at, "end": at}, "text": "q"}
        else:
            end = {"line": at["line"], "character": at["character"] + 1}
            change = {"range": {"start": at, "end": end}, "text": ""}
        t0 = await c.notify("textDocument/didChange", {
            "textDocument": {"uri": u, "version": version}, "contentChanges": [change]})
        got = await c.until(lambda v=version, t=t0: c.publish_after(u, t, v), timeout)
        if got is None:
            missed += 1
            continue
        times.append(got[0] - t0)
    if n % 2:  # leave the buffer as it was on disk
        end = {"line": at["line"], "character": at["character"] + 1}
        await c.notify("textDocument/didChange", {"textDocument": {"uri": u, "version": n + 2}, "contentChanges": [
            {"range": {"start": at, "end": end}, "text": ""}]})
    await c.notify("textDocument/didClose", {"textDocument": {"uri": u}})
    return {**ms_stats(times), "missed": missed, "file": str(path)}


async def routes_after_edits(c: LspClient, path: Path, queries: list[str], n: int) -> dict[str, Any]:
    """An agent routing while someone types: each route is sent right after a keystroke's
    diagnostics arrive, so the router has that edit to take in first."""
    text = path.read_text(encoding="utf-8")
    u = await open_doc(c, path, text)
    times = []
    for i in range(n):
        version = i + 2
        t0 = await c.notify("textDocument/didChange", {"textDocument": {"uri": u, "version": version},
                                                       "contentChanges": [{"text": text + f"\nEdit {i}.\n"}]})
        await c.until(lambda v=version, t=t0: c.publish_after(u, t, v), 10)
        dt, _ = await c.request("skills/route", {"query": queries[i % len(queries)], "limit": 5})
        times.append(dt)
    await c.notify("textDocument/didChange", {"textDocument": {"uri": u, "version": n + 2},
                                              "contentChanges": [{"text": text}]})
    await c.notify("textDocument/didClose", {"textDocument": {"uri": u}})
    return ms_stats(times)


def plant_hub(tree: Path, n: int) -> tuple[Path, list[Path]]:
    """A sheet, `bench-hub.md` beside an ordinary skill, linked from its own SKILL.md and from n
    other documents spread over the tree (one per skill, skills of many plugins)."""
    home = pick_leaf_skill(tree)
    hub = home.parent / "bench-hub.md"
    hub.write_text("# Bench hub\n\nShared notes that many skills link to.\n\n## Details\n\nMore.\n", encoding="utf-8")
    replace_text(home, home.read_text(encoding="utf-8") + "\n- [bench-hub.md](bench-hub.md): shared notes.\n")
    skills = sorted(p for p in tree.glob("plugins/*/skills/*/SKILL.md") if p != home)
    step = max(1, len(skills) // n)
    referrers = []
    for f in skills[::step][:n]:
        # a sheet of that skill when it has one, so SKILL.md and sheets both take part
        sheets = sorted(p for p in f.parent.glob("*.md") if p.name != "SKILL.md")
        target = sheets[0] if sheets and len(referrers) % 2 else f
        rel = os.path.relpath(hub, target.parent)
        replace_text(target, target.read_text(encoding="utf-8") + f"\nSee also [the shared notes]({rel}).\n")
        referrers.append(target)
    return hub, referrers


async def rename_wave(c: LspClient, referrers: list[Path], old: Path, new: Path, broken: bool,
                      timeout: float, notify: bool) -> dict[str, Any]:
    """os.rename(old, new), optionally followed by didChangeWatchedFiles; seconds until every
    referrer has a publishDiagnostics (sent after the rename) with (broken) or without an LK001."""
    uris = [uri(p) for p in referrers]
    t0 = time.perf_counter()
    os.rename(old, new)
    if notify:
        await c.notify("workspace/didChangeWatchedFiles", {"changes": [
            {"uri": uri(old), "type": 3}, {"uri": uri(new), "type": 1}]})

    def state() -> tuple[int, float]:
        done, last = 0, 0.0
        for u in uris:
            for t, _v, diags in reversed(c.diags.get(u, ())):
                if t < t0:
                    break
                hub_broken = any(d.get("code") == "LK001" and "bench-hub" in d.get("message", "") for d in diags)
                if hub_broken == broken:
                    done += 1
                    last = max(last, t)
                    break
        return done, last

    await c.until(lambda: state()[0] == len(uris), timeout)
    done, last = state()
    return {"seconds": round(last - t0, 3) if done == len(uris) else None, "updated": done, "of": len(uris)}


def share_parse_cache(tree: Path, copy: Path, folder: Path) -> None:
    """The parse cache is kept per root path and keyed by content: the tree's file serves its
    copy as well (the copy's changed files are simply misses)."""
    try:
        from skill_lsp.cache import ParseCache
    except ImportError:
        return
    src = ParseCache.for_root(str(tree), directory=folder).path
    dst = ParseCache.for_root(str(copy), directory=folder).path
    if src is not None and dst is not None and src.exists():
        shutil.copyfile(src, dst)


async def server_suite(tree: Path, meta: dict[str, Any], work: Path, args: argparse.Namespace,
                       env: dict[str, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    hub, referrers = plant_hub(tree, HUB_REFERRERS)
    c = LspClient()
    await c.start([sys.executable, "-m", "skill_lsp.cli", "serve"], work / "server.stderr", env)
    try:
        t0 = time.perf_counter()
        _, init = await c.request("initialize", {
            "processId": os.getpid(), "rootUri": uri(tree), "workspaceFolders": [{"uri": uri(tree), "name": "tree"}],
            "capabilities": {"textDocument": {"publishDiagnostics": {"versionSupport": True},
                                              "synchronization": {"didSave": True}},
                             "workspace": {"workspaceFolders": True}},
            "initializationOptions": {"debounceMs": 0}}, timeout=60)
        await c.notify("initialized", {})
        ready = await c.until(lambda: next((t for t, s in c.statuses if s.get("state") == "ready"), None),
                              args.timeout)
        if ready is None:
            out["ready"] = {"timeout": True, "seconds": round(time.perf_counter() - t0, 1)}
            return out
        out["ready_s"] = round(ready - t0, 3)
        out["memory_after_index"] = proc_memory(c.pid)
        log(f"  server ready in {out['ready_s']:.2f}s")

        leaf = pick_leaf_skill(tree)
        out["keystroke_leaf"] = await keystrokes(c, leaf, r"\]\([\w-]+(\.md)\)", args.edits, 10)
        router = top_router(tree)
        if router is not None:
            out["keystroke_top_router"] = await keystrokes(c, router, r"^\| \"[^|]*\| `[^`]+(`)", args.edits, 10)
        log(f"  keystrokes: leaf p95 {out['keystroke_leaf'].get('p95_ms')} ms")

        gone = hub.with_name("bench-hub-moved.md")
        out["rename_watcher_break"] = await rename_wave(c, referrers, hub, gone, True, 60, notify=False)
        out["rename_watcher_heal"] = await rename_wave(c, referrers, gone, hub, False, 60, notify=False)
        out["rename_notified_break"] = await rename_wave(c, referrers, hub, gone, True, 60, notify=True)
        out["rename_notified_heal"] = await rename_wave(c, referrers, gone, hub, False, 60, notify=True)
        log(f"  rename: {out['rename_watcher_break']}")

        queries = [q["query"] for q in meta.get("queries", [])] or ["how do I start"]
        # the first route builds the router (unless built after indexing): keystrokes meanwhile
        pending = asyncio.ensure_future(c.request("skills/route", {"query": queries[0], "limit": 5},
                                                  timeout=args.timeout))
        out["keystroke_during_first_route"] = await keystrokes(c, leaf, r"\]\([\w-]+(\.md)\)", args.edits,
                                                               args.timeout, while_pending=pending)
        first, _ = await pending
        times = []
        for i in range(args.routes):
            dt, res = await c.request("skills/route", {"query": queries[(i + 1) % len(queries)], "limit": 5})
            times.append(dt)
        out["route_first_s"] = round(first, 3)
        out["route"] = ms_stats(times)
        out["route_after_edit"] = await routes_after_edits(c, leaf, queries, 20)
        out["memory"] = proc_memory(c.pid)
        log(f"  route p95 {out['route']['p95_ms']} ms; server VmHWM {out['memory'].get('VmHWM')} MB")
    finally:
        await c.stop()
    return out


# --- one size -------------------------------------------------------------------------------------
def read_baseline(root: Path, timeout: float) -> dict[str, Any]:
    in_child("read", root, timeout)  # warm the page cache, so both sides read from memory
    r = in_child("read", root, timeout)
    if "seconds" in r and "files" in r:
        r["mb"] = round(r["bytes"] / 1e6, 2)
        r["mb_s"] = round(r["mb"] / r["seconds"], 1)
    return r


def measure_tree(name: str, root: Path, meta: dict[str, Any], args: argparse.Namespace,
                 server: bool = True) -> dict[str, Any]:
    res: dict[str, Any] = {"tree": str(root), "generated": meta.get("summary"), "gen_s": meta.get("gen_s"),
                           "gen_cached": meta.get("cached")}
    log(f"{name}: reading the bytes (baseline)")
    read = res["read"] = read_baseline(root, args.timeout)
    qfile = None
    if meta.get("queries"):
        qfile = Path(args.cache) / f"queries-{name}.jsonl"
        qfile.write_text("".join(json.dumps({"query": q["query"]}) + "\n" for q in meta["queries"]), encoding="utf-8")
    # the persistent parse cache (skill_lsp/cache.py) lives in a folder of this run: empty for
    # the cold figure, then warm; the CLI is measured with it off and warm
    pcache = Path(args.cache) / "parse-cache" / name
    shutil.rmtree(pcache, ignore_errors=True)
    env = {**os.environ, "SKILL_LSP_CACHE_DIR": str(pcache)}
    log(f"{name}: cold index + lint in a fresh interpreter (empty parse cache)")
    cold = res["cold"] = in_child("cold", root, args.timeout, env=env)
    ours_found = cold.pop("found", None)
    log(f"{name}: cold {cold.get('index_s', cold)} + {cold.get('lint_s')}")
    log(f"{name}: warm start (parse cache filled by the cold run)")
    extra = ["--queries", str(qfile), "--routes", str(args.routes)] if qfile else []
    warm = res["warm"] = in_child("cold", root, args.timeout, *extra, env=env)
    warm.pop("found", None)
    for fig in (cold, warm):
        if "index_s" in fig:
            fig["total_s"] = fig["index_s"] + fig["lint_s"]
            fig["mb_s"] = round(read["mb"] / fig["total_s"], 2) if read.get("mb") else None
            fig["ratio_vs_read"] = ratio(fig["total_s"], read.get("seconds"))
    log(f"{name}: warm {warm.get('total_s', warm)}")
    log(f"{name}: skill-lsp check (CLI), parse cache off and warm")
    cli = res["cli"] = run_cli_check(root, args.timeout, {**os.environ, "SKILL_LSP_CACHE_DIR": "off"})
    cli["ratio_vs_read"] = ratio(cli.get("seconds"), read.get("seconds"))
    cli_warm = res["cli_warm"] = run_cli_check(root, args.timeout, env)
    cli_warm["ratio_vs_read"] = ratio(cli_warm.get("seconds"), read.get("seconds"))
    exe = None if args.no_skillcheck else skillcheck_bin()
    theirs = None
    if exe is not None:
        log(f"{name}: skillcheck")
        sc = res["skillcheck"] = run_skillcheck(exe, root, args.timeout)
        sc["version"] = skillcheck_version(exe)
        theirs = sc.pop("flagged_files", None)
        sc["ours_over_theirs"] = ratio(cli.get("seconds"), sc.get("seconds"))
        sc["ours_warm_over_theirs"] = ratio(cli_warm.get("seconds"), sc.get("seconds"))
    res["defects"] = recall(meta, ours_found, theirs)
    if server and not args.no_server:
        log(f"{name}: language server")
        work = Path(args.cache) / f"work-{name}"
        copy = work_copy(root, work / "tree")
        share_parse_cache(root, copy, pcache)
        try:
            res["server"] = asyncio.run(server_suite(copy, meta, work, args, env))
        except Exception as exc:  # one broken step must not lose the figures already taken
            res["server"] = {"error": repr(exc)}
        finally:
            if not args.keep_work:
                shutil.rmtree(work, ignore_errors=True)
    return res


def shared_trees(path: Path) -> list[Path]:
    """Real trees under --shared: PATH/corpora/* (or PATH/* when PATH is the corpora folder)."""
    base = path / "corpora" if (path / "corpora").is_dir() else path
    return sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))


def shared_queries(path: Path, tree: str) -> list[dict[str, str]]:
    """Routing queries of the evaluation sets beside the corpora (PATH/eval/<set>_*.jsonl, where
    <set> is a word of the tree's name: skillpacks, anthropics, superpowers)."""
    folder = path / "eval" if (path / "eval").is_dir() else path.parent / "eval"
    words = set(tree.split("-"))
    out = []
    for f in sorted(folder.glob("*.jsonl")) if folder.is_dir() else ():
        if f.name.split("_", 1)[0] in words:
            for line in f.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    out.append({"query": json.loads(line)["query"]})
    return out


# --- report ---------------------------------------------------------------------------------------
def fmt(x: Any, unit: str = "") -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        x = f"{x:.3f}" if abs(x) < 10 else f"{x:.1f}"
    return f"{x}{unit}"


def _secs(fig: dict[str, Any], key: str = "seconds") -> Any:
    return "timeout" if fig.get("timeout") else ("error" if "error" in fig else fig.get(key))


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, ...]] = []
    for name, r in results["trees"].items():
        read, cold, warm = r.get("read", {}), r.get("cold", {}), r.get("warm", {})
        cli, cli_warm, sc, srv = r.get("cli", {}), r.get("cli_warm", {}), r.get("skillcheck", {}), r.get("server", {})
        rows.append((name, "files / MB read", f"{fmt(read.get('files'))} / {fmt(read.get('mb'))}",
                     f"read {fmt(read.get('seconds'))} s", f"{fmt(read.get('mb_s'))} MB/s"))
        for label, fig in (("cold index+lint, empty cache", cold), ("warm index+lint, parse cache", warm)):
            rows.append((name, f"{label} (s)", fmt(_secs(fig, "total_s")), f"read {fmt(read.get('seconds'))}",
                         f"ratio {fmt(fig.get('ratio_vs_read'))}"))
            rows.append((name, "  index / lint (s)", f"{fmt(fig.get('index_s'))} / {fmt(fig.get('lint_s'))}",
                         f"cpu {fmt(fig.get('index_cpu_s'))} / {fmt(fig.get('lint_cpu_s'))}",
                         f"workers cpu {fmt(fig.get('workers_cpu_s'))}"))
        for label, fig in (("skill-lsp check, no cache", cli), ("skill-lsp check, warm", cli_warm)):
            rows.append((name, f"{label} (s)", fmt(_secs(fig)), f"read {fmt(read.get('seconds'))}",
                         f"ratio {fmt(fig.get('ratio_vs_read'))}"))
        if sc:
            rows.append((name, "check vs skillcheck (s)", f"{fmt(cli.get('seconds'))} / {fmt(cli_warm.get('seconds'))}",
                         f"skillcheck {fmt(_secs(sc))}",
                         f"ratio {fmt(sc.get('ours_over_theirs'))} / {fmt(sc.get('ours_warm_over_theirs'))}"))
            rows.append((name, "findings ours / skillcheck", fmt(cli.get("findings")),
                         f"skillcheck {fmt(sc.get('findings'))} ({fmt(sc.get('findings_error_warning'))} err+warn)",
                         f"on {fmt(sc.get('files_checked'))} SKILL.md"))
        d = r.get("defects", {})
        if d.get("injected"):
            rows.append((name, "injected defects found", fmt(d.get("ours_found")),
                         f"skillcheck flags {fmt(d.get('skillcheck_flagged_defect_files'))} of their files",
                         f"of {d['injected']}"))
        route = warm.get("route", {})
        if route:
            rows.append((name, "route in-process p50/p95 (ms)", f"{fmt(route.get('p50_ms'))} / {fmt(route.get('p95_ms'))}",
                         f"first {fmt(_ms(warm.get('route_first_s')))} ms", "builds the router"))
        rows.append((name, "peak RSS in-process (MB)", f"{fmt(cold.get('maxrss_mb'))} / {fmt(warm.get('maxrss_mb'))}",
                     "cold / warm+route", ""))
        if srv:
            if "error" in srv:
                rows.append((name, "server", "error", srv["error"][:60], ""))
                continue
            rows.append((name, "server first index (s)", fmt(srv.get("ready_s", "timeout")), "", "warm parse cache"))
            for key, label in (("keystroke_leaf", "keystroke->diags, skill"),
                               ("keystroke_top_router", "keystroke->diags, top router"),
                               ("keystroke_during_first_route", "keystroke->diags, skill, during 1st route")):
                k = srv.get(key)
                if k:
                    rows.append((name, f"{label} p50/p95 (ms)", f"{fmt(k.get('p50_ms'))} / {fmt(k.get('p95_ms'))}",
                                 f"n={k.get('n')} missed={k.get('missed')}", "after the debounce (0)"))
            for key, label in (("rename_watcher", "rename hub, watcher"), ("rename_notified", "rename hub, didChangeWatched")):
                b, h = srv.get(f"{key}_break", {}), srv.get(f"{key}_heal", {})
                if b:
                    rows.append((name, f"{label} (s)", f"{fmt(b.get('seconds'))} / {fmt(h.get('seconds'))}",
                                 f"{b.get('updated')}/{b.get('of')} files", "break / heal"))
            route = srv.get("route", {})
            if route:
                rows.append((name, "skills/route p50/p95 (ms)", f"{fmt(route.get('p50_ms'))} / {fmt(route.get('p95_ms'))}",
                             f"first {fmt(_ms(srv.get('route_first_s')))} ms", "over stdio"))
            after = srv.get("route_after_edit", {})
            if after:
                rows.append((name, "skills/route right after an edit p50/p95 (ms)",
                             f"{fmt(after.get('p50_ms'))} / {fmt(after.get('p95_ms'))}", f"n={after.get('n')}",
                             "over stdio"))
            mem = srv.get("memory", {})
            rows.append((name, "server VmHWM / VmRSS (MB)", f"{fmt(mem.get('VmHWM'))} / {fmt(mem.get('VmRSS'))}",
                         "", ""))
    head = ("tree", "figure", "ours", "baseline", "")
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def _ms(s: float | None) -> float | None:
    return None if s is None else s * 1000


def machine() -> dict[str, Any]:
    free = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.strip()
    return {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "free_h": free, "date": time.strftime("%Y-%m-%d %H:%M")}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        return child_main(argv[1:])
    ap = argparse.ArgumentParser(prog="python -m bench", description="skill-lsp performance suite")
    ap.add_argument("--sizes", default="100,1000,10000", help="comma-separated tree sizes in skills")
    ap.add_argument("--quick", action="store_true", help="sizes 100 and 1,000 only")
    ap.add_argument("--shared", type=Path, help="also measure the real trees under PATH/corpora")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    ap.add_argument("--cache", default=str(CACHE), help="where generated trees are kept (never the repo)")
    ap.add_argument("--edits", type=int, default=50, help="keystrokes per file")
    ap.add_argument("--routes", type=int, default=200, help="routing queries per measurement")
    ap.add_argument("--timeout", type=float, default=600, help="limit of any one step, seconds")
    ap.add_argument("--no-server", action="store_true", help="skip the language-server figures")
    ap.add_argument("--no-skillcheck", action="store_true")
    ap.add_argument("--keep-work", action="store_true", help="keep the server's working copy of each tree")
    args = ap.parse_args(argv)
    sizes = [100, 1000] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    cache = Path(args.cache).resolve()
    if cache == REPO or REPO in cache.parents:
        ap.error("--cache must be outside the repository")
    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results: dict[str, Any] = {"machine": machine(), "trees": {}}
    for size in sizes:
        tree, meta = ensure_tree(size, args.seed, cache)
        results["trees"][f"gen-{size}"] = measure_tree(f"gen-{size}", tree, meta, args)
        if args.out:  # after each size, so an interrupted run keeps what it measured
            args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    if args.shared:
        for root in shared_trees(args.shared):
            meta = {"queries": shared_queries(args.shared, root.name)}
            results["trees"][root.name] = measure_tree(root.name, root, meta, args, server=False)
    results["suite_s"] = round(time.perf_counter() - t0, 1)
    print(table(results))
    print(f"\nsuite: {results['suite_s']} s on {results['machine']['nproc']} cores, "
          f"Python {results['machine']['python']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
