"""What every feature needs: the index, the client's position encoding and how paths become URIs.

Our spans count columns in code points; the client counts in UTF-16 (or UTF-8) code units. Every
conversion goes through pygls' position codec with the line text of the document the span is in,
as the index holds it (the open buffer's text for open files).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from lsprotocol import types as lsp
from pygls.uris import from_fs_path
from pygls.workspace.position_codec import PositionCodec

from ..index import SkillIndex
from ..model import Doc, Reference, Resolution, Span, Status

# Statuses whose target is known well enough to navigate to it, hover it or rename it.
FOUND = (Status.OK, Status.BAD_ANCHOR, Status.CASE)


def _no_version(path: str) -> int | None:
    return None


def path_uri(path: str) -> str:
    return from_fs_path(path) or "file://" + path


@dataclass
class Ctx:
    ix: SkillIndex
    codec: PositionCodec = field(default_factory=PositionCodec)
    uri_of: Callable[[str], str] = path_uri
    version_of: Callable[[str], int | None] = _no_version
    _lines: dict[str, list[str]] = field(default_factory=dict)

    # --- positions -------------------------------------------------------------------------
    def lines(self, path: str) -> list[str]:
        lines = self._lines.get(path)
        if lines is None:
            doc = self.ix.docs.get(path)
            lines = doc.parsed.text.split("\n") if doc else []
            self._lines[path] = lines
        return lines

    def position(self, path: str, line: int, col: int) -> lsp.Position:
        lines = self.lines(path)
        if line >= len(lines):
            return lsp.Position(line=line, character=col)
        text = lines[line]
        if col == 0 or text.isascii():
            return lsp.Position(line=line, character=col)
        return lsp.Position(line=line, character=self.codec.client_num_units(text[:col]))

    def range(self, path: str, span: Span) -> lsp.Range:
        return lsp.Range(start=self.position(path, span.start_line, span.start_col),
                         end=self.position(path, span.end_line, span.end_col))

    def to_points(self, path: str, pos: lsp.Position) -> tuple[int, int]:
        """A client position in `path` as (line, code-point column)."""
        lines = self.lines(path)
        if pos.line >= len(lines):
            return pos.line, pos.character
        text = lines[pos.line]
        if text.isascii():
            return pos.line, min(pos.character, len(text))
        units = 0
        for i, ch in enumerate(text):
            if units >= pos.character:
                return pos.line, i
            units += self.codec.impl.code_units_for_char(ch)
        return pos.line, len(text)

    def span_of(self, path: str, rng: lsp.Range) -> Span:
        sl, sc = self.to_points(path, rng.start)
        el, ec = self.to_points(path, rng.end)
        return Span(sl, sc, el, ec)

    def location(self, path: str, span: Span | None = None) -> lsp.Location:
        rng = self.range(path, span) if span else lsp.Range(start=lsp.Position(line=0, character=0),
                                                             end=lsp.Position(line=0, character=0))
        return lsp.Location(uri=self.uri_of(path), range=rng)

    # --- lookups ---------------------------------------------------------------------------
    def doc(self, path: str) -> Doc | None:
        return self.ix.docs.get(path)

    def rel(self, path: str) -> str:
        """`path` relative to its root, for display."""
        root = self.ix.root_of(path)
        return os.path.relpath(path, root).replace(os.sep, "/") if root else path


def reference_at(ix: SkillIndex, path: str, line: int, col: int) -> Resolution | None:
    """The resolved reference of `path` under (line, col); the narrowest one when they nest."""
    doc = ix.docs.get(path)
    resolutions = ix.resolutions.get(path)
    if doc is None or not resolutions:
        return None
    best: Resolution | None = None
    for res in resolutions:
        span = res.ref.span
        if span.contains(line, col) and (best is None or _width(span) < _width(best.ref.span)):
            best = res
    return best


def _width(span: Span) -> tuple[int, int]:
    return span.end_line - span.start_line, span.end_col - span.start_col


def fm_name_at(doc: Doc, line: int, col: int) -> Span | None:
    """The value span of the front-matter `name` when (line, col) is on its key or value."""
    fm = doc.parsed.front_matter
    if fm is None or "name" not in fm.keys:
        return None
    key = fm.keys["name"]
    if key.key_span.contains(line, col) or key.value_span.contains(line, col):
        return key.value_span
    return None


def target_path(ix: SkillIndex, res: Resolution) -> str | None:
    """The file a resolved reference leads to: a plugin leads to its router skill."""
    if res.target is None or res.status not in FOUND:
        return None
    return ix.target_doc(res.target.key, res.target.kind) or (res.target.key if res.target.key in ix.files else None)


def heading_span(ix: SkillIndex, path: str, anchor: str | None) -> Span | None:
    if not anchor:
        return None
    doc = ix.docs.get(path)
    if doc is None:
        return None
    want = anchor.lower()
    for h in doc.parsed.headings:
        if h.slug.lower() == want:
            return h.span
    return None


def ref_text(ref: Reference) -> str:
    return ("/" if ref.slash else "") + ref.target + (f"#{ref.anchor}" if ref.anchor else "")
