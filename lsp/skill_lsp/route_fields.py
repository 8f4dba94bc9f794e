"""What each document says about itself, and what routers say about it: the router's raw fields.

Everything here is a pure function of the index (nothing per document is cached): `route.py`
decides what to cache and when to recompute. Field texts are tokenized with `stem.tokens`
(counted by `stem.term_counts`).
"""

from __future__ import annotations

import functools
import os
import re
from collections import Counter
from dataclasses import dataclass
from itertools import islice
from sys import intern
from typing import TYPE_CHECKING

from .model import Doc, DocKind, Heading, ParsedDoc, Reference, RefKind, TargetKind
from .stem import term_counts, words

if TYPE_CHECKING:
    from .index import SkillIndex

BODY_MAX_CHARS = 24_000  # body text indexed per document: its start says what it is about
TARGET_KINDS = (DocKind.SKILL, DocKind.SHEET)
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
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$")
_SYMPTOM_LINE = re.compile(r"^\W{0,3}(?:symptoms?|triggers?)\W{0,3}:.*$", re.I | re.M)
_FENCED = re.compile(r"^ {0,3}(`{3,}|~{3,})[^\n]*\n.*?^ {0,3}\1[^\n]*$", re.M | re.S)
# The same two patterns led by the newline before their line: a pattern that starts at "^" is
# tried at every character of a body, one that starts with a fixed character is searched for that
# character first, several times as fast. The first line (no newline before it) is tried alone.
_SYMPTOM_AFTER_NL = re.compile(r"\n\W{0,3}(?:symptoms?|triggers?)\W{0,3}:.*$", re.I | re.M)
_FENCED_AFTER_NL = re.compile(r"\n {0,3}(`{3,}|~{3,})[^\n]*\n.*?^ {0,3}\1[^\n]*$", re.M | re.S)
RAW_WORD = re.compile(r"[a-z0-9]+")
NAMEISH = re.compile(r"[a-z0-9]+(?:[-_:/][a-z0-9]+)+(?:\.md)?")


def phrase_key(text: str) -> str:
    """A routing phrase as compared for exact matches: lowercase words, nothing else."""
    return " ".join(words(text))  # RAW_WORD's words, split without the regex engine


# --- per-document fields ------------------------------------------------------------------------
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


def _body_fields(parsed: ParsedDoc, with_body: bool = True, text: str | None = None
                 ) -> tuple[list[str], list[str], list[str], str, str]:
    """(headings, trigger bullets, "Symptoms:" lines, body text, first paragraph) of a Markdown
    body.

    Headings come from the parse; only the sections under "When to Use"-like headings and the
    opening lines are read line by line, so a long document costs one slice and one regex pass.
    """
    if text is None:
        text = parsed.text  # (decompressed: callers that hold it already pass it)
    headings = [h.text for h in parsed.headings]
    bullets: list[str] = []
    hs = sorted(parsed.headings, key=lambda h: h.start_line)
    sections = [(h.start_line + 1, _section_end(hs, k)) for k, h in enumerate(hs) if _is_trigger_heading(h.text)]
    start = parsed.body_start_line
    # Only the lines read below are split off (the rest stays one string, never sliced into):
    # a long document is not cut into thousands of lines for its first few dozen.
    need = max([start + (2000 if with_body else 60)] + [end for _b, end in sections])
    lines = text.split("\n", need)
    for begin, end in sections:
        bullets.extend(_trigger_lines(lines[begin:end]))
    body = ""
    symptoms: list[str] = []
    if with_body:
        body = "\n".join(lines[start:start + 2000])[:BODY_MAX_CHARS]
        symptoms = _symptom_lines(body)
        body = _without_fences(body)
    first_para: list[str] = []
    for line in lines[start:start + 60]:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            if first_para:
                break
            continue
        if stripped.startswith(("|", ">", "<", "```", "~~~")):
            if first_para:
                break
            continue
        first_para.append(stripped)
    return headings, bullets, symptoms, body, " ".join(first_para)[:600]


def _symptom_lines(body: str) -> list[str]:
    """What `_SYMPTOM_LINE.finditer(body)` finds ("Symptoms: ..." lines), found faster.

    A match never ends at a line start (it ends before a newline or at the end), so after one the
    next starts past a newline, which `_SYMPTOM_AFTER_NL` then finds with it (cut off again).
    """
    # Under re.I only "ſ", "K", "ı" and "İ" match ASCII letters besides their own cases (s, k, i):
    # no character but y, m, p, t, o, g, e, r and their capitals matches a letter of "ymptom" or
    # "gger", and those lowercase to it. A body whose lowercase holds neither cannot match.
    low = body.lower()
    if "ymptom" not in low and "gger" not in low:
        return []
    out: list[str] = []
    pos = 0
    first = _SYMPTOM_LINE.match(body)
    if first is not None:
        out.append(first.group(0))
        pos = first.end()
    out.extend(m.group(0)[1:] for m in _SYMPTOM_AFTER_NL.finditer(body, pos))
    return out


def _without_fences(body: str) -> str:
    """`_FENCED.sub(" ", body)`: fenced code blocks out, found as `_symptom_lines` finds lines."""
    if "```" not in body and "~~~" not in body:  # both patterns need one of these
        return body
    first = _FENCED.match(body)
    if first is None:
        return _FENCED_AFTER_NL.sub("\n ", body)
    # (a match ends before a newline: the rest starts with one, or is empty)
    return " " + _FENCED_AFTER_NL.sub("\n ", body[first.end():])


@functools.lru_cache(maxsize=20_000)  # headings repeat across a tree ("When to Use", "Overview")
def _is_trigger_heading(text: str) -> bool:
    """"When to Use"-like and not "When not to use"."""
    return bool(_TRIGGER_HEADING.search(text)) and not _NEG_LINE.search(text)


def _section_end(hs: list[Heading], k: int) -> int:
    """The line a trigger section ends before: the next heading of its level or higher, read at
    most 80 lines down (a long document's headings are not scanned to its end each time)."""
    h = hs[k]
    cap = h.start_line + 80
    for x in islice(hs, k + 1, None):
        if x.start_line >= cap:
            break
        if x.level <= h.level:
            return x.start_line
    return cap


def _trigger_lines(section: list[str]) -> list[str]:
    """Bullets of a "When to Use" section, without the ones under a "Do not use when:" line."""
    out: list[str] = []
    negated = False
    fence: str | None = None
    for line in section:
        m = _FENCE.match(line)
        if fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            continue
        if m:
            fence = m.group(1)
            continue
        stripped = line.strip()
        if not stripped:
            continue
        b = _BULLET.match(line)
        if b is None:
            negated = bool(_NEG_LINE.search(stripped))
            if not negated:
                out.append(stripped)
        elif not negated:
            out.append(b.group(1))
    return out


def doc_fields(ix: SkillIndex, doc: Doc, with_body: bool = True, text: str | None = None) -> dict[str, Counter[str]]:
    """The fields a document contributes by itself (anchors come from other documents); without
    the body (the costly part) for explanations."""
    parsed = doc.parsed
    if doc.kind is DocKind.SKILL:
        skill = ix.skills.get(os.path.dirname(doc.path))
        names = {skill.name, skill.folder} if skill else {os.path.basename(os.path.dirname(doc.path))}
        name = " ".join(_split_name(n) for n in sorted(names))
    else:
        name = _split_name(os.path.basename(doc.path))
    headings, triggers, symptoms, body, first_para = _body_fields(parsed, with_body, text)
    desc = parsed.description()
    if not desc:
        # a sheet without front matter is described by its opening paragraph
        desc = first_para
    use_when, rest = _description_fields(desc)
    when = bag_lines(triggers)
    out = {
        "name": bag(name),
        "use_when": bag(use_when),
        "desc": bag(rest),
        "headings": bag_lines(headings),
        "bullets": when + bag_lines(symptoms) if symptoms else when,
        "body": bag(body),
    }
    if with_body:
        out[WHEN_BULLETS] = when  # the bullets as `with_body=False` gives them (explanations)
    return out


WHEN_BULLETS = "when_bullets"  # not a field: the trigger bullets alone, without "Symptoms:" lines
SHORT_FIELDS = ("name", "use_when", "desc", "headings", "bullets")  # what explains a hit


def short_record(fields: dict[str, Counter[str]]) -> bytes:
    """The short fields of `doc_fields(..., with_body=False)`, from those of a full call, as bytes
    to keep out of memory: one line per field, each term as often as it counts."""
    short = [fields[WHEN_BULLETS if f == "bullets" else f] for f in SHORT_FIELDS]
    return "\n".join(" ".join(c.elements()) for c in short).encode("ascii")


def from_short_record(data: bytes) -> dict[str, Counter[str]]:
    lines = data.decode("ascii").split("\n")
    out = {f: Counter(line.split()) for f, line in zip(SHORT_FIELDS, lines, strict=True)}
    out["body"] = Counter()
    return out


# --- anchors: what routers say about a target ---------------------------------------------------
@dataclass(slots=True)
class Anchor:
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
        if len(plain.split()) <= 24 and (text.startswith(("**", "#")) or text.endswith(":")):
            return plain.lstrip("#").strip()
        return ""
    return ""


def delegate_of(ix: SkillIndex, path: str, deps: set[str] | None = None) -> str | None:
    """The skill a command or agent stands for (a thin `/pack` wrapper naming its router skill)."""
    doc = ix.docs.get(path)
    if doc is None or doc.kind in TARGET_KINDS:
        return path if doc is not None else None
    if deps is not None:
        deps.add(path)  # what the wrapper stands for changes with its text
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


def _abbreviated(ix: SkillIndex, doc: Doc, name: str, deps: set[str]) -> str | None:
    """`project-structure` written for `project-structure-and-tooling.md`: a unique prefix of a sheet
    of the same skill, or of a skill of the same plugin. Authors shorten names in routing tables."""
    if not name or "/" in name or ":" in name or name.endswith(".md"):
        return None
    deps.add(intern("prefix:" + name))
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


def _routing_targets(ix: SkillIndex, src: str, deps: set[str], lines: list[str]) -> list[tuple[Reference, str]]:
    """(reference, target doc) of the routes a document writes, in reading order."""
    doc = ix.docs[src]
    out: list[tuple[Reference, str]] = [(res.ref, t) for res, t in ix.routing_edges(src)]
    routed = {id(ref) for ref, _t in out}
    for res in ix.resolutions.get(src, ()):
        ref = res.ref
        if res.target is None and ref.kind.routing and res.status.value == "missing":
            t = _abbreviated(ix, doc, ref.target, deps)
            if t:
                out.append((ref, t))
        elif res.target is not None and res.status.value == "ok" and id(ref) not in routed and (
                res.target.key in ix.docs and ref.kind in (RefKind.CODE, RefKind.LINK)):
            # "→ Read `shared/x.md`": an arrow line routes, even when a verb sits before the name
            line = lines[ref.span.start_line] if ref.span.start_line < len(lines) else ""
            if _ARROW_LINE.match(line):
                out.append((ref, res.target.key))
    out.sort(key=lambda e: (e[0].span.start_line, e[0].span.start_col))
    return out


_ARROW_LINE = re.compile(r"^\s*(?:[-*+]\s+)?(?:→|->|⇒|=>)")
_ROW_NAME = re.compile(r"(?<![\w./:@$-])/?((?:[a-z0-9]+[:/])*[a-z0-9]+(?:-[a-z0-9]+)+(?:\.md)?|[a-z0-9]+\.md)(?![\w/@-])")


def _lookup(ix: SkillIndex, doc: Doc, name: str, deps: set[str]) -> str | None:
    """A name written in a table cell -> the one skill or sheet it means, preferring near ones."""
    name = name.strip("/")
    if "/" in name or ":" in name:
        parts = re.split(r"[/:]", name)
        name = parts[-1]
    deps.add(intern("name:" + name.removesuffix(".md")))
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
        return delegate_of(ix, cmd, deps)
    plugins = ix.plugins_named(name) or list(ix.plugins_by_suffix.get(name, ()))
    if len(plugins) == 1:
        return ix.target_doc(plugins[0], TargetKind.PLUGIN)
    return _abbreviated(ix, doc, name, deps)


def _table_anchors(ix: SkillIndex, src: str, lines: list[str], done: set[int], deps: set[str]
                   ) -> list[tuple[str, Anchor]]:
    """Rows of any pipe table whose later cells name skills or sheets: the first cell routes there.

    The parser reports names only in columns whose header says "route", "skill" ...: lint findings
    must not guess. Routing may read more liberally, since a name that resolves to nothing is
    simply ignored: "| Memory issues | Load debugging-and-profiling.md |" is a route too.
    """
    doc = ix.docs[src]
    out: list[tuple[str, Anchor]] = []
    header: list[str] | None = None
    fence: str | None = None
    for n, line in enumerate(lines):
        # (a fence line holds ``` or ~~~: the test spares most lines of a long table the regex)
        m = _FENCE.match(line) if "```" in line or "~~~" in line else None
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
                target = _lookup(ix, doc, nm, deps)
                if not target or target in seen:
                    continue
                seen.add(target)
                keys = [(phrase_key(phrase), 1.0)]
                if header and _plain(header[0]):
                    keys.append((phrase_key(f"{_plain(header[0])} {phrase}"), 1.0))
                out.append((target, Anchor(phrase, line, src, rank, tuple(k for k in keys if k[0]))))
                rank += 1
    return out


def mentions_of(ix: SkillIndex, src: str, deps: set[str], lines: list[str] | None = None) -> list[tuple[str, str]]:
    """(target, line) for every other reference to a skill or sheet: catalog lines such as
    "- **debugging-techniques** - NaN/Inf hunting, anomaly mode" describe the target in a router's
    words, which is anchor text too, if weaker than a routing phrase. `lines`: the document's
    text split at newlines, when the caller holds it."""
    doc = ix.docs[src]
    out: list[tuple[str, str]] = []
    for res in ix.resolutions.get(src, ()):
        ref = res.ref
        if res.target is None or res.status.value != "ok" or ref.kind.routing or ref.phrase:
            continue
        target = delegate_of(ix, res.target.key, deps) if res.target.key in ix.docs else None
        if not target or target == src or ix.docs[target].kind not in TARGET_KINDS:
            continue
        if lines is None:
            lines = doc.parsed.text.split("\n")
        line = ref.span.start_line
        if 0 <= line < len(lines):
            out.append((target, lines[line][:400]))
    return out


def anchors_of(ix: SkillIndex, src: str, deps: set[str], text: str | None = None, lines: list[str] | None = None
               ) -> list[tuple[str, Anchor]]:
    """(target, anchor) for every route a document writes. A caller that reads the text for more
    than this passes it and its lines: a text held compressed is then decompressed once."""
    doc = ix.docs[src]
    if text is None:
        text = doc.parsed.text
    if lines is None:
        lines = text.split("\n")
    edges = _routing_targets(ix, src, deps, lines)
    has_pipe = "|" in text
    if not edges and not has_pipe:
        return []
    heading_lines = sorted(h.start_line for h in doc.parsed.headings)
    out: list[tuple[str, Anchor]] = []
    seen_on_line: Counter[int] = Counter()
    for ref, target in edges:
        target = delegate_of(ix, target, deps) or ""
        tdoc = ix.docs.get(target)
        if tdoc is None or tdoc.kind not in TARGET_KINDS:
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
        if not phrase and (ref.kind in (RefKind.ARROW, RefKind.ROUTE_TO)
                           or (0 <= line < len(lines) and _ARROW_LINE.match(lines[line]))):
            phrase = _label_before(lines, line)  # "**Label:**" then "→ Read `x.md`" below it
        if phrase:
            keys.extend(_phrase_keys(phrase))
        rank = seen_on_line[line]
        seen_on_line[line] += 1
        keys = [(k, w) for k, w in keys if k]
        out.append((target, Anchor(phrase, context, src, rank, tuple(dict(sorted(keys, key=lambda kw: kw[1])).items()))))
    if has_pipe:
        out.extend(_table_anchors(ix, src, lines, set(seen_on_line), deps))
    return out


def bag(text: str) -> Counter[str]:
    return term_counts(text)


def bag_lines(texts: list[str]) -> Counter[str]:
    return term_counts("\n".join(texts))


def pack_router(ix: SkillIndex, doc: Doc, memo: dict[str, str | None] | None = None) -> str | None:
    """The router skill of the plugin that holds a skill: `using-*`, else none.

    `memo` (plugin dir -> its router) is for a caller asking for every skill: the answer is the
    plugin's, and reading a plugin's skills once per skill is quadratic in a large plugin."""
    plugin_dir = doc.plugin_dir
    if not plugin_dir or plugin_dir not in ix.plugins:
        return None
    if memo is not None and plugin_dir in memo:
        return memo[plugin_dir]
    skills = [ix.skills[s] for s in ix.plugins[plugin_dir].skills if s in ix.skills]
    routers = [s for s in skills if s.folder.startswith("using-")]
    found = routers[0].path if len(routers) == 1 else None
    if memo is not None:
        memo[plugin_dir] = found
    return found


def edges_of(ix: SkillIndex, src: str, deps: set[str]) -> list[str]:
    """The documents one document routes to; a command or agent wrapper leads to its skill first."""
    targets = [t for _res, t in ix.routing_edges(src) if t != src]
    if ix.docs[src].kind not in TARGET_KINDS:
        d = delegate_of(ix, src, deps)
        if d and d != src:
            targets.insert(0, d)
    return list(dict.fromkeys(targets))


def name_keys(ix: SkillIndex, path: str) -> set[str]:
    """The dependency keys a document's names answer: what `_lookup` and `_abbreviated` record."""
    doc = ix.docs.get(path)
    if doc is None:
        return set()
    names = {os.path.basename(path).removesuffix(".md")}
    if doc.kind is DocKind.SKILL:
        names.add(os.path.basename(os.path.dirname(path)))
        names.add(ix.name_of(path))
    keys = set()
    for n in names:
        keys.add("name:" + n)
        parts = n.split("-")
        for k in range(1, len(parts) + 1):
            keys.add("prefix:" + "-".join(parts[:k]))
        if n.startswith("using-"):
            keys.add("name:" + n[6:])
            keys.add("prefix:" + n[6:])
    if doc.plugin_dir and doc.plugin_dir in ix.plugins:
        plugin = ix.plugins[doc.plugin_dir].name
        keys.add("name:" + plugin)
        keys.add("name:" + plugin.partition("-")[2])
    # the same keys come from many documents (a plugin's name, common prefixes): one string each
    return {intern(k) for k in keys}
