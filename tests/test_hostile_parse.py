"""Hostile text through `parse.parse`: it never raises, never hangs, and every range it reports
lies inside the document it parsed.

Property tests run derandomized (the same examples on every run and machine) with modest example
counts. The huge inputs (1 MB lines, 1000-deep nesting) are fixed examples, each run under a hang
guard: a generous SIGALRM cap that turns a hang into a failure instead of a stuck test run. The
guard bounds work; it is not a speed assertion (speed figures live in bench/).
"""

from __future__ import annotations

import contextlib
import re
import signal
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skill_lsp.model import ParsedDoc, RefKind, Span
from skill_lsp.parse import parse

HANG_GUARD_S = 20  # far above what any of these inputs needs; only a hang (or quadratic blow-up) reaches it

settings.register_profile(
    "hostile", derandomize=True, deadline=None, max_examples=120, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
HOSTILE = settings.get_profile("hostile")


class Hang(Exception):
    pass


@contextlib.contextmanager
def hang_guard(seconds: int = HANG_GUARD_S) -> Iterator[None]:
    """Fail (instead of hanging the test run) if the body runs longer than `seconds`."""
    def on_alarm(signum: int, frame: object) -> None:
        raise Hang(f"still running after {seconds} s: a hang or super-linear work")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# --- invariants --------------------------------------------------------------------------------
def spans_of(doc: ParsedDoc) -> Iterator[tuple[str, Span]]:
    for h in doc.headings:
        yield f"heading {h.text!r}", h.span
    for r in doc.references:
        yield f"{r.kind} reference {r.target!r}", r.span
    for p in doc.problems:
        yield f"problem {p.code}", p.span
    for phrase, span in doc.routing_phrases:
        yield f"routing phrase {phrase!r}", span
    fm = doc.front_matter
    if fm is not None:
        yield "front matter", fm.span
        if fm.error_span is not None:
            yield "front matter error", fm.error_span
        for key in fm.keys.values():
            yield f"front matter key {key.key!r}", key.key_span
            yield f"front matter value of {key.key!r}", key.value_span


def check_span(lines: list[str], what: str, span: Span) -> None:
    """A span is inside the document: lines exist, columns (code points) within their line."""
    assert 0 <= span.start_line < len(lines), f"{what}: start line {span.start_line} of {len(lines)} lines"
    assert 0 <= span.end_line < len(lines), f"{what}: end line {span.end_line} of {len(lines)} lines"
    assert (span.start_line, span.start_col) <= (span.end_line, span.end_col), f"{what}: backwards {span}"
    assert 0 <= span.start_col <= len(lines[span.start_line]), \
        f"{what}: start col {span.start_col} > line length {len(lines[span.start_line])}"
    assert 0 <= span.end_col <= len(lines[span.end_line]), \
        f"{what}: end col {span.end_col} > line length {len(lines[span.end_line])}"


def span_text(lines: list[str], span: Span) -> str:
    if span.start_line == span.end_line:
        return lines[span.start_line][span.start_col:span.end_col]
    parts = [lines[span.start_line][span.start_col:]]
    parts += lines[span.start_line + 1:span.end_line]
    parts.append(lines[span.end_line][:span.end_col])
    return "\n".join(parts)


def check_doc(text: str) -> ParsedDoc:
    """Parse `text` and hold the result to every invariant; return it for more checks."""
    doc = parse(text)
    # LSP clients end lines at \r\n, \n and a lone \r: all three become \n so positions agree
    assert doc.text == text.replace("\r\n", "\n").replace("\r", "\n"), "the parsed text is the input, line ends normalized"
    lines = doc.text.split("\n")
    for what, span in spans_of(doc):
        check_span(lines, what, span)
    for r in doc.references:
        check_reference_text(lines, r)
    assert doc.line_count >= 1 and doc.body_words >= 0 and doc.body_chars >= 0
    return doc


# A reference claims `target` is written at `span`. Where the source holds no escapes or entities
# (which Markdown rewrites before we see the text), the source at the span is exactly that.
_REWRITTEN = re.compile(r"[\\&%<>]")


def check_reference_text(lines: list[str], r) -> None:  # noqa: ANN001 - a Reference
    src = span_text(lines, r.span)
    if _REWRITTEN.search(src) or _REWRITTEN.search(r.target):
        return
    # the span covers the name as written: with its #anchor, and a link's destination may end in
    # a bare `#`; a /slash name may be covered with or without its slash
    written = {r.target, f"{r.target}#{r.anchor or ''}"}
    if r.slash:
        written |= {"/" + w for w in written}
    got = src.strip() if r.kind is RefKind.LINK else src
    assert got in written, f"{r.kind} reference {r.target!r} (anchor {r.anchor!r}) but its span holds {src!r}"


# --- strategies --------------------------------------------------------------------------------
NAMES = st.sampled_from([
    "alpha", "beta-gamma", "using-kitchen", "a1-b2", "x", "kitchen/bread-baking", "kitchen:bread-baking",
    "/slash-cmd", "sheet.md", "../up.md", "skills/sheet.md#anchor", "sheet.md#a-b", "café-crème", "日本-語",
    "a--b", "-lead", "trail-", "UPPER-case", "../../../../etc/passwd", "/etc/passwd", "file:///etc/passwd",
    "~/x.md", "$HOME/x.md", "https://example.com/a.md", "#only-anchor", "", " ", "a b", "x.md#", "{lang}/api.md",
    "themes/", "p/s/sheet.md", "é.md",
])
ATOMS = st.sampled_from([
    "\n", "\r\n", "\r", "\t", "\x00", "\x0c", "\x0b", "\u2028", "\u2029", "\x85", "\ufeff", "é", "👍🏽", "e\u0301",
    "\U0001f600", "```", "~~~", "````markdown\n", "---", "...", "|", "||", "->", "→", "⇒", "=>", "**", "*", "_",
    "`", "``", "[", "]", "](", ")", "(", "<", ">", "<!-- skill-lsp: disable -->",
    "<!-- skill-lsp: disable-next-line=LK001 -->", "<!-- skill-lsp: disable-file=* -->", "&amp;", "&#x2F;",
    "\\", "\\`", "#", "# ", "> ", "- ", "1. ", "    ", "Route to:", "route to (then) ->", ": ", "&",
    "<div>", "</div>", "$$", "[^1]", "[^1]: note", "![img](", "<https://x.y>", "a@b.c",
])


@st.composite
def table(draw: st.DrawFn) -> str:
    headers = draw(st.lists(st.sampled_from(["Symptom", "Route to", "Skill", "Use this", "Wrong route", "Output",
                                             "When", "", "Load", "→"]), min_size=1, max_size=4))
    rows = draw(st.lists(st.lists(st.one_of(NAMES, NAMES.map(lambda n: f"**{n}**"),
                                            NAMES.map(lambda n: f"`{n}`"), NAMES.map(lambda n: f"[t]({n})"),
                                            st.text(max_size=8)),
                                  min_size=0, max_size=len(headers) + 1), max_size=4))
    out = "| " + " | ".join(headers) + " |\n|" + "---|" * len(headers) + "\n"
    for row in rows:
        out += "| " + " | ".join(c.replace("\n", " ") for c in row) + " |\n"
    return out


FRAGMENTS = st.one_of(
    ATOMS,
    st.text(max_size=12),
    NAMES,
    st.builds(lambda lvl, t: "#" * lvl + " " + t + "\n", st.integers(1, 7), st.text(max_size=10)),
    st.builds(lambda t, n: f"[{t}]({n})", st.text(max_size=5), NAMES),
    st.builds(lambda n: f"`{n}`", NAMES),
    st.builds(lambda n: f"**{n}**", NAMES),
    st.builds(lambda a, n: f"{a} {n}", st.sampled_from(["->", "→", "=>", "Route to:", "**Route to:**"]), NAMES),
    st.builds(lambda ns: "Route to: " + ", ".join(ns) + " or ends here", st.lists(NAMES, max_size=4)),
    st.builds(lambda info, body, close: f"\n```{info}\n{body}\n{close}\n", st.sampled_from(["", "text", "md",
              "markdown", "python", "``"]), st.text(max_size=20), st.sampled_from(["```", "", "~~~", "````"])),
    table(),
)


@st.composite
def front_matter(draw: st.DrawFn) -> str:
    """A front matter block, often broken: bad YAML, wrong fences, tabs, anchors, odd types."""
    lines = draw(st.lists(st.one_of(
        st.builds(lambda k, v: f"{k}: {v}", st.sampled_from(["name", "description", "license", "metadata",
                                                             "allowed-tools", "x", "", "- a", "? k"]),
                  st.one_of(NAMES, st.text(max_size=15))),
        st.sampled_from(["description: Use when a: b breaks", "name: [unclosed", "  - item", "\tkey: tab",
                         "a: &x 1", "b: *x", "c: *undefined", "d: !!python/object:os.system x",
                         "e: !!binary AAAA", "f: {a: 1", "'unterminated", "k: \"esc \\u12\"", "...", "---",
                         "key: |", "  block", "key: >-", "%YAML 1.2", "g: 2001-02-30", "h: .inf",
                         "? complex", ": value", "- top-level list"]),
        st.text(max_size=20),
    ), max_size=8))
    opener = draw(st.sampled_from(["---\n", "---\n", "\ufeff---\n", "--- \n", "---\r\n"]))
    closer = draw(st.sampled_from(["---\n", "---\n", "...\n", "", "--- trailing\n", "---"]))
    return opener + "\n".join(lines) + "\n" + closer


DOCUMENTS = st.builds(lambda fm, parts, tail: fm + "".join(parts) + tail,
                      st.one_of(st.just(""), front_matter()), st.lists(FRAGMENTS, max_size=30),
                      st.sampled_from(["", "\n", "\r\n", "\r"]))


# --- properties --------------------------------------------------------------------------------
@HOSTILE
@given(st.text())
def test_any_text_parses_inside_its_bounds(text: str) -> None:
    check_doc(text)


@HOSTILE
@given(DOCUMENTS)
def test_markdown_shaped_noise_parses_inside_its_bounds(text: str) -> None:
    check_doc(text)


@HOSTILE
@given(st.binary(max_size=400))
def test_random_bytes_decoded_with_replacement_parse(data: bytes) -> None:
    check_doc(data.decode("utf-8", "replace"))


@HOSTILE
@given(st.binary(max_size=300), st.sampled_from(["latin-1", "cp1252", "utf-16-le", "utf-16", "shift_jis",
                                                  "koi8-r"]))
def test_mixed_encodings_read_as_utf8_parse(data: bytes, encoding: str) -> None:
    """Text written in another encoding and read back as UTF-8 (what a careless tool produces)."""
    text = data.decode("utf-8", "replace")
    foreign = ("---\nname: caf\u00e9\ndescription: Use when \u00fcber\n---\n" + text).encode(encoding, "replace")
    check_doc(foreign.decode("utf-8", "replace"))
    check_doc(text + foreign.decode("latin-1"))


@HOSTILE
@given(st.lists(st.one_of(st.integers(0xD800, 0xDFFF).map(chr), FRAGMENTS), max_size=12).map("".join))
def test_lone_surrogates_from_json_parse(text: str) -> None:
    """JSON lets a client send "\\ud800": Python then holds a lone surrogate in a str."""
    check_doc(text)


@HOSTILE
@given(front_matter(), st.lists(FRAGMENTS, max_size=6).map("".join))
def test_broken_front_matter_is_a_finding_not_a_crash(fm: str, body: str) -> None:
    doc = check_doc(fm + body)
    if doc.front_matter is not None and doc.front_matter.error:
        assert doc.front_matter.error_span is not None
        assert doc.front_matter.data is None or doc.front_matter.data == {}


@HOSTILE
@given(st.lists(st.tuples(st.sampled_from(["alpha-one", "beta-two", "gamma-three"]),
                          st.sampled_from(["", "#sec", "#a-b"]),
                          st.sampled_from(["", "é ", "👍🏽 ", "日本 "])), min_size=1, max_size=6))
def test_written_references_are_found_where_they_are_written(items: list[tuple[str, str, str]]) -> None:
    """Links, table cells and arrows we write ourselves come back with spans over exactly their text."""
    lines = ["# Router", "", "| Symptom | Route to |", "|---|---|"]
    for i, (name, _anchor, pad) in enumerate(items):
        lines.append(f"| {pad}case {i} | {name} |")
    lines.append("")
    for name, anchor, pad in items:
        lines.append(f"{pad}See [the sheet]({name}.md{anchor}) and -> {name}")
    text = "\n".join(lines) + "\n"
    doc = check_doc(text)
    src = text.split("\n")
    links = [r for r in doc.references if r.kind is RefKind.LINK]
    cells = [r for r in doc.references if r.kind is RefKind.TABLE]
    arrows = [r for r in doc.references if r.kind is RefKind.ARROW]
    assert [(r.target, r.anchor or "") for r in links] == [(f"{n}.md", a[1:]) for n, a, _ in items]
    assert [r.target for r in cells] == [n for n, _, _ in items]
    assert [r.target for r in arrows] == [n for n, _, _ in items]
    for r in cells + arrows:
        assert span_text(src, r.span) == r.target


# --- huge and deep inputs (fixed examples under the hang guard) --------------------------------
HUGE = {
    "1 MB line of letters": "a" * 1_000_000,
    "1 MB line of links": "[x](y.md) " * 100_000,
    "1 MB line of links after one accented letter": "é " + "[x](y.md) " * 100_000,
    "1 MB line of code-span names after an emoji": "👍 " + "`a-b` " * 170_000,
    "1 MB line of arrows": "x → a-b " * 110_000,
    "1 MB table row": "| Route to |\n|---|\n| " + "`a-b`, " * 140_000 + " |\n",
    "1 MB front matter value": "---\ndescription: " + "x" * 1_000_000 + "\n---\nbody\n",
    "1000-deep blockquote": "> " * 1000 + "[x](y.md)\n",
    "1000-deep list": "".join("  " * i + "- `a-b` item\n" for i in range(1000)),
    "1000-deep ordered list": "".join("   " * i + "1. [l](x.md)\n" for i in range(1000)),
    "1000-deep quote+list": "".join("> " * i + "- -> a-b\n" for i in range(1000)),
    "100k open brackets": "[" * 100_000,
    "100k link openers": "[a](" * 100_000,
    "100k emphasis": "*" * 100_000 + "a" + "*" * 100_000,
    "100k backticks": "`" * 100_000,
    "10k fences": "```\n" * 10_000,
    "10k headings": "# h\n" * 10_000,
    "10k html comments": "<!-- skill-lsp: disable -->\n" * 10_000,
    "nested markdown fences": "````markdown\n" * 2000 + "```\n" * 2000,
}


@pytest.mark.parametrize("name", list(HUGE))
def test_huge_and_deep_inputs_parse_without_hanging(name: str) -> None:
    with hang_guard():
        check_doc(HUGE[name])


def test_a_line_break_the_client_sees_is_a_line_break_in_our_spans() -> None:
    """LSP counts lines at \\n, \\r\\n and a lone \\r. A reference after a lone \\r sits on line 1
    for the client; on line 0 of ours it points past the end of what the client calls line 0."""
    doc = parse("old mac\rsee [x](y.md)\n")
    link = next(r for r in doc.references if r.kind is RefKind.LINK)
    assert (link.span.start_line, link.span.start_col) == (1, 8)


@pytest.mark.parametrize("sep", ["\x85", "\u2028", "\u2029"])
def test_yaml_line_separators_do_not_shift_front_matter_spans(sep: str) -> None:
    """YAML breaks lines at NEL and the Unicode separators; the client (and we) do not."""
    text = f"---\ndescription: Use when a{sep}b happens\nname: alpha\n---\nbody\n"
    doc = check_doc(text)
    key = doc.front_matter.keys["name"]
    assert (key.key_span.start_line, key.key_span.start_col) == (2, 0)
    assert span_text(doc.text.split("\n"), key.value_span) == "alpha"
