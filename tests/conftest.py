"""Suite-wide: the parse cache of every index and server the tests start lives in a folder of
this run, not in the user's cache folder (servers are subprocesses: they inherit the variable)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_parse_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("parse-cache")
    before = os.environ.get("SKILL_LSP_CACHE_DIR")
    os.environ["SKILL_LSP_CACHE_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("SKILL_LSP_CACHE_DIR", None)
    else:
        os.environ["SKILL_LSP_CACHE_DIR"] = before
