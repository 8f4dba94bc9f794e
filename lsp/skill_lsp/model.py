"""The data model shared by every layer: spans, parsed documents, references and findings.

Positions are 0-based lines and columns counted in Unicode code points of the line. Adapters
convert columns to the client's encoding (UTF-16 for VS Code) at the edge.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import lz4.block

from .spill import Spilled, TextSpill, load


@dataclass(frozen=True, slots=True, order=True)
class Span:
    start_line: int
    start_col: int
    end_line: int
    end_col: int

    def contains(self, line: int, col: int) -> bool:
        if (line, col) < (self.start_line, self.start_col):
            return False
        return (line, col) <= (self.end_line, self.end_col)

    def to_json(self) -> dict[str, dict[str, int]]:
        return {
            "start": {"line": self.start_line, "character": self.start_col},
            "end": {"line": self.end_line, "character": self.end_col},
        }


class Severity(enum.IntEnum):
    """Ordered like LSP's DiagnosticSeverity (1 is the most severe)."""

    ERROR = 1
    WARNING = 2
    INFORMATION = 3
    HINT = 4

    @property
    def label(self) -> str:
        return self.name.lower()


class DocKind(enum.StrEnum):
    SKILL = "skill"
    SHEET = "sheet"
    COMMAND = "command"
    AGENT = "agent"


class RefKind(enum.StrEnum):
    """Where a reference was written; this decides how loudly an unresolved one is reported."""

    LINK = "link"  # [text](target)
    TABLE = "table"  # a cell in a target column of a routing table
    ROUTE_TO = "route_to"  # a name on a "Route to:" line
    ARROW = "arrow"  # a name right after -> or →
    CODE = "code"  # `name` in prose
    BOLD = "bold"  # **name** in prose
    PROSE = "prose"  # plugin:name, plugin/name or /slash in plain prose

    @property
    def routing(self) -> bool:
        return self in (RefKind.TABLE, RefKind.ROUTE_TO, RefKind.ARROW)


@dataclass(frozen=True, slots=True)
class Reference:
    kind: RefKind
    target: str  # as written, without the #anchor (a path for links, a name otherwise)
    span: Span  # the target text only
    anchor: str | None = None
    phrase: str = ""  # the routing phrase that leads here (table row, section heading, arrow label)
    slash: bool = False  # written as /name
    in_code: bool = False  # an arrow inside a plain fenced decision tree: routes, never linted


@dataclass(frozen=True, slots=True)
class Heading:
    # The position is held inline, not as a Span: a tree of 10,000 skills has ~300,000 headings,
    # and a Span object each would cost ~20 MB for what four slots hold.
    level: int
    text: str
    slug: str
    start_line: int
    start_col: int
    end_line: int
    end_col: int

    @classmethod
    def at(cls, level: int, text: str, slug: str, span: Span) -> Heading:
        return cls(level, text, slug, span.start_line, span.start_col, span.end_line, span.end_col)

    @property
    def span(self) -> Span:
        return Span(self.start_line, self.start_col, self.end_line, self.end_col)


@dataclass(frozen=True, slots=True)
class FrontMatterKey:
    key: str
    key_span: Span
    value_span: Span


@dataclass(slots=True)
class FrontMatter:
    span: Span  # the whole block, fences included
    data: dict[str, Any] | None  # None when it does not parse to a mapping
    keys: dict[str, FrontMatterKey] = field(default_factory=dict)
    error: str | None = None
    error_span: Span | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """Something the parser itself saw (an early-closed fence, unreadable bytes)."""

    code: str
    message: str
    span: Span


COMPACT_MIN_CHARS = 2048  # shorter texts are kept as they are: compressing them saves little


@dataclass(slots=True)
class ParsedDoc:
    # The text, or once `compact()`ed its UTF-8 compressed (in memory, or spilled to the index's
    # TextSpill): the index keeps every document of the tree for hours, most of them never opened,
    # and their text is the bulk of its memory.
    stored: str | bytes | Spilled
    front_matter: FrontMatter | None
    headings: list[Heading]
    references: list[Reference]
    body_start_line: int
    line_count: int
    body_words: int
    body_chars: int
    problems: list[Problem] = field(default_factory=list)
    # line -> codes disabled on that line (None in the set means every code)
    disabled: dict[int, frozenset[str | None]] = field(default_factory=dict)
    file_disabled: frozenset[str] = frozenset()
    routing_phrases: list[tuple[str, Span]] = field(default_factory=list)

    def __eq__(self, other: object) -> bool:
        """The same parse, whether or not either holds its text compressed."""
        if not isinstance(other, ParsedDoc):
            return NotImplemented
        return self.text == other.text and self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, as dataclass equality makes it

    def _fields(self) -> tuple:
        return (self.front_matter, self.headings, self.references, self.body_start_line, self.line_count,
                self.body_words, self.body_chars, self.problems, self.disabled, self.file_disabled,
                self.routing_phrases)

    @staticmethod
    def packed(text: str) -> bytes | None:
        """The compressed form `compact()` holds, or None for a text kept as it is."""
        if len(text) < COMPACT_MIN_CHARS:
            return None
        # LZ4, not zlib: a third larger, but read back seven times as fast (the router reads every
        # text when it builds, an answer's explanations read their hits'), and written five times
        # as fast (a first index compresses every text of the tree)
        return lz4.block.compress(text.encode("utf-8", "surrogatepass"), store_size=True)

    @property
    def text(self) -> str:
        s = self.stored
        if isinstance(s, str):
            return s
        return lz4.block.decompress(load(s)).decode("utf-8", "surrogatepass")

    def compact(self, spill: TextSpill | None = None) -> None:
        """Hold the text compressed (a document no editor has open is read rarely); with a
        `spill`, out of memory."""
        s = self.stored
        if isinstance(s, str):
            s = self.stored = ParsedDoc.packed(s) or s
        if isinstance(s, bytes) and spill is not None:
            self.stored = spill.put(s)

    def expand(self) -> None:
        """Hold the text as it is (an editor has the document open and asks about it often)."""
        if not isinstance(self.stored, str):
            self.stored = self.text

    @property
    def line_lengths(self) -> list[int]:
        return [len(line) for line in self.text.split("\n")]

    def description(self) -> str:
        fm = self.front_matter
        if fm and fm.data:
            value = fm.data.get("description")
            if isinstance(value, str):
                return value.strip()
        return ""

    def fm_name(self) -> str | None:
        fm = self.front_matter
        if fm and fm.data:
            value = fm.data.get("name")
            if isinstance(value, str):
                return value.strip()
        return None


@dataclass(frozen=True, slots=True)
class Related:
    path: str
    span: Span
    message: str


@dataclass(frozen=True, slots=True)
class Fix:
    """A quick fix: text edits in one or more files, plus optional file creation."""

    title: str
    edits: tuple[tuple[str, Span, str], ...] = ()  # (path, span, new text)
    create: tuple[tuple[str, str], ...] = ()  # (path, initial text)
    rename: tuple[tuple[str, str], ...] = ()  # (old path, new path)


@dataclass(frozen=True, slots=True)
class Finding:
    path: str
    span: Span
    code: str
    severity: Severity
    message: str
    related: tuple[Related, ...] = ()
    fixes: tuple[Fix, ...] = ()
    data: tuple[tuple[str, str], ...] = ()

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.span.start_line, self.span.start_col, self.code)


class TargetKind(enum.StrEnum):
    PLUGIN = "plugin"
    SKILL = "skill"
    SHEET = "sheet"
    COMMAND = "command"
    AGENT = "agent"
    FILE = "file"  # any other existing file (scripts, images, READMEs)
    DIR = "dir"


@dataclass(frozen=True, slots=True)
class Target:
    kind: TargetKind
    key: str  # absolute path of the document (SKILL.md for skills, plugin dir for plugins)
    anchor: str | None = None


class Status(enum.StrEnum):
    OK = "ok"
    MISSING = "missing"
    AMBIGUOUS = "ambiguous"
    BAD_ANCHOR = "bad_anchor"
    CASE = "case"  # exists only with other letter case
    OUTSIDE = "outside"  # leaves the root
    IGNORED = "ignored"  # not a reference we judge (URL, absolute path, $VAR)
    UNKNOWN_PLUGIN = "unknown_plugin"


@dataclass(frozen=True, slots=True)
class Resolution:
    ref: Reference
    status: Status
    target: Target | None = None
    candidates: tuple[str, ...] = ()  # ambiguous targets or "did you mean" suggestions (keys)
    detail: str = ""


@dataclass(slots=True)
class Plugin:
    name: str
    dir: str
    root: str
    manifest: str | None  # plugin.json path, or marketplace.json that declares it
    skills: list[str] = field(default_factory=list)  # skill dirs


@dataclass(slots=True)
class Skill:
    name: str  # front-matter name, or the folder name when there is none
    folder: str  # folder name
    dir: str
    path: str  # SKILL.md path
    root: str
    plugin: str | None  # plugin dir
    sheets: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Doc:
    path: str
    kind: DocKind
    root: str
    parsed: ParsedDoc
    skill_dir: str | None  # the skill that holds it (the skill's own dir for SKILL.md)
    plugin_dir: str | None
    size: int = 0
    mtime_ns: int = 0
