"""`skill-lsp check --watch PATH` as an author runs it: a full report, then only what changed."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from test_incremental import FIXTURE, skill_text, write

DEADLINE = 60.0


class Lines:
    """Lines of a stream, read on a thread, handed out with a deadline."""

    def __init__(self, stream: IO[str]) -> None:
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.queue.put(line.rstrip("\n"))
        self.queue.put(None)

    def until(self, predicate, what: str) -> str:  # noqa: ANN001 - a small test helper
        while True:
            try:
                line = self.queue.get(timeout=DEADLINE)
            except queue.Empty:
                pytest.fail(f"no line {what} within {DEADLINE:.0f}s; seen: {self.seen}")
            if line is None:
                pytest.fail(f"the stream ended before a line {what}; seen: {self.seen}")
            self.seen.append(line)
            if predicate(line):
                return line


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "garden"
    shutil.copytree(FIXTURE, root)
    return root


@pytest.fixture
def watching(tree: Path) -> Iterator[tuple[subprocess.Popen[str], Lines, Lines]]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "skill_lsp.cli", "check", "--watch", "."], cwd=tree,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out, err = Lines(proc.stdout), Lines(proc.stderr)  # type: ignore[arg-type]
    try:
        yield proc, out, err
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=DEADLINE)


def test_watch_prints_the_report_then_only_changes(watching: tuple[subprocess.Popen[str], Lines, Lines],
                                                  tree: Path) -> None:
    proc, out, err = watching
    out.until(lambda line: "errors," in line and "warnings" in line, "with the summary")
    assert any("RT001" in line and "soil-feeding" in line for line in out.seen)
    err.until(lambda line: "watching" in line, "saying it watches")

    write(tree / "skills/soil-feeding/SKILL.md", skill_text("soil-feeding"))
    gone = out.until(lambda line: line.startswith("- "), "for the finding that went away")
    assert "skills/using-garden/SKILL.md:14:" in gone and "RT001" in gone and "soil-feeding" in gone

    (tree / "skills/deep-watering/root-depth.md").unlink()
    came = out.until(lambda line: line.startswith("+ "), "for the new finding")
    assert came.startswith("+ skills/deep-watering/SKILL.md:") and "LK001" in came and "root-depth.md" in came

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=DEADLINE) == 0
    # nothing but changes after the first report: every later line is a + or a - line
    report_end = next(i for i, line in enumerate(out.seen) if "errors," in line)
    assert all(line[:2] in ("+ ", "- ") for line in out.seen[report_end + 1:])


def test_watch_on_a_missing_folder_fails_like_check(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "skill_lsp.cli", "check", "--watch", str(tmp_path / "nope")],
                            capture_output=True, text=True, timeout=DEADLINE)
    assert result.returncode == 2 and "not a folder" in result.stderr
