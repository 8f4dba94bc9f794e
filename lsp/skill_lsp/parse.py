"""Text of one Markdown file -> ParsedDoc: front matter, headings and references. Pure, no I/O.

Markdown structure comes from pyromark (pulldown-cmark); this module only decides which of the
parsed pieces are references, and where they sit, from the position they are written in:

- links `[text](path#anchor)` (and images) anywhere outside code;
- names in routing positions: target cells of routing tables, `Route to:` lines, the word after
  an arrow. A routing position holds a *list* of names ("`a.md` + `b.md`", "x, y or z"); at the
  first word of prose ("for the caching part") the list is over and the rest is prose;
- in prose, only what is written as a name on purpose: code spans and bold text shaped like a
  name, `plugin:name` and `/slash` names.

Fenced code is never read for references, except the arrows of a plain-text decision tree, which
feed routing and are never linted.

Speed matters (the whole walk is on the path of every keystroke and of a cold index of 10,000
skills): pieces are plain tuples, byte ranges stay unread until a reference needs a position, and
a block whose text holds nothing a reference could start with is dropped after one regex search.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from sys import intern
from typing import Any

import pyromark

from .frontmatter import DEFAULT_LIMITS, Limits, parse_front_matter
from .model import Heading, ParsedDoc, Problem, Reference, RefKind, Span
from .positions import LineMap
from .slugs import SlugCounter

_OPTIONS = (
    pyromark.Options.ENABLE_TABLES
    | pyromark.Options.ENABLE_YAML_STYLE_METADATA_BLOCKS
    | pyromark.Options.ENABLE_STRIKETHROUGH
)

# A header cell that names where a row sends the reader makes its column a target column...
_TARGET_HEADER = re.compile(
    r"route|skill|sheet|\bload|pack\b|plugin|\buse\b|use this|reference|go to|invoke|(?<!sub)command|"
    r"\bsee\b|\bread\b|agent|\btarget|\bfile\b|\bdoc\b",
    re.I,
)
# ...unless it names what the row *produces*: numbered deliverables and spec files a workflow
# writes are documents of the user's project, not sheets of the tree.
_PRODUCT_HEADER = re.compile(r"output|artifact|artefact|deliverable|produces|writes|\bspec\b|template|result", re.I)
# Columns that list where NOT to go ("Wrong route", "Instead of") mention names; they do not route.
_WRONG_HEADER = re.compile(r"wrong|\bnot\b|n't|avoid|instead|anti|mistake|bad\b", re.I)
_PHRASE_HEADER_SKIP = re.compile(r"^\s*#?\s*$")

_NAME = r"[a-z0-9]+(?:-[a-z0-9]+)*"
_END = r"(?![\w/@-]|\.\w)"  # a name ends at a space or punctuation, not inside `x.py` or `a/b`
_KEBAB = re.compile(rf"(?<![\w./:@$-])({_NAME})(\.md)?{_END}")
_QUALIFIED = re.compile(
    rf"(?<![\w./:@$-])({_NAME})(?:(:)({_NAME})|/({_NAME})(?:/({_NAME}(?:\.md)?))?)(?![\w/@:-]|\.\w)"
)
_SLASH = re.compile(rf"(?<![\w/.~$:\]\)`-])/({_NAME}(?::{_NAME})?)(?![\w/.-])")
_MD_PATH = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*[\w-][\w.-]*\.md)(?:#([\w-]+))?(?![\w/-])")
_ROUTE_TO = re.compile(r"\broute\s+to\b(?:\s*\([^)\n]*\))?\s*[:→-]*", re.I)
_ARROW = re.compile(r"(?:→|->|⇒|=>)\s*")
_DISABLE = re.compile(r"<!--\s*skill-lsp:\s*(disable|disable-next-line|disable-file)(?:=([\w, ]+))?\s*-->")
_FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_CODEISH = re.compile(r"[()\[\]{}=<>;,'\"]|\s")
_WORDS = re.compile(r"[^\W_]{2,}")
_TREE_FENCES = {"", "text", "txt", "plaintext", "plain"}
_TREE_CHARS = re.compile(r"[│├└┌┐┘┬┴┼─|+`]")

_QUALIFIED_COLON = re.compile(r"[a-z0-9]:[a-z0-9]")


def _may_hold_reference(text: str) -> bool:
    """Whether plain prose text holds anything a reference could start with: `plugin:name`,
    `/slash`, `x.md`, "the x-y skill", an arrow or a "Route to". Most paragraphs hold none.

    Substring tests first (several times faster than one regex with alternatives); a colon is
    common in prose, so only `a:b` without a space counts.
    """
    if ("/" in text or ".md" in text or " skill" in text or "→" in text or "->" in text or "=>" in text
            or "⇒" in text or "oute" in text):
        return True
    return ":" in text and _QUALIFIED_COLON.search(text) is not None

# "invoke the writing-plans skill": a hyphenated name that prose itself calls a skill
_NAMED_SKILL = re.compile(rf"(?<![\w./:@$-])({_NAME}-[a-z0-9]+(?:-[a-z0-9]+)*) (?:sub-)?skill\b")
# A relative folder (`themes/`) or a path template (`{lang}/api/streaming.md`) in a code span:
# it names every file it covers, which is how a skill loads a folder of sheets.
_FOLDER_OR_TEMPLATE = re.compile(r"(?:[\w.-]+|\{\w+\})(?:/(?:[\w.*-]+|\{\w+\}))*/?")

# One token of a routing list. Names come first (their shapes as in the regexes above), then the
# words that join list items, then any other word: the first such word ends the list.
_TOKEN = re.compile(
    r"(?P<open>\()|(?P<close>\))"
    r"|(?P<sep>[,;+&|]|→|->|=>|⇒|\s/\s|(?i:\b(?:and|or|then|plus|vs|and/or)\b))"
    r"|(?P<name>(?<![\w./:@$-])(?:(?:[\w.-]+/)*[\w-][\w.-]*\.md(?:#[\w-]+)?"
    rf"|{_NAME}(?::{_NAME}|/{_NAME}(?:/{_NAME}(?:\.md)?)?)|/{_NAME}(?::{_NAME})?|{_NAME}){_END})"
    r"|(?P<word>[^\W_][\w'’]*)"
)
_FIRST_WORD = re.compile(r"\s*(\S+)")
_NON_SPACE = re.compile(r"\S")
_LABEL_MAX = 200  # a routing phrase is a phrase, not a page
_NEXT_WORD = re.compile(r"[ \t]+([^\W\d_][\w'’]*)")
# Words that may lead a list item ("see `x`", "use y") or follow a name ("`x` agent").
_LEAD_WORDS = frozenset({"see", "use", "load", "read", "invoke", "run", "also", "first", "both", "either",
                         "then", "try", "consult", "the"})
_TAIL_WORDS = frozenset({"agent", "agents", "skill", "skills", "sheet", "sheets", "command", "commands",
                         "pack", "packs", "plugin", "plugins", "first", "instead", "too", "also", "next"})

_INLINE = frozenset({"Emphasis", "Strikethrough", "Superscript", "Subscript"})
_BLOCK_FLUSH = frozenset({"Paragraph", "Item", "BlockQuote", "List", "HtmlBlock", "FootnoteDefinition",
                          "DefinitionList", "DefinitionListTitle", "DefinitionListDefinition"})

# A piece is a tuple: (kind, text, range dict, strong, link-or-None). Tuples, because a large tree
# has hundreds of thousands of them and most are dropped unread.
TEXT, CODE, LINK, BREAK = 0, 1, 2, 3
_BREAK_PIECE = (BREAK, "\n", None, False, None)


@dataclass(slots=True)
class _Link:
    dest: str
    link_type: str
    start: int
    end: int
    image: bool
    text: list[str] = field(default_factory=list)
    dest_start: int = -1
    dest_end: int = -1


@dataclass(slots=True)
class _Table:
    target_cols: set[int] = field(default_factory=set)
    phrase_col: int = -1
    col: int = -1
    cells: list[list[tuple]] = field(default_factory=list)


def parse(text: str, limits: Limits = DEFAULT_LIMITS) -> ParsedDoc:
    """Parse one Markdown file. Never raises on any input text.

    `limits` bound the front matter's YAML (the settings `yaml-max-depth`, `yaml-max-nodes` and
    `front-matter-max-chars`); the defaults suit every real tree we know.
    """
    # LSP clients break lines at \n, \r\n and a lone \r: so do our spans
    text = text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text
    fm, body_line = parse_front_matter(text, limits)
    lm = LineMap(text)
    builder = _Builder(text, lm)
    builder.run()
    line_count = len(lm.starts)
    cut = _offset_of_line(text, body_line) if body_line else 0
    body_bytes = lm.data[lm.starts[body_line]:] if body_line < line_count else b""
    doc = ParsedDoc(
        stored=text,
        front_matter=fm,
        headings=builder.headings,
        references=builder.refs,
        body_start_line=body_line,
        line_count=line_count - body_line,
        body_words=count_words(body_bytes),
        body_chars=len(text) - cut,
        problems=builder.problems,
        routing_phrases=builder.phrases,
    )
    if "skill-lsp:" in text:
        _read_disables(text.split("\n"), doc)
    return doc


# bytes.split() splits at these six ASCII whitespace bytes; mapping every byte to " " or "x"
# lets one count() find the word starts without building a list of every word
_WORD_MAP = bytes(32 if chr(b) in " \t\n\r\x0b\x0c" else 120 for b in range(256))


def count_words(data: bytes) -> int:
    """len(data.split()), in two passes of C and no list."""
    mapped = data.translate(_WORD_MAP)
    return mapped.count(b" x") + (mapped[:1] == b"x")


def _offset_of_line(text: str, line: int) -> int:
    pos = 0
    for _ in range(line):
        nxt = text.find("\n", pos)
        if nxt == -1:
            return len(text)
        pos = nxt + 1
    return pos


def _read_disables(lines: list[str], doc: ParsedDoc) -> None:
    file_codes: set[str] = set()
    for i, line in enumerate(lines):
        if "skill-lsp:" not in line:
            continue
        for m in _DISABLE.finditer(line):
            codes: frozenset[str | None] = (
                frozenset(c.strip().upper() for c in m.group(2).split(",") if c.strip())
                if m.group(2) else frozenset({None})
            )
            if m.group(1) == "disable-file":
                file_codes.update(c or "*" for c in codes)
                continue
            target = i + 1 if m.group(1) == "disable-next-line" else i
            doc.disabled[target] = doc.disabled.get(target, frozenset()) | codes
    doc.file_disabled = frozenset(file_codes)


class _Builder:
    def __init__(self, text: str, lm: LineMap) -> None:
        self.text = text
        self.lm = lm
        self.data = lm.data
        self.ascii = lm.ascii
        self.headings: list[Heading] = []
        self.refs: list[Reference] = []
        self.problems: list[Problem] = []
        self.phrases: list[tuple[str, Span]] = []
        self.slugs = SlugCounter()
        self.section = ""  # text of the last heading: the phrase for Route to lines under it
        # (info, first line, closing line, closing width, fence, closed) of the last fenced block
        self.last_fence: tuple[str, int, int, int, str, bool] | None = None
        self.fence_broken = 0  # line of the first early-closed fence: the fences below are off

    # --- event walk -------------------------------------------------------------------------
    def run(self) -> None:  # noqa: C901 - one flat loop is the fast way through ~1 M events
        try:
            events = pyromark.events_with_range(self.text, options=_OPTIONS)
        except Exception as exc:  # pyromark is robust, but a parser bug must not reach the user
            self.problems.append(Problem("IO002", f"Markdown could not be parsed: {exc}", Span(0, 0, 0, 0)))
            return
        pieces: list[tuple] = []
        append = pieces.append
        strong = 0
        links: list[_Link] = []
        table: _Table | None = None
        heading_level = 0
        heading_start = 0
        code_info: str | None = None  # info string of the fenced block we are in
        in_meta = False
        special = False  # inside code, a link or front matter: text is not plain prose
        flush = self._flush
        for event, rng in events:
            if event.__class__ is str:  # SoftBreak, HardBreak, Rule
                if pieces and (event == "SoftBreak" or event == "HardBreak"):
                    append(_BREAK_PIECE)
                continue
            name, = event  # an event is a one-key dict: {"Text": "..."}, {"Start": ...}
            value = event[name]
            if name == "Text":
                if not special:  # the usual case: prose text, outside code, links and front matter
                    append((TEXT, value, rng, strong > 0, None))
                elif code_info is not None:
                    if code_info in _TREE_FENCES:
                        self._decision_tree(value, rng["start"], rng["end"])
                elif links:
                    links[-1].text.append(value)
                elif not in_meta:
                    append((TEXT, value, rng, strong > 0, None))
                continue
            if name == "Code":
                if links:
                    links[-1].text.append(value)
                else:
                    append((CODE, value, rng, strong > 0, None))
                continue
            if name == "Start":
                if value.__class__ is str:
                    if value == "Strong":
                        strong += 1
                    elif value in _INLINE:
                        pass
                    elif value == "TableCell":
                        if table is not None:
                            table.col += 1
                        pieces = []
                        append = pieces.append
                    elif value == "TableRow" or value == "TableHead":
                        if table is not None:
                            table.col, table.cells = -1, []
                    elif value == "MetadataBlock":
                        in_meta = special = True
                    elif pieces:
                        flush(pieces)
                        pieces = []
                        append = pieces.append
                    continue
                (tag, attrs), = value.items()
                if tag == "Link" or tag == "Image":
                    links.append(self._link(tag, attrs, rng["start"], rng["end"]))
                    special = True
                    continue
                if pieces:
                    flush(pieces)
                    pieces = []
                    append = pieces.append
                if tag == "Heading":
                    heading_level = _heading_level(attrs)
                    heading_start = rng["start"]
                elif tag == "Table":
                    table = _Table()
                elif tag == "CodeBlock":
                    fenced = isinstance(attrs, dict) and "Fenced" in attrs
                    code_info = str(attrs["Fenced"]).strip().lower() if fenced else "indented"
                    special = True
                    if fenced:
                        self._check_fence(rng["start"], rng["end"])
                elif tag == "MetadataBlock":
                    in_meta = special = True
                continue
            if name == "End":
                if value.__class__ is str:
                    if value == "Strong":
                        strong -= 1
                    elif value in _INLINE:
                        pass
                    elif value == "Link" or value == "Image":
                        if links:
                            append(_link_piece(links.pop(), strong > 0))
                        special = bool(links) or code_info is not None or in_meta
                    elif value == "TableCell":
                        if table is not None:
                            table.cells.append(pieces)
                        pieces = []
                        append = pieces.append
                    elif value == "TableHead":
                        if table is not None:
                            self._table_header(table)
                    elif value == "TableRow":
                        if table is not None:
                            self._table_row(table)
                    elif value == "Table":
                        table = None
                    elif value == "CodeBlock":
                        code_info = None
                        special = bool(links) or in_meta
                    elif value == "MetadataBlock":
                        in_meta = False
                        special = bool(links) or code_info is not None
                    elif pieces:
                        flush(pieces)
                        pieces = []
                        append = pieces.append
                    continue
                (tag, _), = value.items()
                if tag == "Heading":
                    self._heading(pieces, heading_level, heading_start, rng["end"])
                    heading_level = 0
                    if pieces:
                        flush(pieces)
                        pieces = []
                        append = pieces.append
                elif tag == "Link" or tag == "Image":
                    if links:
                        append(_link_piece(links.pop(), strong > 0))
                    special = bool(links) or code_info is not None or in_meta
                elif tag == "MetadataBlock":
                    in_meta = False
                    special = bool(links) or code_info is not None
                elif pieces:
                    flush(pieces)
                    pieces = []
                    append = pieces.append
                continue
            # InlineHtml, Html, math, footnote references: never references
        if pieces:
            flush(pieces)
        if self.fence_broken:
            # Below an early-closed fence, example text reads as prose and prose as code: its
            # references still feed navigation and routing, but are not linted.
            cut = self.fence_broken
            self.refs = [replace(r, in_code=True) if r.span.start_line > cut and not r.in_code else r
                         for r in self.refs]

    def _link(self, tag: str, attrs: Any, start: int, end: int) -> _Link:
        attrs = attrs if isinstance(attrs, dict) else {}
        dest = str(attrs.get("dest_url", ""))
        link_type = str(attrs.get("link_type", ""))
        link = _Link(dest, link_type, start, end, tag == "Image")
        ds = -1
        if link_type == "Inline" and dest:
            raw = self.data[start:end]
            close = raw.rfind(b"](")
            if close != -1:
                ds = raw.find(dest.encode() if not dest.isascii() else dest.encode("ascii"), close)
        if ds != -1:
            link.dest_start, link.dest_end = start + ds, start + ds + len(dest.encode())
        else:
            link.dest_start, link.dest_end = start, end
        return link

    def _heading(self, pieces: list[tuple], level: int, start: int, end: int) -> None:
        if not level:
            return
        text = "".join([p[1] for p in pieces if p[0] != BREAK]).strip()
        data = self.data
        while end > start and data[end - 1] in (10, 13, 32):  # trailing newline and spaces
            end -= 1
        # interned: the same headings ("Overview", "When to Use") recur in most documents of a tree
        text = intern(text)
        self.headings.append(Heading.at(level, text, intern(self.slugs.slug(text)), self.lm.span(start, end)))
        self.section = text

    def _decision_tree(self, text: str, start: int, end: int) -> None:
        """Arrows in a plain fenced decision tree name routes; they feed routing, never lint."""
        if "→" not in text and "->" not in text:
            return
        if self.data[start:end].decode("utf-8", "replace") != text:
            return
        offset = start
        previous = ""
        for line in text.split("\n"):
            m = _ARROW.search(line)
            if m:
                label = _TREE_CHARS.sub("", line[: m.start()]).strip(" :-*\"'`?") or previous
                rng = {"start": offset, "end": offset + len(line.encode())}
                ref = self._first_name((TEXT, line, rng, False, None), m.end(), RefKind.ARROW, label)
                if ref:
                    ref = replace(ref, in_code=True)
                    self.refs.append(ref)
                    self._phrase(label, ref.span)
            stripped = _TREE_CHARS.sub("", line).strip()
            if stripped and not m:
                previous = stripped.strip(" :-*\"'`")
            offset += len(line.encode()) + 1

    # --- blocks -----------------------------------------------------------------------------
    def _flush(self, pieces: list[tuple]) -> None:
        if len(pieces) == 1:  # most blocks: one piece of text (a list item, a cell, a line)
            first = pieces[0]
            joined = first[1] if first[0] == TEXT else ""
        else:
            joined = "".join([p[1] for p in pieces if p[0] == TEXT])
        if not _may_hold_reference(joined):
            # Nothing in the plain text can start a reference (the usual case): only code
            # spans, links and bold names remain, and most blocks have none of those either.
            refs = self.refs
            for p in pieces:
                k = p[0]
                if k == CODE:
                    c = p[1]
                    if "-" in c or "." in c or "/" in c or ":" in c or "{" in c:  # see _maybe_name
                        ref = self._code_ref(p, RefKind.CODE, "", prose=True)
                        if ref:
                            refs.append(ref)
                elif k == LINK:
                    ref = self._link_ref(p, "")
                    if ref:
                        refs.append(ref)
                elif p[3] and "-" in p[1]:
                    self._prose_pieces([p])
            return
        if not ("→" in joined or "->" in joined or "=>" in joined or "⇒" in joined or "oute" in joined):
            self._prose_pieces(pieces)
            return
        # Route to and arrows act on the rest of their own line.
        line: list[tuple] = []
        for piece in pieces:
            if piece[0] == BREAK:
                if line:
                    self._line(line)
                line = []
            else:
                line.append(piece)
        if line:
            self._line(line)

    def _line(self, pieces: list[tuple]) -> None:
        before = ""
        for i, p in enumerate(pieces):
            text = p[1]
            if p[0] == TEXT and ("oute" in text or "OUTE" in text):
                m = _ROUTE_TO.search(text)
                # only a line that starts with "Route to" (after bullets, bold or an arrow)
                if m and not _WORDS.search(before + text[: m.start()]):
                    self._prose_pieces(pieces[:i])
                    self._route_list(pieces[i:], m.end(), RefKind.ROUTE_TO, self.section)
                    return
            if len(before) < _LABEL_MAX:
                before += text
            elif _WORDS.search(before):
                break  # a line that starts with words is no Route to line
        # Arrows: the name right after the arrow, in the same text or the next piece. The label
        # is what leads to the arrow since the line start or the previous arrow ("a → b → c":
        # "a" leads to b, "b" to c), cut to a phrase's length.
        handled: set[int] = set()
        label_parts: list[str] = []
        for i, p in enumerate(pieces):
            if p[0] != TEXT:
                label_parts.append(p[1])
                continue
            text = p[1]
            prev = 0
            for m in _ARROW.finditer(text):
                head = text[prev:m.start()]
                label = "".join(label_parts) + head if label_parts else head
                label = label[-_LABEL_MAX:].strip(" :-*\"'`")
                label_parts = []
                prev = m.end()
                if _NON_SPACE.search(text, m.end()):
                    ref = self._first_name(p, m.end(), RefKind.ARROW, label)
                    if ref:
                        self.refs.append(ref)
                        self._phrase(label, ref.span)
                elif i + 1 < len(pieces):
                    ref = self._whole_piece_ref(pieces[i + 1], RefKind.ARROW, label)
                    if ref:
                        handled.add(i + 1)
                        self.refs.append(ref)
                        self._phrase(label, ref.span)
            label_parts.append(text[prev:] if prev else text)
        self._prose_pieces([p for i, p in enumerate(pieces) if i not in handled])

    def _phrase(self, phrase: str, span: Span) -> None:
        if phrase:
            self.phrases.append((phrase, span))

    # --- routing lists ----------------------------------------------------------------------
    def _route_list(self, pieces: list[tuple], offset: int, kind: RefKind, phrase: str) -> None:
        """Names of a routing position (a table target cell, the rest of a Route to line).

        The position is read as a list: names joined by commas, `+`, arrows, "or", "then". A
        parenthesised aside is skipped. The first other word ends the list ("`x.md` for the
        caching part"): what follows is prose, where only deliberate names count.
        """
        depth = 0
        item_has_name = False
        for i, p in enumerate(pieces):
            k = p[0]
            if k == BREAK:
                continue
            if k != TEXT:
                if depth or item_has_name:
                    if item_has_name and not depth:
                        self._prose_pieces(pieces[i:])
                        return
                    self._prose_pieces([p])
                    continue
                ref = self._whole_piece_ref(p, kind, phrase)
                if ref:
                    self.refs.append(ref)
                    self._phrase(phrase, ref.span)
                item_has_name = True
                continue
            text = p[1]
            for m in _TOKEN.finditer(text, offset if i == 0 else 0):
                group = m.lastgroup
                if group == "open":
                    depth += 1
                    continue
                if group == "close":
                    depth = max(0, depth - 1)
                    continue
                if depth:
                    continue
                if group == "sep":
                    item_has_name = False
                    continue
                token = m.group()
                if group == "name" and not token.isalnum():  # hyphenated, qualified, .md or /slash
                    if item_has_name:
                        self._prose_rest(pieces, i, m.start())
                        return
                    item_has_name = True
                    ref = self._name_ref(p, token, m.start(), kind, phrase, bold=p[3])
                    if ref:
                        self.refs.append(ref)
                        self._phrase(phrase, ref.span)
                    continue
                # a single word: a joining word, a lone name, or the first word of prose
                word = token.lower()
                if (word in _LEAD_WORDS and not item_has_name) or (word in _TAIL_WORDS and item_has_name):
                    continue
                if item_has_name or group == "word":
                    self._prose_rest(pieces, i, m.start())
                    return
                item_has_name = True
                # **name**, or a cell (or Route to line) that holds nothing but this one word
                if (p[3] and text.strip() == token) or (len(pieces) == 1 and
                                                       text[offset:].strip(" .:*\"'") == token):
                    ref = self._name_ref(p, token, m.start(), kind, phrase, bold=True)
                    if ref:
                        self.refs.append(ref)
                        self._phrase(phrase, ref.span)

    def _prose_rest(self, pieces: list[tuple], i: int, char: int) -> None:
        """The list ended inside piece i at `char`: the rest of the position is prose."""
        p = pieces[i]
        if p[0] == TEXT and (":" in p[1] or "/" in p[1]):
            self.refs.extend(self._qualified_in_text(p, char))
        self._prose_pieces(pieces[i + 1:])

    def _name_ref(self, p: tuple, token: str, at: int, kind: RefKind, phrase: str, bold: bool) -> Reference | None:
        """A name token of plain text in a routing list: hyphenated, `.md`, qualified or /slash.

        A single plain word ("caching") is too often a concept to be read as a name, unless bold.
        """
        if token.endswith(".md") or "#" in token:
            m = _MD_PATH.fullmatch(token)
            if not m:
                return None
            return Reference(kind, m.group(1), self._span(p, at, at + len(m.group(1))), m.group(2), phrase=phrase)
        if token.startswith("/"):
            return Reference(kind, token[1:], self._span(p, at, at + len(token)), phrase=phrase, slash=True)
        if ":" in token or "/" in token or "-" in token or bold:
            return Reference(kind, token, self._span(p, at, at + len(token)), phrase=phrase)
        return None

    # --- tables -----------------------------------------------------------------------------
    def _table_header(self, table: _Table) -> None:
        headers = ["".join(p[1] for p in cell).strip() for cell in table.cells]
        table.target_cols = {i for i, h in enumerate(headers) if _TARGET_HEADER.search(h)
                             and not _PRODUCT_HEADER.search(h) and not _WRONG_HEADER.search(h)}
        phrase_cols = [i for i, h in enumerate(headers) if i not in table.target_cols and not _PHRASE_HEADER_SKIP.match(h)
                       and not _PRODUCT_HEADER.search(h) and not _WRONG_HEADER.search(h)]
        table.phrase_col = phrase_cols[0] if phrase_cols else -1
        if table.target_cols and len(table.target_cols) == len(headers):
            # "Skill | When to Use" style: every header matched, the first column is the name list
            table.target_cols = {0}
            table.phrase_col = 1 if len(headers) > 1 else -1
        table.cells = []

    def _table_row(self, table: _Table) -> None:
        cells = table.cells
        table.cells = []
        phrase = ""
        if 0 <= table.phrase_col < len(cells):
            phrase = "".join(p[1] for p in cells[table.phrase_col]).strip().strip('"“”').strip()
        for i, cell in enumerate(cells):
            if not cell:
                continue
            if i in table.target_cols:
                self._route_list(cell, 0, RefKind.TABLE, phrase)
            else:
                self._flush(cell)

    # --- references from pieces -------------------------------------------------------------
    def _prose_pieces(self, pieces: list[tuple]) -> None:
        refs = self.refs
        for p in pieces:
            k = p[0]
            if k == TEXT:
                text = p[1]
                if p[3] and "-" in text:
                    name = text.strip()
                    if _KEBAB.fullmatch(name):
                        at = text.index(name)
                        refs.append(Reference(RefKind.BOLD, name, self._span(p, at, at + len(name))))
                        continue
                if ":" in text or "/" in text:
                    refs.extend(self._qualified_in_text(p))
                if ".md" in text:
                    refs.extend(self._md_in_text(p))
                if " skill" in text:
                    for m in _NAMED_SKILL.finditer(text):
                        refs.append(Reference(RefKind.PROSE, m.group(1), self._span(p, m.start(1), m.end(1))))
            elif k == CODE:
                if _maybe_name(p[1]):
                    ref = self._code_ref(p, RefKind.CODE, "", prose=True)
                    if ref:
                        refs.append(ref)
            elif k == LINK:
                ref = self._link_ref(p, "")
                if ref:
                    refs.append(ref)

    def _whole_piece_ref(self, p: tuple, kind: RefKind, phrase: str) -> Reference | None:
        k = p[0]
        if k == LINK:
            return self._link_ref(p, phrase)
        if k == CODE:
            return self._code_ref(p, kind, phrase, prose=False)
        if k == TEXT:
            m = _TOKEN.search(p[1])
            while m and m.lastgroup not in ("name", "word"):
                m = _TOKEN.search(p[1], m.end())
            if m and m.lastgroup == "name":
                return self._name_ref(p, m.group(), m.start(), kind, phrase, bold=p[3])
        return None

    def _link_ref(self, p: tuple, phrase: str) -> Reference | None:
        link: _Link = p[4]
        dest = link.dest.strip()
        if not dest or link.link_type in ("Autolink", "Email") or _is_external(dest):
            return None
        target, _, anchor = dest.partition("#")
        span = self.lm.span(link.dest_start, link.dest_end)
        return Reference(RefKind.LINK, target, span, anchor or None, phrase=phrase)

    def _code_ref(self, p: tuple, kind: RefKind, phrase: str, prose: bool) -> Reference | None:
        content = p[1].strip()
        if not content or len(content) > 120:
            return None
        slash = content[0] == "/" and "/" not in content[1:]
        name = content[1:] if slash else content
        if not slash and ("/" in name or "{" in name) and _FOLDER_OR_TEMPLATE.fullmatch(name) \
                and (name.endswith("/") or "{" in name):
            return Reference(kind, name, self._code_span(p, content), phrase=phrase)
        if _CODEISH.search(name):
            return None
        if not slash and name.endswith(".md") or "#" in name:
            m = _MD_PATH.fullmatch(name)
            return Reference(kind, m.group(1), self._code_span(p, content), m.group(2), phrase=phrase) if m else None
        if _QUALIFIED.fullmatch(name):
            return Reference(kind, name, self._code_span(p, content), phrase=phrase, slash=slash)
        if (slash or not prose or "-" in name) and _KEBAB.fullmatch(name):
            return Reference(kind, name, self._code_span(p, content), phrase=phrase, slash=slash)
        return None

    def _code_span(self, p: tuple, content: str) -> Span:
        start, end = p[2]["start"], p[2]["end"]
        raw = self.data[start:end]
        enc = content.encode()
        idx = raw.find(enc)
        if idx == -1:
            return self.lm.span(start, end)
        return self.lm.span(start + idx, start + idx + len(enc))

    def _span(self, p: tuple, a: int, b: int) -> Span:
        """Span of characters a..b of a text piece's text."""
        start, end = p[2]["start"], p[2]["end"]
        text = p[1]
        if self.ascii:
            if end - start == len(text):
                return self.lm.span(start + a, start + b)
        else:
            raw = self.data[start:end]
            if raw.decode("utf-8", "replace") == text:
                ba = len(text[:a].encode())
                return self.lm.span(start + ba, start + ba + len(text[a:b].encode()))
        # the source differs from the text (escapes, entities): find the token in the source
        raw = self.data[start:end]
        token = text[a:b].encode()
        idx = raw.find(token)
        if idx == -1:
            return self.lm.span(start, end)
        return self.lm.span(start + idx, start + idx + len(token))

    def _first_name(self, p: tuple, offset: int, kind: RefKind, phrase: str) -> Reference | None:
        text = p[1]
        # Only the word right after the arrow: "→ check the loss" is prose, "→ my-skill" a route.
        m = _FIRST_WORD.match(text, offset)
        if not m:
            return None
        word = m.group(1).rstrip(".,;:)")
        word_at = m.start(1)
        after = _NEXT_WORD.match(text, m.end(1))
        if after and after.group(1).lower() not in _TAIL_WORDS:
            return None  # "→ delivery-orchestration package": a chain of prose, not a route
        for rx in (_QUALIFIED, _SLASH, _MD_PATH, _KEBAB):
            mm = rx.fullmatch(word)
            if not mm:
                continue
            if rx is _KEBAB and "-" not in mm.group(1) and not mm.group(2):
                return None
            slash = rx is _SLASH
            target = word[1:] if slash else word
            anchor = None
            length = len(word)
            if rx is _MD_PATH:
                target, anchor = mm.group(1), mm.group(2)
                length = len(target)
            return Reference(kind, target, self._span(p, word_at, word_at + length), anchor, phrase=phrase, slash=slash)
        return None

    def _md_in_text(self, p: tuple) -> list[Reference]:
        """`see reference.md` in running text: authors name the sheets to read this way."""
        text = p[1]
        out = []
        for m in _MD_PATH.finditer(text):
            name = m.group(1)
            if "://" in text[max(0, m.start() - 12):m.start()]:
                continue  # the tail of a URL
            out.append(Reference(RefKind.PROSE, name, self._span(p, m.start(), m.start() + len(name)), m.group(2)))
        return out

    def _qualified_in_text(self, p: tuple, pos: int = 0) -> list[Reference]:
        text = p[1]
        out: list[Reference] = []
        if ":" in text and _QUALIFIED_COLON.search(text, pos):
            for m in _QUALIFIED.finditer(text, pos):
                # plugin/name in prose is too often a path or an either/or ("train/test"); keep the
                # colon form, which authors use for cross-pack references in running text.
                if m.group(2) == ":":
                    out.append(Reference(RefKind.PROSE, m.group(0), self._span(p, m.start(), m.end())))
        if "/" in text:
            for m in _SLASH.finditer(text, pos):
                out.append(Reference(RefKind.PROSE, m.group(1), self._span(p, m.start(), m.end()), slash=True))
        return out

    # --- code fences ------------------------------------------------------------------------
    def _check_fence(self, start: int, end: int) -> None:
        """A fence that opens a nested example inside a fenced block closes the outer one early.

        Two shapes: a Markdown example whose nested ```lang block's closing fence ends the outer
        block; and a nested example opened with a bare fence, which closes the outer block at once.
        The second shows only in the cascade: the next block opens with a bare fence and holds the
        nested example's ```lang lines as text.
        """
        data = self.data
        nl = data.find(b"\n", start, end)
        if nl == -1:
            return
        m = _FENCE_LINE.match(data[start:nl].decode("utf-8", "replace"))
        if not m:
            return
        outer, info = m.group(1), m.group(2).strip().lower()
        first = self.lm.line_of(start)
        e = end
        while e > nl and data[e - 1] in (10, 13, 32, 9):  # trailing blank lines belong to no one
            e -= 1
        last_start = data.rfind(b"\n", nl, e) + 1 if e > nl else nl + 1
        close = data[last_start:e].decode("utf-8", "replace") if e > nl else ""
        close_line = self.lm.line_of(last_start) if e > nl else first
        closes = _FENCE_LINE.match(close) if e > nl else None
        closed = closes is not None and not closes.group(2).strip() \
            and closes.group(1)[0] == outer[0] and len(closes.group(1)) >= len(outer)
        previous, self.last_fence = self.last_fence, (info, first, close_line, len(close), outer, closed)
        body_end = last_start if closed else e
        if data.find(outer[0].encode() * 3, nl, body_end) == -1:
            return  # no fence-like line inside: nothing nested (the usual case)
        block = data[start:e].decode("utf-8", "replace").split("\n")
        inner_lines = [i for i, line in enumerate(block[1:-1] if closed else block[1:], start=1)
                       if (fm := _FENCE_LINE.match(line)) and fm.group(1)[0] == outer[0] and fm.group(2).strip()]
        if info in ("markdown", "md") and closed:
            open_inner = None
            for i, line in enumerate(block[1:-1], start=1):
                fm = _FENCE_LINE.match(line)
                if not fm or fm.group(1)[0] != outer[0]:
                    continue
                open_inner = i if fm.group(2).strip() and open_inner is None else (
                    None if not fm.group(2).strip() else open_inner)
            if open_inner is not None:
                self._early_close(first, close_line, len(close), outer,
                                  f"the nested example opened on line {first + open_inner + 1}")
            return
        # the cascade follows the early close at once: a line or two of the nested example's
        # body, then its closing fence, which opens this bare block
        if info == "" and inner_lines and previous is not None and previous[0] in ("markdown", "md") \
                and previous[5] and not self.fence_broken and 1 < first - previous[2] <= 4 \
                and all(self._line_text(n).strip() for n in range(previous[2] + 1, first)):
            p_info, p_first, p_close, p_width, p_outer, _ = previous
            self._early_close(p_first, p_close, p_width, p_outer, "a nested example opened with a bare fence")

    def _line_text(self, line: int) -> str:
        starts = self.lm.starts
        if line >= len(starts):
            return ""
        end = starts[line + 1] - 1 if line + 1 < len(starts) else len(self.data)
        return self.data[starts[line]:end].decode("utf-8", "replace")

    def _early_close(self, first: int, close_line: int, width: int, outer: str, what: str) -> None:
        if self.fence_broken:
            return  # the first early close explains the rest of the file's fences
        self.fence_broken = close_line
        self.problems.append(
            Problem(
                "MD001",
                f"this fence closes the block opened on line {first + 1} early: {what} needs the outer "
                f"fence to be longer (use {outer[0] * (len(outer) + 1)}); references below it are not "
                "checked until it is fixed",
                Span(close_line, 0, close_line, width),
            )
        )


def _maybe_name(code: str) -> bool:
    """Whether a code span in prose could be a reference at all: a hyphenated, dotted, qualified
    or /slash name, or a path. `torch`, `x = 1` and `detach()` are dropped here unread."""
    return "-" in code or "." in code or "/" in code or ":" in code or "{" in code


def _link_piece(link: _Link, strong: bool) -> tuple:
    return (LINK, "".join(link.text), {"start": link.start, "end": link.end}, strong, link)


_LEVELS = {"H1": 1, "H2": 2, "H3": 3, "H4": 4, "H5": 5, "H6": 6}


def _heading_level(attrs: Any) -> int:
    level = attrs.get("level", "H1") if isinstance(attrs, dict) else attrs
    return _LEVELS.get(level, 1) if isinstance(level, str) else 1


_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|~|\$|/|\{\{|<)", re.I)


def _is_external(dest: str) -> bool:
    """URLs, absolute, home and variable paths are not ours to judge."""
    return bool(_EXTERNAL.match(dest)) and not dest.startswith("#")
