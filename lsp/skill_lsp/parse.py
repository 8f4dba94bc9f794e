"""Text of one Markdown file -> ParsedDoc: front matter, headings and references. Pure, no I/O.

Markdown structure comes from pyromark (pulldown-cmark); this module only decides which of the
parsed pieces are references, and where they sit, from the position they are written in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

import pyromark

from .frontmatter import parse_front_matter
from .model import Heading, ParsedDoc, Problem, Reference, RefKind, Span
from .positions import LineMap
from .slugs import SlugCounter

_OPTIONS = (
    pyromark.Options.ENABLE_TABLES
    | pyromark.Options.ENABLE_YAML_STYLE_METADATA_BLOCKS
    | pyromark.Options.ENABLE_STRIKETHROUGH
)

# A header cell that names where a row sends the reader makes its column a target column.
_TARGET_HEADER = re.compile(
    r"route|skill|sheet|\bload|pack\b|plugin|\buse\b|use this|reference|go to|invoke|command|"
    r"\bsee\b|\bread\b|agent|\btarget|\bfile\b|\bdoc\b",
    re.I,
)
# Header cells whose column lists what NOT to use are still names, but never a routing phrase.
_PHRASE_HEADER_SKIP = re.compile(r"^\s*#?\s*$")

_NAME = r"[a-z0-9]+(?:-[a-z0-9]+)*"
_KEBAB = re.compile(rf"(?<![\w./:@$-])({_NAME}-[a-z0-9]+|{_NAME})(\.md)?(?![\w/@-])")
_QUALIFIED = re.compile(
    rf"(?<![\w./:@$-])({_NAME})(?:(:)({_NAME})|/({_NAME})(?:/({_NAME}(?:\.md)?))?)(?![\w/@:-])"
)
_SLASH = re.compile(rf"(?<![\w/.~$:\]\)`-])/({_NAME}(?::{_NAME})?)(?![\w/.-])")
_MD_PATH = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*[\w-][\w.-]*\.md)(?:#([\w-]+))?(?![\w/-])")
_ROUTE_TO = re.compile(r"\broute\s+to\b\s*[:→-]*", re.I)
_ARROW = re.compile(r"(?:→|->|⇒|=>)\s*")
_DISABLE = re.compile(r"<!--\s*skill-lsp:\s*(disable|disable-next-line|disable-file)(?:=([\w, ]+))?\s*-->")
_FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_CODEISH = re.compile(r"[()\[\]{}=<>;,'\"]|\s")

_WORDS = re.compile(r"[^\W_]{2,}")
_TREE_FENCES = {"", "text", "txt", "plaintext", "plain"}
_TREE_CHARS = re.compile(r"[│├└┌┐┘┬┴┼─|+`]")

_INLINE_TAGS = {"Emphasis", "Strong", "Strikethrough", "Link", "Image", "Superscript", "Subscript"}


@dataclass(slots=True)
class _Piece:
    """One inline event flattened: what it is, its text and its byte range."""

    kind: str  # text | code | link | strong | break | html
    text: str
    start: int
    end: int
    dest: str = ""
    dest_start: int = -1
    dest_end: int = -1
    link_type: str = ""
    in_strong: bool = False
    in_link: bool = False


@dataclass(slots=True)
class _Table:
    target_cols: set[int] = field(default_factory=set)
    phrase_col: int = 0
    header_done: bool = False
    col: int = -1
    row: list[list[_Piece]] = field(default_factory=list)


def parse(text: str) -> ParsedDoc:
    """Parse one Markdown file. Never raises on any input text."""
    text = text.replace("\r\n", "\n") if "\r" in text else text
    fm, body_line = parse_front_matter(text)
    lm = LineMap(text)
    builder = _Builder(text, lm)
    builder.run()
    lines = text.split("\n")
    body = "\n".join(lines[body_line:])
    doc = ParsedDoc(
        text=text,
        front_matter=fm,
        headings=builder.headings,
        references=builder.refs,
        body_start_line=body_line,
        line_count=len(lines) - body_line,
        body_words=len(body.split()),
        body_chars=len(body),
        problems=builder.problems,
        routing_phrases=builder.phrases,
    )
    if "skill-lsp:" in text:
        _read_disables(lines, doc)
    return doc


def _read_disables(lines: list[str], doc: ParsedDoc) -> None:
    file_codes: set[str] = set()
    for i, line in enumerate(lines):
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
        self.headings: list[Heading] = []
        self.refs: list[Reference] = []
        self.problems: list[Problem] = []
        self.phrases: list[tuple[str, Span]] = []
        self.slugs = SlugCounter()
        self.section = ""  # text of the last heading: the phrase for Route to lines under it

    # --- event walk -------------------------------------------------------------------------
    def run(self) -> None:
        try:
            events = pyromark.events_with_range(self.text, options=_OPTIONS)
        except Exception as exc:  # pyromark is robust, but a parser bug must not reach the user
            self.problems.append(Problem("IO002", f"Markdown could not be parsed: {exc}", Span(0, 0, 0, 0)))
            return
        pieces: list[_Piece] = []
        stack: list[str] = []
        table: _Table | None = None
        heading_level = 0
        link_stack: list[_Piece] = []
        code_info: str | None = None  # info string of the fenced block we are in
        for event, rng in events:
            start, end = rng["start"], rng["end"]
            if isinstance(event, str):  # SoftBreak, HardBreak, Rule
                if event in ("SoftBreak", "HardBreak"):
                    pieces.append(_Piece("break", "\n", start, end))
                continue
            (name, value), = event.items()
            if name == "Start":
                tag, attrs = _tag(value)
                if tag in _INLINE_TAGS:
                    stack.append(tag)
                    if tag == "Link" or tag == "Image":
                        link_stack.append(self._link_piece(tag, attrs, start, end))
                    continue
                self._flush(pieces, table, heading_level)
                pieces = []
                if tag == "Heading":
                    heading_level = _heading_level(attrs)
                elif tag == "Table":
                    table = _Table()
                elif tag == "TableCell" and table is not None:
                    table.col += 1
                elif tag == "TableRow" and table is not None or tag == "TableHead" and table is not None:
                    table.col, table.row = -1, []
                elif tag == "CodeBlock":
                    self._check_fence(attrs, start, end)
                    code_info = str(attrs.get("info", "")).strip().lower()
                continue
            if name == "End":
                tag, _ = _tag(value)
                if tag in _INLINE_TAGS:
                    if stack:
                        stack.pop()
                    if tag in ("Link", "Image") and link_stack:
                        pieces.append(link_stack.pop())
                    continue
                if tag == "TableCell" and table is not None:
                    table.row.append(pieces)
                    pieces = []
                    continue
                if tag == "TableHead" and table is not None:
                    self._table_header(table)
                    continue
                if tag == "TableRow" and table is not None:
                    self._table_row(table)
                    continue
                if tag == "Table":
                    table = None
                    continue
                if tag == "CodeBlock":
                    code_info = None
                    continue
                self._flush(pieces, table, heading_level, heading_range=(start, end) if tag == "Heading" else None)
                pieces = []
                if tag == "Heading":
                    heading_level = 0
                continue
            if code_info is not None:
                if name == "Text" and code_info in _TREE_FENCES:
                    self._decision_tree(value, start, end)
                continue
            if name in ("Text", "Code", "InlineHtml", "Html", "InlineMath", "DisplayMath"):
                if name == "Html":
                    continue
                kind = {"Text": "text", "Code": "code"}.get(name, "html")
                piece = _Piece(kind, value, start, end, in_strong="Strong" in stack, in_link=bool(link_stack))
                if link_stack:
                    link_stack[-1].text += value if kind != "html" else ""
                    continue
                pieces.append(piece)
        self._flush(pieces, table, heading_level)

    def _decision_tree(self, text: str, start: int, end: int) -> None:
        """Arrows in a plain fenced decision tree name routes; they feed routing, never lint."""
        if "→" not in text and "->" not in text:
            return
        if self.data[start:end].decode("utf-8", "replace") != text:
            return
        offset = start
        previous = ""
        for line in text.split("\n"):
            label = ""
            m = _ARROW.search(line)
            if m:
                label = _TREE_CHARS.sub("", line[: m.start()]).strip(" :-*\"'`?") or previous
                piece = _Piece("text", line, offset, offset + len(line.encode()))
                ref = self._first_name(piece, m.end(), RefKind.ARROW, label)
                if ref:
                    ref = replace(ref, in_code=True)
                    self.refs.append(ref)
                    self._phrase(label, ref.span)
            stripped = _TREE_CHARS.sub("", line).strip()
            if stripped and not m:
                previous = stripped.strip(" :-*\"'`")
            offset += len(line.encode()) + 1

    def _link_piece(self, tag: str, attrs: dict[str, Any], start: int, end: int) -> _Piece:
        dest = str(attrs.get("dest_url", ""))
        link_type = str(attrs.get("link_type", ""))
        piece = _Piece("link" if tag == "Link" else "image", "", start, end, dest=dest, link_type=link_type)
        raw = self.data[start:end]
        ds = -1
        if link_type == "Inline" and dest:
            enc = dest.encode()
            close = raw.rfind(b"](")
            if close != -1:
                ds = raw.find(enc, close)
        if ds != -1:
            piece.dest_start, piece.dest_end = start + ds, start + ds + len(dest.encode())
        else:
            piece.dest_start, piece.dest_end = start, end
        return piece

    # --- blocks -----------------------------------------------------------------------------
    def _flush(
        self, pieces: list[_Piece], table: _Table | None, heading_level: int,
        heading_range: tuple[int, int] | None = None,
    ) -> None:
        if heading_range is not None and heading_level:
            text = "".join(p.text for p in pieces if p.kind in ("text", "code", "link")).strip()
            self.headings.append(
                Heading(heading_level, text, self.slugs.slug(text), self.lm.span(*_trim(self.data, *heading_range)))
            )
            self.section = text
        if not pieces:
            return
        # Split the block into lines: Route to and arrows act on the rest of their own line.
        line: list[_Piece] = []
        for piece in pieces:
            if piece.kind == "break":
                self._line(line)
                line = []
            else:
                line.append(piece)
        self._line(line)

    def _line(self, pieces: list[_Piece]) -> None:
        if not pieces:
            return
        route_from: tuple[int, int] | None = None  # (piece index, char offset) after "Route to"
        before = ""
        for i, p in enumerate(pieces):
            if p.kind == "text":
                m = _ROUTE_TO.search(p.text)
                # only a line that starts with "Route to" (after bullets, bold or an arrow)
                if m and not _WORDS.search(before + p.text[: m.start()]):
                    route_from = (i, m.end())
                    break
            before += p.text
        if route_from is not None:
            phrase = self.section
            self._routing_pieces(pieces, route_from, RefKind.ROUTE_TO, phrase)
            self._prose_pieces(pieces[: route_from[0]])
            return
        # Arrows: the name right after the arrow, in the same text or the next piece.
        handled: set[int] = set()
        for i, p in enumerate(pieces):
            if p.kind != "text":
                continue
            for m in _ARROW.finditer(p.text):
                label = "".join(q.text for q in pieces[:i] if q.kind in ("text", "code", "link"))
                label = (label + p.text[: m.start()]).strip(" :-*\"'`")
                rest = p.text[m.end():]
                if rest.strip():
                    ref = self._first_name(p, m.end(), RefKind.ARROW, label)
                    if ref:
                        self.refs.append(ref)
                        self._phrase(label, ref.span)
                elif i + 1 < len(pieces):
                    nxt = pieces[i + 1]
                    ref = self._whole_piece_ref(nxt, RefKind.ARROW, label)
                    if ref:
                        handled.add(i + 1)
                        self.refs.append(ref)
                        self._phrase(label, ref.span)
        self._prose_pieces([p for i, p in enumerate(pieces) if i not in handled])

    def _phrase(self, phrase: str, span: Span) -> None:
        if phrase:
            self.phrases.append((phrase, span))

    # --- tables -----------------------------------------------------------------------------
    def _table_header(self, table: _Table) -> None:
        headers = ["".join(p.text for p in cell).strip() for cell in table.row]
        table.target_cols = {i for i, h in enumerate(headers) if _TARGET_HEADER.search(h)}
        phrase_cols = [i for i, h in enumerate(headers) if i not in table.target_cols and not _PHRASE_HEADER_SKIP.match(h)]
        table.phrase_col = phrase_cols[0] if phrase_cols else -1
        if len(table.target_cols) == len(headers):  # "Skill | When to Use" style: first column is a name list
            table.target_cols = {0}
            table.phrase_col = 1 if len(headers) > 1 else -1
        table.header_done = True
        table.row = []

    def _table_row(self, table: _Table) -> None:
        cells = table.row
        table.row = []
        phrase = ""
        if 0 <= table.phrase_col < len(cells):
            phrase = "".join(p.text for p in cells[table.phrase_col]).strip().strip('"“”').strip()
        for i, cell in enumerate(cells):
            if i in table.target_cols and table.target_cols != set(range(len(cells))):
                for ref in self._cell_refs(cell, phrase):
                    self.refs.append(ref)
                    self._phrase(phrase, ref.span)
            else:
                self._prose_pieces(cell)

    def _cell_refs(self, cell: list[_Piece], phrase: str) -> list[Reference]:
        refs: list[Reference] = []
        for p in cell:
            if p.kind in ("link", "code") or (p.kind == "text" and p.in_strong and _KEBAB.fullmatch(p.text.strip())):
                ref = self._whole_piece_ref(p, RefKind.TABLE, phrase)
                if ref:
                    refs.append(ref)
            elif p.kind == "text":
                refs.extend(self._names_in_text(p, RefKind.TABLE, phrase, need_hyphen=True))
        return refs

    # --- references from pieces -------------------------------------------------------------
    def _routing_pieces(self, pieces: list[_Piece], start: tuple[int, int], kind: RefKind, phrase: str) -> None:
        first, offset = start
        for i in range(first, len(pieces)):
            p = pieces[i]
            if i == first:
                refs = self._names_in_text(p, kind, phrase, need_hyphen=True, from_char=offset)
            elif p.kind in ("link", "code") or (p.kind == "text" and p.in_strong and _KEBAB.fullmatch(p.text.strip())):
                ref = self._whole_piece_ref(p, kind, phrase)
                refs = [ref] if ref else []
            elif p.kind == "text":
                refs = self._names_in_text(p, kind, phrase, need_hyphen=True)
            else:
                refs = []
            for ref in refs:
                self.refs.append(ref)
                self._phrase(phrase, ref.span)

    def _prose_pieces(self, pieces: list[_Piece]) -> None:
        for p in pieces:
            if p.kind == "link":
                ref = self._link_ref(p, "")
                if ref:
                    self.refs.append(ref)
            elif p.kind == "code":
                ref = self._code_ref(p, RefKind.CODE, "", prose=True)
                if ref:
                    self.refs.append(ref)
            elif p.kind == "text" and p.in_strong:
                name = p.text.strip()
                if "-" in name and _KEBAB.fullmatch(name):
                    self.refs.append(Reference(RefKind.BOLD, name, self._text_span(p, name)))
                else:
                    self.refs.extend(self._qualified_in_text(p))
            elif p.kind == "text":
                self.refs.extend(self._qualified_in_text(p))

    def _whole_piece_ref(self, p: _Piece, kind: RefKind, phrase: str) -> Reference | None:
        if p.kind == "link":
            return self._link_ref(p, phrase)
        if p.kind == "code":
            return self._code_ref(p, kind, phrase, prose=False)
        if p.kind == "text":
            refs = self._names_in_text(p, kind, phrase, need_hyphen=not p.in_strong, first_only=True)
            return refs[0] if refs else None
        return None

    def _link_ref(self, p: _Piece, phrase: str) -> Reference | None:
        dest = p.dest.strip()
        if not dest or p.link_type in ("Autolink", "Email") or _is_external(dest):
            return None
        target, _, anchor = dest.partition("#")
        span = self.lm.span(p.dest_start, p.dest_end)
        return Reference(RefKind.LINK, target, span, anchor or None, phrase=phrase)

    def _code_ref(self, p: _Piece, kind: RefKind, phrase: str, prose: bool) -> Reference | None:
        content = p.text.strip()
        if not content or len(content) > 120:
            return None
        slash = content.startswith("/") and "/" not in content[1:]
        name = content[1:] if slash else content
        if _CODEISH.search(name):
            return None
        inner = self._code_inner_span(p, content)
        m = _MD_PATH.fullmatch(name)
        if m and not slash:
            return Reference(kind, m.group(1), inner, m.group(2), phrase=phrase)
        if _QUALIFIED.fullmatch(name):
            return Reference(kind, name, inner, phrase=phrase, slash=slash)
        if _KEBAB.fullmatch(name) and (slash or not prose or "-" in name):
            return Reference(kind, name, inner, phrase=phrase, slash=slash)
        return None

    def _code_inner_span(self, p: _Piece, content: str) -> Span:
        raw = self.data[p.start:p.end]
        idx = raw.find(content.encode())
        if idx == -1:
            return self.lm.span(p.start, p.end)
        return self.lm.span(p.start + idx, p.start + idx + len(content.encode()))

    def _text_span(self, p: _Piece, token: str, char_offset: int | None = None) -> Span:
        raw = self.data[p.start:p.end]
        if char_offset is not None and raw.decode("utf-8", "replace") == p.text:
            b = len(p.text[:char_offset].encode())
        else:
            b = raw.find(token.encode())
            if b == -1:
                return self.lm.span(p.start, p.end)
        return self.lm.span(p.start + b, p.start + b + len(token.encode()))

    def _names_in_text(
        self, p: _Piece, kind: RefKind, phrase: str, need_hyphen: bool,
        from_char: int = 0, first_only: bool = False,
    ) -> list[Reference]:
        if p.kind != "text":
            return []
        text = p.text
        out: list[Reference] = []
        taken: list[tuple[int, int]] = []

        def free(a: int, b: int) -> bool:
            return all(b <= s or a >= e for s, e in taken)

        for rx in (_QUALIFIED, _SLASH, _MD_PATH, _KEBAB):
            for m in rx.finditer(text, from_char):
                a, b = m.span()
                if not free(a, b):
                    continue
                token = m.group(0)
                slash = rx is _SLASH
                anchor = None
                if rx is _MD_PATH:
                    token, anchor = m.group(1), m.group(2)
                    b = a + len(token)
                elif rx is _KEBAB:
                    if need_hyphen and "-" not in m.group(1) and not m.group(2):
                        continue
                target = token[1:] if slash else token
                out.append(Reference(kind, target, self._text_span(p, token, a), anchor, phrase=phrase, slash=slash))
                taken.append((a, b if rx is not _MD_PATH else m.end()))
        out.sort(key=lambda r: (r.span.start_line, r.span.start_col))
        return out[:1] if first_only else out

    def _first_name(self, p: _Piece, offset: int, kind: RefKind, phrase: str) -> Reference | None:
        rest = p.text[offset:]
        # Only the word right after the arrow: "→ check the loss" is prose, "→ my-skill" a route.
        m = re.match(r"\s*(\S+)", rest)
        if not m:
            return None
        word = m.group(1).rstrip(".,;:)")
        word_at = offset + m.start(1)
        for rx in (_QUALIFIED, _SLASH, _MD_PATH, _KEBAB):
            mm = rx.fullmatch(word)
            if not mm:
                continue
            if rx is _KEBAB and "-" not in mm.group(1) and not mm.group(2):
                return None
            slash = rx is _SLASH
            target = word[1:] if slash else word
            anchor = None
            if rx is _MD_PATH:
                target, anchor = mm.group(1), mm.group(2)
            return Reference(kind, target, self._text_span(p, word, word_at), anchor, phrase=phrase, slash=slash)
        return None

    def _qualified_in_text(self, p: _Piece) -> list[Reference]:
        text = p.text
        if ":" not in text and "/" not in text:
            return []
        out: list[Reference] = []
        for m in _QUALIFIED.finditer(text):
            # plugin/name in prose is too often a path or an either/or ("train/test"); keep the
            # colon form, which authors use for cross-pack references in running text.
            if m.group(2) == ":":
                out.append(Reference(RefKind.PROSE, m.group(0), self._text_span(p, m.group(0), m.start())))
        for m in _SLASH.finditer(text):
            out.append(Reference(RefKind.PROSE, m.group(1), self._text_span(p, m.group(0), m.start()), slash=True))
        return out

    # --- code fences ------------------------------------------------------------------------
    def _check_fence(self, attrs: dict[str, Any], start: int, end: int) -> None:
        """A fence that opens a nested example inside a fenced block closes the outer one early."""
        if not attrs.get("fenced"):
            return
        block = self.data[start:end].decode("utf-8", "replace").split("\n")
        if len(block) < 2:
            return
        m = _FENCE_LINE.match(block[0])
        if not m:
            return
        outer, info = m.group(1), m.group(2).strip()
        if info.lower() not in ("markdown", "md"):
            return  # a bare fence right after an early close is the cascade, not a new mistake
        open_inner = None
        for i, line in enumerate(block[1:-1], start=1):
            fm = _FENCE_LINE.match(line)
            if not fm or fm.group(1)[0] != outer[0]:
                continue
            if fm.group(2).strip() and open_inner is None:
                open_inner = i
            elif not fm.group(2).strip():
                open_inner = None
        last = block[-1] if block[-1].strip() else (block[-2] if len(block) > 2 else "")
        closes = _FENCE_LINE.match(last)
        if open_inner is not None and closes and not closes.group(2).strip():
            first = self.lm.line_of(start)
            close_line = first + (len(block) - 1 if block[-1].strip() else len(block) - 2)
            width = len(last)
            self.problems.append(
                Problem(
                    "MD001",
                    f"this fence closes the block opened on line {first + 1} early: the nested example "
                    f"opened on line {first + open_inner + 1} needs the outer fence to be longer "
                    f"(use {outer[0] * (len(outer) + 1)})",
                    Span(close_line, 0, close_line, width),
                )
            )


def _trim(data: bytes, start: int, end: int) -> tuple[int, int]:
    while end > start and data[end - 1:end] in (b"\n", b"\r", b" "):
        end -= 1
    return start, end


def _tag(value: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(value, str):
        return value, {}
    if isinstance(value, dict):
        (tag, attrs), = value.items()
        if tag == "CodeBlock":
            fenced = isinstance(attrs, dict) and "Fenced" in attrs
            return tag, {"fenced": fenced, "info": attrs["Fenced"] if fenced else "indented"}
        if tag == "Heading":
            return tag, attrs if isinstance(attrs, dict) else {"level": attrs}
        return tag, attrs if isinstance(attrs, dict) else {}
    return str(value), {}


def _heading_level(attrs: dict[str, Any]) -> int:
    level = str(attrs.get("level", "H1"))
    return int(level[1:]) if level[1:].isdigit() else 1


_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|~|\$|/|\{\{|<)", re.I)


def _is_external(dest: str) -> bool:
    """URLs, absolute, home and variable paths are not ours to judge."""
    return bool(_EXTERNAL.match(dest)) and not dest.startswith("#")
