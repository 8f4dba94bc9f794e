"""The VS Code extension builds with tsc, packages with vsce and speaks our protocol (editors/vscode/ci.sh)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXT = REPO / "editors" / "vscode"


def test_vscode_extension_compiles_packages_and_talks_to_the_server() -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: the VS Code extension cannot be built here")
    server = Path(sys.executable).parent / "skill-lsp"
    env = dict(os.environ, SKILL_LSP_SERVER=str(server))
    out = subprocess.run(["bash", "ci.sh"], cwd=EXT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert (EXT / "skill-lsp.vsix").is_file() or list(EXT.glob("*.vsix")), "vsce produced no .vsix"
