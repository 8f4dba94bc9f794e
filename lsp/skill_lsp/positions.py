"""Byte offsets (what pyromark reports) to line/column positions in code points."""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate
from operator import add

from .model import Span

_CONTINUATION = bytes(range(0x80, 0xC0))  # UTF-8 bytes that do not start a code point


def code_points(data: bytes) -> int:
    """Code points in a UTF-8 byte string, without decoding it."""
    return len(data.translate(None, _CONTINUATION))


class LineMap:
    """Maps UTF-8 byte offsets of one text to 0-based (line, code-point column)."""

    __slots__ = ("data", "starts", "ascii", "_cursor")

    def __init__(self, text: str) -> None:
        self.data = text.encode("utf-8", "surrogatepass")
        self.ascii = len(self.data) == len(text)
        # line starts: running sum of line lengths plus their newlines, all in C
        lengths = list(map(len, self.data.split(b"\n")))
        lengths.pop()
        self.starts = list(map(add, accumulate(lengths, initial=0), range(len(lengths) + 1)))
        # (line, byte offset, column) of the last position asked for: positions come in
        # document order, so on a long non-ASCII line each is counted from the previous one
        # rather than from the line start (which would be quadratic on a 1 MB line)
        self._cursor = (-1, 0, 0)

    def position(self, offset: int) -> tuple[int, int]:
        if offset < 0:
            offset = 0
        elif offset > len(self.data):
            offset = len(self.data)
        line = bisect_right(self.starts, offset) - 1
        start = self.starts[line]
        if self.ascii:
            return line, offset - start
        c_line, c_byte, c_col = self._cursor
        if c_line == line and c_byte <= offset:
            col = c_col + code_points(self.data[c_byte:offset])
        else:
            col = code_points(self.data[start:offset])
        self._cursor = (line, offset, col)
        return line, col

    def span(self, start: int, end: int) -> Span:
        if self.ascii and 0 <= start <= end:  # the usual case: one line of ASCII, one lookup
            starts = self.starts
            line = bisect_right(starts, start) - 1
            if line + 1 < len(starts) and end < starts[line + 1] or line + 1 == len(starts) and end <= len(self.data):
                base = starts[line]
                return Span(line, start - base, line, end - base)
        sl, sc = self.position(start)
        el, ec = self.position(end)
        return Span(sl, sc, el, ec)

    def line_end(self, line: int) -> int:
        """Byte offset of the end of `line` (its newline, or the end of the text)."""
        return self.starts[line + 1] - 1 if line + 1 < len(self.starts) else len(self.data)

    def line_of(self, offset: int) -> int:
        return bisect_right(self.starts, max(0, offset)) - 1

    def slice(self, start: int, end: int) -> str:
        return self.data[start:end].decode("utf-8", "replace")
