"""GitHub-style heading anchors."""

from __future__ import annotations

import re
from functools import lru_cache

_DROP = re.compile(r"[^\w\- ]", re.UNICODE)
_TAG = re.compile(r"<[^>]+>")


@lru_cache(maxsize=8192)  # headings repeat across a tree ("Overview", "When to Use")
def github_slug(text: str) -> str:
    """The anchor GitHub gives a heading: lowercase, punctuation dropped, spaces to hyphens."""
    if "<" in text:
        text = _TAG.sub("", text)
    return _DROP.sub("", text.strip().lower()).replace(" ", "-")


class SlugCounter:
    """Repeated headings get -1, -2 ... as on GitHub."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def slug(self, text: str) -> str:
        base = github_slug(text)
        n = self.seen.get(base)
        if n is None:
            self.seen[base] = 0
            return base
        n += 1
        self.seen[base] = n
        return f"{base}-{n}"
