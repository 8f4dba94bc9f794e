"""The Claude Code plugin (editors/claude-code) passes the real `claude plugin validate`.

The CLI is the version pinned in editors/claude-code-cli/package.json, installed with `npm ci`
when it is missing. It runs offline: CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 stops its
telemetry and update checks, validation needs no login, and a throwaway HOME and
CLAUDE_CONFIG_DIR keep it away from the user's own Claude Code settings.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "editors" / "claude-code"
# where `npm ci --prefix` puts the pinned CLI; one place to change if the pin moves
CLI_PREFIX = REPO / "editors" / "claude-code-cli"  # kept outside the plugin: installs copy the plugin folder
CLAUDE = CLI_PREFIX / "node_modules" / ".bin" / "claude"


@pytest.fixture(scope="module")
def claude() -> Path:
    if not CLAUDE.exists():
        if shutil.which("npm") is None:
            reason = "npm is not installed: cannot install the pinned Claude Code CLI to validate the plugin"
            print(reason)
            pytest.skip(reason)
        out = subprocess.run(["npm", "ci", "--prefix", str(CLI_PREFIX), "--no-audit", "--no-fund"],
                             capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert CLAUDE.exists(), f"npm ci did not install {CLAUDE}"
    return CLAUDE


@pytest.fixture
def validate(claude: Path, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    home = tmp_path / "claude-home"
    home.mkdir()
    # a clean environment: only PATH survives, so a developer's own Claude settings,
    # API keys or proxies cannot change the verdict
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home),
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }

    def run(path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(claude), "plugin", "validate", *flags, str(path)],
                              env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)

    return run


def report(out: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    try:
        return json.loads(out.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"validate --json printed no JSON:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}")


def errors_of(rep: dict[str, Any]) -> list[str]:
    """Every error message, from the manifest validated and from each file it checked."""
    parts = [rep.get("manifest") or {}, *rep.get("contents", [])]
    return [f"{p.get('file')}: {e.get('path')}: {e.get('message')}" for p in parts for e in p.get("errors", [])]


def plugin_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "plugin"
    shutil.copytree(PLUGIN, dest, ignore=shutil.ignore_patterns("node_modules"))
    return dest


def test_plugin_passes_claude_plugin_validate(validate: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    out = validate(PLUGIN, "--json")
    rep = report(out)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert rep["success"] is True
    assert errors_of(rep) == []
    provides = rep["provides"]
    assert provides["lspServers"] == [{"name": "skill-lsp", "command": "skill-lsp",
                                       "args": ["serve", "--warm-router", "always"]}]
    assert "skill-lsp:find-skills" in provides["skills"]


def test_plugin_has_no_warnings_even_for_the_plugin_directory(
        validate: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    # --strict fails on warnings; the directory profile adds the catalog's README and icon checks
    out = validate(PLUGIN, "--strict", "--profile", "directory")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "Validation passed" in out.stdout


def _invalid_json(d: dict[str, Any]) -> str:
    return json.dumps(d)[:-1] + ","


def _no_name(d: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in d.items() if k != "name"})


def _extension_without_dot(d: dict[str, Any]) -> str:
    d["lspServers"]["skill-lsp"]["extensionToLanguage"] = {"md": "markdown"}
    return json.dumps(d)


@pytest.mark.parametrize(("breakage", "expected"), [
    (_invalid_json, "Invalid JSON"),
    (_no_name, "name"),
    (_extension_without_dot, "lspServers"),
], ids=["invalid-json", "missing-name", "extension-without-dot"])
def test_validator_rejects_a_broken_manifest(
        validate: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path,
        breakage: Callable[[dict[str, Any]], str], expected: str) -> None:
    copy = plugin_copy(tmp_path)
    manifest = copy / ".claude-plugin" / "plugin.json"
    manifest.write_text(breakage(json.loads(manifest.read_text())), encoding="utf-8")
    out = validate(copy, "--json")
    rep = report(out)
    assert out.returncode == 1, out.stdout[-4000:]
    assert rep["success"] is False
    errors = errors_of(rep)
    assert any(expected in e for e in errors), errors


def test_the_plugins_own_skill_is_clean_under_skill_lsp() -> None:
    # the skill we ship to teach agents our diagnostics must not carry any itself
    out = subprocess.run([sys.executable, "-m", "skill_lsp.cli", "check", "--format", "json", str(PLUGIN)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert json.loads(out.stdout) == []
