"""Building findings: every rule module creates them through `finding`, with the registry's defaults."""

from __future__ import annotations

from ..model import Finding, Fix, Related, Span
from .registry import BY_CODE


def finding(code: str, path: str, span: Span, message: str,
            related: tuple[Related, ...] = (), fixes: tuple[Fix, ...] = ()) -> Finding:
    return Finding(path, span, code, BY_CODE[code].severity, message, related, fixes)


def line_span(text: str, line: int) -> Span:
    lines = text.split("\n")
    width = len(lines[line]) if 0 <= line < len(lines) else 0
    return Span(line, 0, line, width)


FILE_START = Span(0, 0, 0, 0)
