"""Which skill or sheet should an agent load for this task? A lexical router over the live index.

The ranking is BM25F: every target (a skill's SKILL.md or a sheet) is a bag of fields, each with
its own weight and length normalisation. What the research on tool and skill selection says moves
accuracy decides the fields: the name, the description's "Use when" clause, the rest of the
description, headings, the bullets of "When to Use"/"Symptoms" sections, the body (low), and the
words routers use to send readers to the target (the routing phrase itself, "anchor", and the
row or section it sits in, "context"), like anchor text in web search.

Three more signals sit on top of the sum:
- an exact routing phrase (the query is, word for word, a phrase some router sends to a target)
  puts that target first: the author said so;
- soft hierarchy: a sheet borrows a fraction of its skill's own score and a skill of its pack
  router's, so a sheet in the right pack beats a look-alike in another; a router scores at least a
  fraction of its best child, so the pack shows up too, never as a gate;
- a query that names a skill (`systematic-debugging`) finds it.

Everything is derived from the index and cached per document (by the identity of its parsed
text); the postings are rebuilt when `ix.generation` moves, reusing the cached per-document work.
"""

from __future__ import annotations

import heapq
import math
import os
import re
import weakref
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .model import Doc, DocKind, Reference, RefKind
from .stem import STOP_WORDS, stem, tokens

if TYPE_CHECKING:
    from .index import SkillIndex

FIELDS: tuple[str, ...] = ("name", "use_when", "desc", "headings", "bullets", "body", "anchor", "context", "mention")
# Field weights (w) and length normalisation (b). Chosen on the dev sets as whole groups, not per row:
# the description and name carry the routing signal an agent also sees; anchors are strong but
# must not drown the description (paraphrases rarely share the table's wording).
WEIGHT: dict[str, float] = {
    "name": 3.0, "use_when": 2.5, "desc": 1.6, "headings": 0.8, "bullets": 1.4, "body": 0.25,
    "anchor": 2.2, "context": 0.9, "mention": 1.0,
}
BNORM: dict[str, float] = {
    "name": 0.3, "use_when": 0.5, "desc": 0.5, "headings": 0.6, "bullets": 0.6, "body": 0.8,
    "anchor": 0.6, "context": 0.7, "mention": 0.7,
}
K1 = 1.4
# Adjacent word pairs as extra terms: tried on the dev sets, they lost as much as they won, so off.
BIGRAM_WEIGHT = 0.0
PARENT_SHARE = 0.3  # share of a sheet's skill (or a skill's pack router) own score it borrows
CHILD_SHARE = 0.6
ROUTER_DAMP = 1.0  # a router's own text is the union of its children's topics: its own match counts this much  # a router scores at least this share of its best child
EXACT_BONUS = 1.0
REPEAT_BONUS = 0.02  # per further router that sends the same phrase to the same target
# how much an exact phrase counts by the kind of router that writes it: a pack's own SKILL.md router
# is the authors' main routing; tables inside sheets and slash-command wrappers are secondary
SOURCE_WEIGHT: dict[DocKind, float] = {DocKind.SKILL: 1.0, DocKind.COMMAND: 0.85, DocKind.AGENT: 0.8,
                                       DocKind.SHEET: 0.8}  # added over the best lexical score for an exact routing phrase
CONFIDENT_COVERAGE = 0.34  # idf share of the query a confident top answer must match

_TARGET_KINDS = (DocKind.SKILL, DocKind.SHEET)
_USE_WHEN = re.compile(
    r"^\W*(?:use|load|invoke|apply|read|consult|triggers?)\b[^.]{0,40}?\b(?:when|if|for|before|after|while|to)\b"
    r"|^\W*when\b|^\W*(?:symptoms?|triggers?)\s*:",
    re.I,
)
_NEGATIVE = re.compile(r"^\W*(?:do\s+not|don'?t|never|not\s+for|not\s+when|avoid\s+(?:using|for))\b", re.I)
_SENTENCE = re.compile(r"(?<=[.!?;])\s+(?=[A-Z\"'`*(])")
_TRIGGER_HEADING = re.compile(
    r"when\s+to\s+(?:use|load|apply|read)|symptom|trigger|use\s+(?:this|it)\s+when|use\s+cases?|"
    r"when\s+you\b|signs?\b|red\s+flags",
    re.I,
)
_NEG_LINE = re.compile(r"\b(?:do\s+\**not\**|don'?t|not\s+for|never)\b.*\b(?:use|load|apply)\b|^\W*not\s+for\b",
                       re.I)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$")
_RAW_WORD = re.compile(r"[a-z0-9]+")
_NAMEISH = re.compile(r"[a-z0-9]+(?:[-_:/][a-z0-9]+)+(?:\.md)?")


def phrase_key(text: str) -> str:
    """A routing phrase as compared for exact matches: lowercase words, nothing else."""
    return " ".join(_RAW_WORD.findall(text.lower()))


# --- per-document fields ------------------------------------------------------------------------
@dataclass(slots=True)
class _DocText:
    """The fields a document contributes by itself (anchors come from other documents)."""

    counts: dict[str, Counter[str]]


def _split_name(name: str) -> str:
    return re.sub(r"[-_./:]+", " ", name.removesuffix(".md"))


def _description_fields(desc: str) -> tuple[str, str]:
    """(the "Use when" sentences, the rest); "Do not use for ..." sentences are dropped."""
    use_when: list[str] = []
    rest: list[str] = []
    for sentence in _SENTENCE.split(desc):
        if _NEGATIVE.search(sentence):
            continue
        (use_when if _USE_WHEN.search(sentence) else rest).append(sentence)
    return " ".join(use_when), " ".join(rest)


def _body_fields(text: str, start_line: int) -> tuple[list[str], list[str], list[str], str]:
    """(headings, trigger bullets, body lines, first paragraph) of a Markdown body, code skipped."""
    headings: list[str] = []
    bullets: list[str] = []
    body: list[str] = []
    first_para: list[str] = []
    fence: str | None = None
    trigger_level = 0  # > 0 while inside a "When to Use" / "Symptoms" section of that level
    negated = False
    para_done = False
    lines = text.split("\n")
    for line in lines[start_line:]:
        m = _FENCE.match(line)
        if fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            continue
        if m:
            fence = m.group(1)
            continue
        h = _HEADING.match(line)
        if h:
            level = len(h.group(1))
            title = h.group(2)
            headings.append(title)
            if trigger_level and level <= trigger_level:
                trigger_level = 0
            if _TRIGGER_HEADING.search(title) and not _NEG_LINE.search(title):
                trigger_level = level
                negated = False
            if first_para:
                para_done = True
            continue
        stripped = line.strip()
        if not stripped:
            if first_para:
                para_done = True
            continue
        b = _BULLET.match(line)
        if trigger_level:
            if b is None:
                negated = bool(_NEG_LINE.search(stripped))
                if not negated:
                    bullets.append(stripped)
                continue
            if not negated:
                bullets.append(b.group(1))
            continue
        if (stripped.startswith(("**Symptom", "Symptom", "**Trigger"))) and ":" in stripped[:20]:
            bullets.append(stripped)
            continue
        if not para_done and not stripped.startswith(("|", ">", "<")):
            first_para.append(stripped)
        body.append(stripped)
    return headings, bullets, body, " ".join(first_para)[:600]


def _doc_text(ix: SkillIndex, doc: Doc) -> _DocText:
    parsed = doc.parsed
    if doc.kind is DocKind.SKILL:
        skill = ix.skills.get(os.path.dirname(doc.path))
        names = {skill.name, skill.folder} if skill else {os.path.basename(os.path.dirname(doc.path))}
        name = " ".join(_split_name(n) for n in sorted(names))
    else:
        name = _split_name(os.path.basename(doc.path))
    headings, bullets, body, first_para = _body_fields(parsed.text, parsed.body_start_line)
    desc = parsed.description()
    if not desc:
        # a sheet without front matter is described by its opening paragraph
        desc = first_para
    use_when, rest = _description_fields(desc)
    counts = {
        "name": _bag(name),
        "use_when": _bag(use_when),
        "desc": _bag(rest),
        "headings": _bag_lines(headings),
        "bullets": _bag_lines(bullets),
        "body": _bag_lines(body),
    }
    return _DocText(counts)


# --- anchors: what routers say about a target ---------------------------------------------------
@dataclass(slots=True)
class _Anchor:
    phrase: str
    context: str
    source: str  # path of the router
    rank: int  # 0 for the first target named on the row, 1 for the next ...
    keys: tuple[tuple[str, float], ...] = ()  # exact-match keys (phrase_key) and their weight


_NEGATIVE_COLUMN = re.compile(r"wrong|\bnot\b|avoid|don'?t|instead\s+of|anti|bad|mistake|never|rather\s+than", re.I)
_SEPARATOR_ROW = re.compile(r"^\s*\|?\s*:?-{2,}")
_MD_DECOR = re.compile(r"\[([^\]]*)\]\([^)]*\)|[*_`]+")
OTHER_CELL = 0.7  # weight of an exact match on another cell of the row than the phrase


def _section_text(lines: list[str], heading_lines: list[int], line: int, limit: int = 14) -> str:
    start = 0
    end = len(lines)
    for h in heading_lines:
        if h <= line:
            start = h
        else:
            end = h
            break
    start = max(start, line - limit)
    end = min(end, line + limit)
    return " ".join(lines[start:end])


def _phrase_keys(phrase: str, weight: float = 1.0) -> list[tuple[str, float]]:
    """The phrase, and without a short label ("Example 2: User asks ..." -> "User asks ...")."""
    keys = [(phrase_key(phrase), weight)]
    head, sep, tail = phrase.partition(":")
    if sep and tail.strip() and len(head.split()) <= 3:
        keys.append((phrase_key(tail), weight))
    return keys


def _cells(row: str) -> list[str]:
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|"):
        row = row[:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", row)]


def _table_row(lines: list[str], line: int, col: int) -> tuple[list[str], list[str], int] | None:
    """(header cells, row cells, index of the cell at col) of a pipe-table row, or None."""
    row = lines[line] if 0 <= line < len(lines) else ""
    if "|" not in row or _SEPARATOR_ROW.match(row):
        return None
    i = line
    while i > 0 and "|" in lines[i - 1]:
        i -= 1
        if _SEPARATOR_ROW.match(lines[i]) and i > 0:
            header = _cells(lines[i - 1])
            index = len(_cells(row[:col] + "x")) - 1
            return header, _cells(row), index
    return None


def _plain(cell: str) -> str:
    return _MD_DECOR.sub(lambda m: m.group(1) or "", cell).strip().strip("\"“”").strip()


def _label_before(lines: list[str], line: int) -> str:
    """A short bold or colon-ended label on the line before an arrow that has no phrase of its own."""
    for k in range(line - 1, max(line - 3, -1), -1):
        text = lines[k].strip()
        if not text:
            continue
        plain = _plain(text).rstrip(":").strip()
        if len(plain.split()) <= 12 and (text.startswith(("**", "#")) or text.endswith(":")):
            return plain.lstrip("#").strip()
        return ""
    return ""


def delegate_of(ix: SkillIndex, path: str) -> str | None:
    """The skill a command or agent stands for (a thin `/pack` wrapper naming its router skill)."""
    doc = ix.docs.get(path)
    if doc is None or doc.kind in _TARGET_KINDS:
        return path if doc is not None else None
    stem_name = os.path.basename(path)[:-3]
    first: str | None = None
    for res in ix.resolutions.get(path, ()):
        if res.target is None or res.target.kind.value != "skill":
            continue
        target = res.target.key
        tdoc = ix.docs.get(target)
        if tdoc is None or tdoc.kind is not DocKind.SKILL:
            continue
        skill = ix.skills.get(os.path.dirname(target))
        if skill is not None and (skill.name in (stem_name, "using-" + stem_name) or skill.folder == stem_name):
            return target
        first = first or target
    return first


def _abbreviated(ix: SkillIndex, doc: Doc, name: str) -> str | None:
    """`project-structure` written for `project-structure-and-tooling.md`: a unique prefix of a sheet
    of the same skill, or of a skill of the same plugin. Authors shorten names in routing tables."""
    if not name or "/" in name or ":" in name or name.endswith(".md"):
        return None
    prefix = name + "-"
    found: list[str] = []
    skill = ix.skills.get(doc.skill_dir) if doc.skill_dir else None
    if skill is not None:
        found = [p for p in skill.sheets if os.path.basename(p).startswith(prefix)]
    if not found and doc.plugin_dir in ix.plugins:
        for sdir in ix.plugins[doc.plugin_dir].skills:
            sk = ix.skills.get(sdir)
            if sk is not None and (sk.folder.startswith(prefix) or sk.folder == "using-" + name):
                found.append(sk.path)
    return found[0] if len(found) == 1 else None


def _routing_targets(ix: SkillIndex, src: str) -> list[tuple[Reference, str]]:
    """(reference, target doc) of the routes a document writes, in reading order."""
    doc = ix.docs[src]
    out: list[tuple[Reference, str]] = [(res.ref, t) for res, t in ix.routing_edges(src)]
    for res in ix.resolutions.get(src, ()):
        if res.target is None and res.ref.kind.routing and res.status.value == "missing":
            t = _abbreviated(ix, doc, res.ref.target)
            if t:
                out.append((res.ref, t))
    out.sort(key=lambda e: (e[0].span.start_line, e[0].span.start_col))
    return out


_ROW_NAME = re.compile(r"(?<![\w./:@$-])/?((?:[a-z0-9]+[:/])*[a-z0-9]+(?:-[a-z0-9]+)+(?:\.md)?|[a-z0-9]+\.md)(?![\w/@-])")
_SELF = re.compile(r"\bthis\s+(?:sheet|skill|pack|file)\b", re.I)


def _lookup(ix: SkillIndex, doc: Doc, name: str) -> str | None:
    """A name written in a table cell -> the one skill or sheet it means, preferring near ones."""
    name = name.strip("/")
    if "/" in name or ":" in name:
        parts = re.split(r"[/:]", name)
        name = parts[-1]
    here_skill = doc.skill_dir
    here_plugin = doc.plugin_dir

    def nearest(paths: list[str]) -> str | None:
        paths = [p for p in dict.fromkeys(paths) if p in ix.docs]
        if len(paths) <= 1:
            return paths[0] if paths else None
        near = [p for p in paths if here_skill and ix.docs[p].skill_dir == here_skill]
        near = near or [p for p in paths if here_plugin and ix.docs[p].plugin_dir == here_plugin]
        return near[0] if len(near) == 1 else None

    if name.endswith(".md"):
        return nearest(list(ix.sheets_by_stem.get(name[:-3], ())))
    found = nearest([ix.skills[s].path for s in ix.skills_named(name) if s in ix.skills])
    found = found or nearest(list(ix.sheets_by_stem.get(name, ())))
    if found:
        return found
    cmd = nearest(list(ix.commands_by_name.get(name, ())))
    if cmd:
        return delegate_of(ix, cmd)
    plugins = ix.plugins_named(name) or list(ix.plugins_by_suffix.get(name, ()))
    if len(plugins) == 1:
        from .model import TargetKind

        return ix.target_doc(plugins[0], TargetKind.PLUGIN)
    return _abbreviated(ix, doc, name)


def _table_anchors(ix: SkillIndex, src: str, lines: list[str], done: set[int]) -> list[tuple[str, _Anchor]]:
    """Rows of any pipe table whose later cells name skills or sheets: the first cell routes there.

    The parser reports names only in columns whose header says "route", "skill" ...: lint findings
    must not guess. Routing may read more liberally, since a name that resolves to nothing is
    simply ignored: "| Memory issues | Load debugging-and-profiling.md |" is a route too.
    """
    doc = ix.docs[src]
    out: list[tuple[str, _Anchor]] = []
    header: list[str] | None = None
    fence: str | None = None
    for n, line in enumerate(lines):
        m = _FENCE.match(line)
        if fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            continue
        if m:
            fence = m.group(1)
            continue
        if "|" not in line:
            header = None
            continue
        if _SEPARATOR_ROW.match(line):
            header = _cells(lines[n - 1]) if n > 0 else []
            continue
        if header is None or n in done:
            continue
        cells = _cells(line)
        if len(cells) < 2:
            continue
        phrase = _plain(cells[0])
        if not phrase:
            continue
        rank = 0
        seen: set[str] = set()
        for k, cell in enumerate(cells[1:], 1):
            label = header[k] if k < len(header) else ""
            if _NEGATIVE_COLUMN.search(label):
                continue
            for nm in _ROW_NAME.findall(cell.lower()):
                target = _lookup(ix, doc, nm)
                if not target or target in seen:
                    continue
                seen.add(target)
                keys = [(phrase_key(phrase), 1.0)]
                if header and _plain(header[0]):
                    keys.append((phrase_key(f"{_plain(header[0])} {phrase}"), 1.0))
                out.append((target, _Anchor(phrase, line, src, rank, tuple(k for k in keys if k[0]))))
                rank += 1
    return out


def _mentions_of(ix: SkillIndex, src: str) -> list[tuple[str, str]]:
    """(target, line) for every other reference to a skill or sheet: catalog lines such as
    "- **debugging-techniques** - NaN/Inf hunting, anomaly mode" describe the target in a router's
    words, which is anchor text too, if weaker than a routing phrase."""
    doc = ix.docs[src]
    out: list[tuple[str, str]] = []
    lines: list[str] | None = None
    for res in ix.resolutions.get(src, ()):
        ref = res.ref
        if res.target is None or res.status.value != "ok" or ref.kind.routing or ref.phrase:
            continue
        target = delegate_of(ix, res.target.key) if res.target.key in ix.docs else None
        if not target or target == src or ix.docs[target].kind not in _TARGET_KINDS:
            continue
        if lines is None:
            lines = doc.parsed.text.split("\n")
        line = ref.span.start_line
        if 0 <= line < len(lines):
            out.append((target, lines[line][:400]))
    return out


def _anchors_of(ix: SkillIndex, src: str) -> list[tuple[str, _Anchor]]:
    doc = ix.docs[src]
    edges = _routing_targets(ix, src)
    if not edges and "|" not in doc.parsed.text:
        return []
    lines = doc.parsed.text.split("\n")
    heading_lines = sorted(h.span.start_line for h in doc.parsed.headings)
    out: list[tuple[str, _Anchor]] = []
    seen_on_line: Counter[int] = Counter()
    for ref, target in edges:
        target = delegate_of(ix, target) or ""
        tdoc = ix.docs.get(target)
        if tdoc is None or tdoc.kind not in _TARGET_KINDS:
            continue
        line = ref.span.start_line
        phrase = ref.phrase
        keys: list[tuple[str, float]] = []
        table = _table_row(lines, line, ref.span.start_col) if ref.kind is not RefKind.ROUTE_TO else None
        if table is not None:
            header, cells, at = table
            # a "Wrong" / "Don't use" column names targets, but the row's phrase does not lead there
            if 0 <= at < len(header) and _NEGATIVE_COLUMN.search(header[at]):
                continue
            context = lines[line]
            for k, cell in enumerate(cells):
                text = _plain(cell)
                if k == at or not text:
                    continue
                weight = 1.0 if phrase_key(text) == phrase_key(phrase) else OTHER_CELL
                label = _plain(header[k]) if k < len(header) else ""
                keys.append((phrase_key(text), weight))
                if label:
                    keys.append((phrase_key(f"{label} {text}"), weight))
            if not phrase:
                phrase = next((_plain(c) for k, c in enumerate(cells) if k != at and _plain(c)), "")
        elif ref.kind is RefKind.ROUTE_TO:
            context = _section_text(lines, heading_lines, line)
        else:
            context = lines[line] if 0 <= line < len(lines) else ""
        if not phrase and ref.kind in (RefKind.ARROW, RefKind.ROUTE_TO):
            phrase = _label_before(lines, line)
        if phrase:
            keys.extend(_phrase_keys(phrase))
        rank = seen_on_line[line]
        seen_on_line[line] += 1
        keys = [(k, w) for k, w in keys if k]
        out.append((target, _Anchor(phrase, context, src, rank, tuple(dict(sorted(keys, key=lambda kw: kw[1])).items()))))
    if "|" in doc.parsed.text:
        out.extend(_table_anchors(ix, src, lines, set(seen_on_line)))
    return out


# --- the compiled router ------------------------------------------------------------------------
@dataclass(slots=True)
class Hit:
    path: str
    score: float
    own: float
    why: str = ""
    exact: bool = False


@dataclass(slots=True)
class Answer:
    hits: list[Hit]
    confident: bool
    coverage: float = 0.0


@dataclass(slots=True)
class _Compiled:
    generation: int
    paths: list[str]
    index_of: dict[str, int]
    postings: dict[str, dict[int, float]]
    idf: dict[str, float]
    exact: dict[str, list[tuple[int, float, str]]]  # phrase key -> (doc, weight, router path)
    names: dict[str, list[int]]  # lowercase name/stem -> docs
    parent: list[int]  # -1 when none
    routers_of: dict[int, list[int]]  # target -> routers (as docs in the target set) that route to it
    route_prev: dict[str, str]  # path -> previous hop from a top router
    anchors: dict[str, list[_Anchor]] = field(default_factory=dict)
    n_docs: int = 0
    routers: set[int] = field(default_factory=set)  # targets that route to other targets


class Router:
    """Compiled once per index generation; `route` is then a few dictionary walks."""

    def __init__(self, ix: SkillIndex) -> None:
        self.ix = ix
        self._texts: dict[str, tuple[int, _DocText]] = {}  # path -> (id of parsed doc, fields)
        self._compiled: _Compiled | None = None

    # --- building ---------------------------------------------------------------------------
    def compiled(self) -> _Compiled:
        c = self._compiled
        if c is None or c.generation != self.ix.generation:
            c = self._compiled = self._compile()
        return c

    def _fields(self, doc: Doc) -> _DocText:
        cached = self._texts.get(doc.path)
        if cached is not None and cached[0] == id(doc.parsed):
            return cached[1]
        text = _doc_text(self.ix, doc)
        self._texts[doc.path] = (id(doc.parsed), text)
        return text

    def _compile(self) -> _Compiled:
        ix = self.ix
        generation = ix.generation
        paths = sorted(p for p, d in ix.docs.items() if d.kind in _TARGET_KINDS)
        index_of = {p: i for i, p in enumerate(paths)}
        live = set(paths)
        for p in [p for p in self._texts if p not in live]:
            del self._texts[p]

        anchors: dict[str, list[_Anchor]] = {}
        mentions: dict[str, list[str]] = {}
        for src in ix.docs:
            for target, a in _anchors_of(ix, src):
                anchors.setdefault(target, []).append(a)
            for target, line in _mentions_of(ix, src):
                mentions.setdefault(target, []).append(line)

        per_doc: list[dict[str, Counter[str]]] = []
        totals = dict.fromkeys(FIELDS, 0.0)
        for p in paths:
            counts = dict(self._fields(ix.docs[p]).counts)
            its = anchors.get(p, ())
            counts["anchor"] = _bag_lines([a.phrase for a in its])
            counts["context"] = _bag_lines([a.context for a in its])
            counts["mention"] = _bag_lines(mentions.get(p, []))
            per_doc.append(counts)
            for f in FIELDS:
                totals[f] += sum(counts[f].values())
        n = max(len(paths), 1)
        avg = {f: max(totals[f] / n, 1.0) for f in FIELDS}

        postings: dict[str, dict[int, float]] = {}
        for i, counts in enumerate(per_doc):
            pseudo: dict[str, float] = {}
            for f in FIELDS:
                c = counts[f]
                if not c:
                    continue
                length = sum(c.values())
                norm = WEIGHT[f] / (1.0 - BNORM[f] + BNORM[f] * length / avg[f])
                for t, tf in c.items():
                    pseudo[t] = pseudo.get(t, 0.0) + tf * norm
            for t, tf in pseudo.items():
                postings.setdefault(t, {})[i] = tf * (K1 + 1.0) / (tf + K1)
        idf = {t: math.log(1.0 + (n - len(d) + 0.5) / (len(d) + 0.5)) for t, d in postings.items()}

        # exact keys: one entry per (key, target, router), the best weight the router gives it
        best: dict[tuple[str, int, str], float] = {}
        for p, its in anchors.items():
            i = index_of.get(p)
            if i is None:
                continue
            for a in its:
                w_src = SOURCE_WEIGHT.get(ix.docs[a.source].kind, 0.8)
                for key, w in a.keys:
                    w = w * w_src / (1.0 + a.rank)
                    if best.get((key, i, a.source), 0.0) < w:
                        best[(key, i, a.source)] = w
        exact: dict[str, list[tuple[int, float, str]]] = {}
        for (key, i, src), w in best.items():
            exact.setdefault(key, []).append((i, w, src))

        names: dict[str, list[int]] = {}
        parent = [-1] * len(paths)
        for i, p in enumerate(paths):
            doc = ix.docs[p]
            if doc.kind is DocKind.SKILL:
                skill = ix.skills.get(os.path.dirname(p))
                for nm in {skill.name, skill.folder} if skill else ():
                    names.setdefault(nm.lower(), []).append(i)
                router = _pack_router(ix, doc)
                if router is not None and router != p and router in index_of:
                    parent[i] = index_of[router]
            else:
                names.setdefault(os.path.basename(p).lower(), []).append(i)
                names.setdefault(os.path.basename(p)[:-3].lower(), []).append(i)
                if doc.skill_dir and doc.skill_dir in ix.skills:
                    parent[i] = index_of.get(ix.skills[doc.skill_dir].path, -1)

        routers_of: dict[int, list[int]] = {}
        for src, its in _edges(ix).items():
            si = index_of.get(src)
            if si is None:
                continue
            for t in its:
                ti = index_of.get(t)
                if ti is not None and ti != si:
                    routers_of.setdefault(ti, []).append(si)

        routers = {r for rs in routers_of.values() for r in rs}
        return _Compiled(
            generation=generation, paths=paths, index_of=index_of, postings=postings, idf=idf,
            exact=exact, names=names, parent=parent, routers_of=routers_of,
            route_prev=_route_tree(ix), anchors=anchors, n_docs=len(paths), routers=routers,
        )

    # --- querying ---------------------------------------------------------------------------
    def route(self, query: str, limit: int = 5, roots: list[str] | None = None) -> Answer:
        c = self.compiled()
        q = _query_terms(query)
        own = self._score(c, q)

        final: dict[int, float] = {}
        for d, s in own.items():
            p = c.parent[d]
            final[d] = (s * ROUTER_DAMP if d in c.routers else s) + (PARENT_SHARE * own.get(p, 0.0) if p >= 0 else 0.0)
        for d, s in list(final.items()):
            for r in c.routers_of.get(d, ()):
                lifted = CHILD_SHARE * s
                if final.get(r, 0.0) < lifted:
                    final[r] = lifted

        top_lexical = max(final.values(), default=0.0)
        boosts: dict[int, float] = {}
        exact_hits = _exact_hits(c, query)
        # the best router's word counts, not how many routers repeat it (a pack of sheets that all
        # cross-link "Testing" must not outvote the one router whose table says it)
        votes: Counter[int] = Counter()
        for d, weight, _src in exact_hits:
            boosts[d] = max(boosts.get(d, 0.0), weight)
            votes[d] += 1
        for d, n in votes.items():
            boosts[d] += REPEAT_BONUS * min(n - 1, 3)
        for d in _named(c, query):
            boosts[d] = boosts.get(d, 0.0) + 0.5
        for d, b in boosts.items():
            final[d] = top_lexical + EXACT_BONUS * b + final.get(d, 0.0) * 0.01

        if roots:
            prefixes = tuple(r.rstrip(os.sep) + os.sep for r in roots)
            final = {d: s for d, s in final.items() if c.paths[d].startswith(prefixes)}
        best = heapq.nlargest(limit, final.items(), key=lambda kv: (kv[1], -kv[0]))
        hits = [Hit(c.paths[d], s, own.get(d, 0.0), exact=d in boosts) for d, s in best]
        coverage = self._coverage(c, q, best[0][0]) if best else 0.0
        confident = bool(hits) and (hits[0].exact or coverage >= CONFIDENT_COVERAGE)
        for h in hits:
            h.why = self._why(c, q, query, c.index_of[h.path], h)
        return Answer(hits, confident, coverage)

    @staticmethod
    def _score(c: _Compiled, q: Counter[str]) -> dict[int, float]:
        own: dict[int, float] = {}
        for t, qtf in q.items():
            plist = c.postings.get(t)
            if not plist:
                continue
            w = c.idf[t] * qtf
            for d, s in plist.items():
                own[d] = own.get(d, 0.0) + w * s
        return own

    def _coverage(self, c: _Compiled, q: Counter[str], d: int) -> float:
        """Share of the query's information (idf) that the document (or its skill) matches."""
        unknown = math.log(1.0 + (c.n_docs + 0.5) / 0.5)
        total = matched = 0.0
        p = c.parent[d]
        for t in (t for t in q if " " not in t):
            w = c.idf.get(t, unknown)
            total += w
            plist = c.postings.get(t)
            if plist and (d in plist or (p >= 0 and p in plist)):
                matched += w
        return matched / total if total else 0.0

    def _why(self, c: _Compiled, q: Counter[str], query: str, d: int, hit: Hit) -> str:
        path = c.paths[d]
        if hit.exact:
            keys = {phrase_key(query), phrase_key(query.partition(":")[2])}
            for a in c.anchors.get(path, ()):
                if any(k in keys for k, _w in a.keys):
                    return f'routing phrase "{a.phrase}" in {self.ix.doc_id(a.source)}'
            return "named in the query"
        texts = self._texts.get(path)
        matched: dict[str, list[str]] = {}
        originals = _originals(query)
        anchor_terms = Counter(t for a in c.anchors.get(path, ()) for t in tokens(a.phrase))
        context_terms = Counter(t for a in c.anchors.get(path, ()) for t in tokens(a.context))
        for t in (t for t in q if " " not in t):
            where = [f for f in FIELDS[:6] if texts and t in texts[1].counts[f]]
            if t in anchor_terms:
                where.append("anchor")
            elif t in context_terms:
                where.append("context")
            if where:
                matched.setdefault(where[0], []).append(originals.get(t, t))
        if not matched:
            p = c.parent[d]
            return f"from its pack {self.ix.doc_id(c.paths[p])}" if p >= 0 else "routes to a match"
        label = {"use_when": "use-when", "desc": "description", "bullets": "when-to-use",
                 "anchor": "routing phrase", "context": "routing row"}
        return "; ".join(f"{label.get(f, f)}: {', '.join(ws)}" for f, ws in matched.items())

    def route_of(self, path: str) -> list[str]:
        """Paths from a top router to `path` through routing edges (the path itself last)."""
        prev = self.compiled().route_prev
        out = [path]
        seen = {path}
        cur = path
        while cur in prev:
            cur = prev[cur]
            if cur in seen:
                break
            seen.add(cur)
            out.append(cur)
        if len(out) == 1:
            doc = self.ix.docs.get(path)
            skill = self.ix.skills.get(doc.skill_dir) if doc and doc.skill_dir else None
            if doc is not None and doc.kind is DocKind.SHEET and skill is not None and skill.path != path:
                return self.route_of(skill.path) + [path]
        out.reverse()
        return out


def _query_terms(query: str) -> Counter[str]:
    """Query words, plus its adjacent pairs at a lower weight ("database locked")."""
    toks = tokens(query)
    q: Counter[str] = Counter(toks)
    if BIGRAM_WEIGHT:
        for a, b in zip(toks, toks[1:], strict=False):
            if a != b:
                q[a + " " + b] += BIGRAM_WEIGHT
    return q


def _bag(text: str, bigrams: bool = False) -> Counter[str]:
    toks = tokens(text)
    bag = Counter(toks)
    if bigrams:
        bag.update(a + " " + b for a, b in zip(toks, toks[1:], strict=False) if a != b)
    return bag


def _bag_lines(texts: list[str], bigrams: bool = False) -> Counter[str]:
    bag: Counter[str] = Counter()
    for t in texts:
        bag.update(_bag(t, bigrams))
    return bag


def _originals(query: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for w in _RAW_WORD.findall(query.lower()):
        if w not in STOP_WORDS and len(w) > 1:
            out.setdefault(stem(w), w)
    return out


def _exact_hits(c: _Compiled, query: str) -> list[tuple[int, float, str]]:
    """Targets some router sends this very phrase to; "Label: phrase" also tries the phrase."""
    key = phrase_key(query)
    hits = c.exact.get(key)
    if hits:
        return hits
    head, sep, tail = query.partition(":")
    if sep and len(head.split()) <= 3:
        return c.exact.get(phrase_key(tail), [])
    return []


def _named(c: _Compiled, query: str) -> list[int]:
    """Targets the query names outright: `systematic-debugging`, `superpowers:brainstorming`."""
    out: list[int] = []
    for m in _NAMEISH.finditer(query.lower()):
        word = m.group(0)
        for cand in (word, word.rsplit(":", 1)[-1], word.rsplit("/", 1)[-1]):
            if cand in c.names:
                out.extend(c.names[cand])
                break
    return list(dict.fromkeys(out))


def _pack_router(ix: SkillIndex, doc: Doc) -> str | None:
    """The router skill of the plugin that holds a skill: `using-*`, else none."""
    if not doc.plugin_dir or doc.plugin_dir not in ix.plugins:
        return None
    skills = [ix.skills[s] for s in ix.plugins[doc.plugin_dir].skills if s in ix.skills]
    routers = [s for s in skills if s.folder.startswith("using-")]
    return routers[0].path if len(routers) == 1 else None


def _edges(ix: SkillIndex) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for src in ix.docs:
        if not ix.resolutions.get(src):
            continue
        targets = [t for _res, t in ix.routing_edges(src) if t != src]
        if ix.docs[src].kind not in _TARGET_KINDS:
            # a command or agent wrapper leads on to the skill it stands for
            d = delegate_of(ix, src)
            if d and d != src:
                targets.insert(0, d)
        if targets:
            out[src] = list(dict.fromkeys(targets))
    return out


def _route_tree(ix: SkillIndex) -> dict[str, str]:
    """Path -> the hop before it, on a shortest route from a top router (one nothing routes to).

    Routes through skills come first, since an agent can load those; commands and agents (slash
    wrappers a user types) only fill in targets no skill router reaches.
    """
    edges = _edges(ix)
    skill_edges = {s: ts for s, ts in edges.items() if ix.docs[s].kind is DocKind.SKILL}
    prev: dict[str, str] = {}
    seen: set[str] = set()

    def bfs(graph: dict[str, list[str]], sources: list[str]) -> None:
        queue = deque(s for s in sources if s not in seen)
        seen.update(queue)
        while queue:
            cur = queue.popleft()
            for t in graph.get(cur, ()):
                if t not in seen:
                    seen.add(t)
                    prev[t] = cur
                    queue.append(t)

    for graph in (skill_edges, edges):
        incoming = {t for ts in graph.values() for t in ts}
        bfs(graph, sorted(s for s in graph if s not in incoming and s not in seen))
        # routers caught in cycles only: each unreached one starts its own tree
        for s in sorted(graph):
            if s not in seen:
                bfs(graph, [s])
    return prev


_ROUTERS: weakref.WeakKeyDictionary[SkillIndex, Router] = weakref.WeakKeyDictionary()


def router_for(ix: SkillIndex) -> Router:
    """The router of an index, built on first use and kept current with its generation."""
    r = _ROUTERS.get(ix)
    if r is None:
        r = _ROUTERS[ix] = Router(ix)
    return r
