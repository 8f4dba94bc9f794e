"""BG: size budgets of a SKILL.md body (lines, estimated tokens, optional words)."""

from __future__ import annotations

from ..config import Settings
from ..model import Doc, DocKind, Finding, Span
from .base import finding

CHARS_PER_TOKEN = 4  # the usual estimate for English prose


def check_budgets(doc: Doc, settings: Settings) -> list[Finding]:
    if doc.kind is not DocKind.SKILL:
        return []
    p = doc.parsed
    first = p.body_start_line
    span = Span(first, 0, first, 0)
    out: list[Finding] = []
    if p.line_count > settings.line_budget:
        span_over = Span(first + settings.line_budget, 0, first + settings.line_budget, 0)
        out.append(finding("BG001", doc.path, span_over,
                           f"body is {p.line_count:,} lines, over the {settings.line_budget:,}-line budget; move detail to sheets"))
    tokens = p.body_chars // CHARS_PER_TOKEN
    if tokens > settings.token_budget:
        out.append(finding("BG002", doc.path, span,
                           f"body is about {tokens:,} tokens, over the {settings.token_budget:,}-token budget"))
    if settings.word_budget is not None and p.body_words > settings.word_budget:
        out.append(finding("BG003", doc.path, span,
                           f"body is {p.body_words:,} words, over the {settings.word_budget:,}-word budget"))
    return out
