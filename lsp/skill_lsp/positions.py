"""Byte offsets (what pyromark reports) to line/column positions in code points."""

from __future__ import annotations

from bisect import bisect_right

from .model import Span


class LineMap:
    """Maps UTF-8 byte offsets of one text to 0-based (line, code-point column)."""

    __slots__ = ("data", "starts", "ascii")

    def __init__(self, text: str) -> None:
        self.data = text.encode("utf-8", "surrogatepass")
        self.ascii = len(self.data) == len(text)
        starts = [0]
        find = self.data.find
        pos = find(b"\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = find(b"\n", pos + 1)
        self.starts = starts

    def position(self, offset: int) -> tuple[int, int]:
        offset = max(0, min(offset, len(self.data)))
        line = bisect_right(self.starts, offset) - 1
        start = self.starts[line]
        if self.ascii:
            return line, offset - start
        return line, len(self.data[start:offset].decode("utf-8", "ignore"))

    def span(self, start: int, end: int) -> Span:
        sl, sc = self.position(start)
        el, ec = self.position(end)
        return Span(sl, sc, el, ec)

    def line_of(self, offset: int) -> int:
        return bisect_right(self.starts, max(0, offset)) - 1

    def slice(self, start: int, end: int) -> str:
        return self.data[start:end].decode("utf-8", "replace")
