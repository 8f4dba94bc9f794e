"""YAML front matter: find the block, load it with the safe loader, keep exact key/value spans."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from .model import FrontMatter, FrontMatterKey, Span

_OPEN = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n")
_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*\r?$", re.M)

_YAML_ONLY_BREAKS = {0x85: " ", 0x2028: " ", 0x2029: " "}
MAX_ALIASES = 64
MAX_DEPTH = 32
MAX_FRONT_MATTER_CHARS = 64_000
MAX_NODES = 20_000


@dataclass(frozen=True, slots=True)
class Limits:
    """How much YAML a front matter may hold before it is refused (settings `yaml-max-depth`,
    `yaml-max-nodes`, `front-matter-max-chars`)."""

    max_depth: int = MAX_DEPTH
    max_nodes: int = MAX_NODES
    max_chars: int = MAX_FRONT_MATTER_CHARS


DEFAULT_LIMITS = Limits()
_BRACKETS = re.compile(r"[\[\]{}]")


class _Refused(Exception):
    pass


def split_front_matter(text: str) -> tuple[int, int, int] | None:
    """(start of YAML text, end of YAML text, end of block) as str offsets; None when absent."""
    m = _OPEN.match(text)
    if not m:
        return None
    close = _CLOSE.search(text, m.end())
    if close is None:
        return m.end(), len(text), -1
    end = close.end()
    if end < len(text) and text[end] == "\n":
        end += 1
    return m.end(), close.start(), end


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _too_deep(raw: str, limit: int) -> bool:
    """Whether the YAML may nest deeper than `limit`, judged from its text alone.

    libyaml composes nested nodes by recursion in C: thirty thousand `[` or `- ` overflow its
    stack and kill the process, so depth must be refused before the loader sees the text. The
    estimate counts indentation levels, leading `- `/`? ` markers and open brackets; it can only
    over-count on brackets inside quoted text, which real front matter does not nest 32 deep.
    """
    flow = 0
    indents: list[int] = []
    for line in raw.split("\n"):
        stripped = line.lstrip(" ")
        if not stripped or stripped[0] == "#":
            continue
        if flow == 0:
            indent = len(line) - len(stripped)
            while indents and indents[-1] >= indent:
                indents.pop()
            indents.append(indent)
        markers = 0
        at = 0
        while stripped.startswith(("- ", "? ", "-\t", "?\t"), at):
            markers += 1
            at += 2
            while at < len(stripped) and stripped[at] in " \t":
                at += 1
            if len(indents) + markers > limit:
                return True
        peak = flow
        if "[" in stripped or "{" in stripped or flow:
            for m in _BRACKETS.finditer(stripped, at):
                if m.group() in "[{":
                    flow += 1
                    if flow > peak:
                        peak = flow
                        if len(indents) + markers + peak > limit:
                            return True
                elif flow:
                    flow -= 1
        if len(indents) + markers + peak > limit:
            return True
    return False


def _check_shape(node: yaml.Node, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse alias bombs and deep nesting before anything is constructed.

    Aliases come back from the composer as shared nodes, so counting visits without memo
    measures the expanded size that constructing and walking the data would cost.
    """
    visits = 0
    stack: list[tuple[yaml.Node, int]] = [(node, 0)]
    while stack:
        n, depth = stack.pop()
        visits += 1
        if visits > limits.max_nodes:
            raise _Refused(f"front matter expands to more than {limits.max_nodes:,} YAML nodes (aliases?); refused")
        if depth > limits.max_depth:
            raise _Refused(f"front matter nests deeper than {limits.max_depth} levels; refused")
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                stack.append((k, depth + 1))
                stack.append((v, depth + 1))
        elif isinstance(n, yaml.SequenceNode):
            stack.extend((v, depth + 1) for v in n.value)


def _mark_span(node: yaml.Node, first_line: int) -> Span:
    s, e = node.start_mark, node.end_mark
    return Span(s.line + first_line, s.column, e.line + first_line, e.column)


def parse_front_matter(text: str, limits: Limits = DEFAULT_LIMITS) -> tuple[FrontMatter | None, int]:
    """The front matter of `text` and the 0-based line where the body starts."""
    found = split_front_matter(text)
    if found is None:
        return None, 0
    start, end, block_end = found
    first_line = text.count("\n", 0, start)
    raw = text[start:end]
    if block_end == -1:
        last = text.count("\n")
        span = Span(0, 0, last, 0)
        return (
            FrontMatter(span, None, error="front matter is not closed by a `---` line",
                        error_span=Span(0, 0, 0, 3)),
            0,
        )
    body_line = text.count("\n", 0, block_end)
    close_line = text.count("\n", 0, end)
    span = Span(0, 0, close_line, 3)
    fm = FrontMatter(span, None)
    if len(raw) > limits.max_chars:
        fm.error = f"front matter is larger than {limits.max_chars:,} characters; not parsed"
        fm.error_span = Span(0, 0, 0, 3)
        return fm, body_line
    if _too_deep(raw, limits.max_depth):
        fm.error = f"front matter nests deeper than {limits.max_depth} levels; refused"
        fm.error_span = Span(0, 0, 0, 3)
        return fm, body_line
    # YAML also breaks lines at NEL, LS and PS; editors and our spans do not. Read them as the
    # spaces a plain scalar folds its line breaks into, so marks stay on the client's lines.
    yaml_text = raw.translate(_YAML_ONLY_BREAKS) if ("\x85" in raw or "\u2028" in raw or "\u2029" in raw) else raw
    try:
        loader = _Loader(yaml_text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _check_shape(node, limits)
            data: Any = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except _Refused as exc:
        fm.error, fm.error_span = str(exc), Span(0, 0, 0, 3)
        return fm, body_line
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line if mark else 0) + first_line
        col = mark.column if mark else 0
        lines = text.split("\n", line + 1)
        width = len(lines[line]) if line < len(lines) else col
        fm.error = _yaml_message(exc)
        fm.error_span = Span(line, min(col, width), line, max(width, col))
        return fm, body_line
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as exc:
        fm.error, fm.error_span = f"front matter is not valid YAML: {exc}", Span(0, 0, 0, 3)
        return fm, body_line
    if isinstance(node, yaml.MappingNode) and isinstance(data, dict):
        fm.data = data
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                fm.keys[str(key_node.value)] = FrontMatterKey(
                    str(key_node.value), _mark_span(key_node, first_line), _mark_span(value_node, first_line)
                )
    elif node is None:
        fm.data = {}
    else:
        fm.error = "front matter must be a mapping of keys to values"
        fm.error_span = Span(first_line, 0, first_line, len(raw.split("\n", 1)[0]))
    return fm, body_line


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    problem = (exc.problem or exc.context or "syntax error").strip()
    hint = ""
    if "mapping values are not allowed" in problem:
        hint = " (a value holding `: ` must be quoted)"
    return f"front matter YAML does not parse: {problem}{hint}"


def quote_value_fix(line_text: str) -> str | None:
    """`key: a: b` -> `key: "a: b"`, the usual mend for an unquoted `: ` in a value."""
    m = re.match(r"^(\s*[\w-]+:\s+)(.+?)\s*$", line_text)
    if not m:
        return None
    value = m.group(2)
    if value[:1] in ("'", '"', "|", ">"):
        return None
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{m.group(1)}"{escaped}"'
