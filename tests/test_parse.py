"""parse.parse: front matter, headings and references, each with its exact range.

Ranges are 0-based lines and columns counted in code points. Every reference test also checks
that the source text under the range is the name as written.
"""

from __future__ import annotations

import pytest
from skill_lsp.model import ParsedDoc, Reference, RefKind, Span
from skill_lsp.parse import parse


def at(doc: ParsedDoc, span: Span) -> str:
    lines = doc.text.split("\n")
    assert span.start_line == span.end_line, span
    return lines[span.start_line][span.start_col:span.end_col]


def refs(text: str, kind: RefKind | None = None) -> list[Reference]:
    doc = parse(text)
    out = [r for r in doc.references if kind is None or r.kind is kind]
    for r in out:  # the range holds the name as written
        written = at(doc, r.span)
        assert written.removeprefix("/") in (r.target, f"{r.target}#{r.anchor}"), (r, written)
    return out


def targets(text: str, kind: RefKind | None = None) -> list[str]:
    return [r.target for r in refs(text, kind)]


# --- front matter -----------------------------------------------------------------------------
def test_front_matter_key_and_value_ranges() -> None:
    doc = parse("---\nname: bread-baking\ndescription: Use when baking bread.\n---\n\n# Bread\n")
    fm = doc.front_matter
    assert fm is not None and fm.error is None
    assert fm.data == {"name": "bread-baking", "description": "Use when baking bread."}
    assert fm.keys["name"].key_span == Span(1, 0, 1, 4)
    assert fm.keys["name"].value_span == Span(1, 6, 1, 18)
    assert fm.keys["description"].value_span == Span(2, 13, 2, 35)
    assert fm.span == Span(0, 0, 3, 3)
    assert doc.body_start_line == 4


def test_front_matter_value_on_following_lines_keeps_its_range() -> None:
    doc = parse("---\nname: x\ndescription: >\n  Use when folding\n  long text.\n---\nbody\n")
    span = doc.front_matter.keys["description"].value_span
    assert (span.start_line, span.start_col) == (2, 13) and span.end_line >= 4


def test_yaml_error_range_and_message() -> None:
    doc = parse("---\nname: x\ndescription: Use when: the oven beeps\n---\n")
    fm = doc.front_matter
    assert fm.data is None and "must be quoted" in fm.error
    assert fm.error_span.start_line == 2


def test_crlf_text_gives_the_same_ranges() -> None:
    lf = parse("---\nname: x\ndescription: Use when y.\n---\n# H\n[a](b.md)\n")
    crlf = parse("---\r\nname: x\r\ndescription: Use when y.\r\n---\r\n# H\r\n[a](b.md)\r\n")
    assert crlf.front_matter.keys["name"].value_span == lf.front_matter.keys["name"].value_span
    assert [r.span for r in crlf.references] == [r.span for r in lf.references]


def test_front_matter_block_text_is_not_read_for_references() -> None:
    assert refs("---\nname: x\ndescription: Use with kitchen:knife-skills and /plate.\n---\nbody\n") == []


# --- headings ---------------------------------------------------------------------------------
def test_heading_range_text_and_github_slugs() -> None:
    doc = parse("# Bread `baking`\n\n## Feeding: the schedule!\n\n## Feeding: the schedule!\n\nSetext\n======\n")
    h1, h2, h3, h4 = doc.headings
    assert (h1.level, h1.text, h1.slug, h1.span) == (1, "Bread baking", "bread-baking", Span(0, 0, 0, 16))
    assert (h2.slug, h2.span) == ("feeding-the-schedule", Span(2, 0, 2, 25))
    assert h3.slug == "feeding-the-schedule-1"
    assert (h4.level, h4.text, h4.span.start_line) == (1, "Setext", 6)


def test_heading_range_with_multibyte_text() -> None:
    (h,) = parse("## Crème brûlée 🍮\n").headings
    assert h.span == Span(0, 0, 0, 17) and h.slug == "crème-brûlée-"


# --- links ------------------------------------------------------------------------------------
def test_link_with_anchor_range_covers_the_destination() -> None:
    doc = parse("Read [the starter](sheets/starter.md#feeding-schedule) first.\n")
    (r,) = doc.references
    assert (r.kind, r.target, r.anchor) == (RefKind.LINK, "sheets/starter.md", "feeding-schedule")
    assert r.span == Span(0, 19, 0, 53) and at(doc, r.span) == "sheets/starter.md#feeding-schedule"


def test_anchor_only_link_and_image() -> None:
    rs = refs("Jump [below](#method). ![photo](img/loaf.png)\n")
    assert [(r.target, r.anchor) for r in rs] == [("", "method"), ("img/loaf.png", None)]


def test_external_and_variable_destinations_are_not_references() -> None:
    text = "[a](https://x.y/a.md) [b](/abs.md) [c](~/c.md) [d]($ROOT/d.md) [e](mailto:e@f.g) <https://x.y>\n"
    assert refs(text) == []


# --- tables -----------------------------------------------------------------------------------
TABLE = """| Symptom | Skill |
|---------|-------|
| "Dense loaf" | bread-proofing |
| **Pale crust** | `crust-colour.md`, **oven-heat** |
| "Flat" | [shaping](shaping.md) |
"""


def test_routing_table_cells_are_table_references_with_their_phrase() -> None:
    rs = refs(TABLE)
    assert [(r.kind, r.target, r.phrase) for r in rs] == [
        (RefKind.TABLE, "bread-proofing", "Dense loaf"),
        (RefKind.TABLE, "crust-colour.md", "Pale crust"),
        (RefKind.TABLE, "oven-heat", "Pale crust"),
        (RefKind.LINK, "shaping.md", "Flat"),
    ]
    assert rs[0].span == Span(2, 17, 2, 31)


def test_table_without_a_target_column_has_no_table_references() -> None:
    assert targets("| Cut | Thickness |\n|---|---|\n| julienne-style | 2-3 mm |\n") == []


def test_single_word_cell_is_a_name() -> None:
    assert targets("| Symptom | Skill |\n|---|---|\n| x | lamination |\n", RefKind.TABLE) == ["lamination"]


def test_list_cell_stops_at_prose_and_skips_asides() -> None:
    text = ("| Symptom | Skill |\n|---|---|\n"
            "| a | knife-skills, stock-making (with pan-sauce) or grill-heat |\n"
            "| b | knife-skills for the fine-dice work |\n"
            "| c | Most well-rested cooks |\n")
    assert targets(text, RefKind.TABLE) == ["knife-skills", "stock-making", "grill-heat", "knife-skills"]


def test_wrong_route_and_output_columns_are_not_targets() -> None:
    text = ("| Symptom | Wrong route | Correct route | Output |\n|---|---|---|---|\n"
            "| a | knife-sharpening | knife-skills | `menu-plan.md` |\n")
    assert [(r.kind, r.target) for r in refs(text)] == [(RefKind.TABLE, "knife-skills"), (RefKind.CODE, "menu-plan.md")]


# --- Route to lines ---------------------------------------------------------------------------
def test_route_to_line_takes_the_list_and_the_section_as_phrase() -> None:
    text = "## Burnt sauce\n\n**Route to:** stock-making.md + `pan-sauce` OR grill-heat (for the glaze)\n"
    rs = refs(text, RefKind.ROUTE_TO)
    assert [r.target for r in rs] == ["stock-making.md", "pan-sauce", "grill-heat"]
    assert {r.phrase for r in rs} == {"Burnt sauce"}
    assert rs[0].span == Span(2, 14, 2, 29)


def test_route_to_with_a_parenthesised_label() -> None:
    assert targets("Route to (two skills): knife-skills, stock-making\n", RefKind.ROUTE_TO) == ["knife-skills", "stock-making"]


def test_route_to_only_at_the_start_of_a_line() -> None:
    assert targets("We never route to knife-skills here.\n", RefKind.ROUTE_TO) == []


@pytest.mark.parametrize("line", [
    "**Route to** appropriate station leads.",
    "**Route to implementation**: sear first.",
])
def test_route_to_followed_by_a_sentence_names_nothing(line: str) -> None:
    assert refs(line + "\n") == []


# --- arrows -----------------------------------------------------------------------------------
def test_arrow_names_the_word_right_after_it() -> None:
    text = "- Dull knife → knife-skills\n- Thin broth -> `stock-making`\n- Burnt → check the heat\n"
    rs = refs(text, RefKind.ARROW)
    assert [(r.target, r.phrase) for r in rs] == [("knife-skills", "Dull knife"), ("stock-making", "Thin broth")]
    assert rs[0].span == Span(0, 15, 0, 27)


def test_arrow_chain_in_prose_is_not_a_route() -> None:
    assert refs("The menu goes draft → review → kitchen-ready state.\n") == []


def test_arrows_in_a_plain_fenced_decision_tree_route_but_are_marked_code() -> None:
    text = "```\nBroth too thin?\n├─ yes → stock-making\n└─ no → pan-sauce\n```\n"
    rs = refs(text)
    assert [(r.kind, r.target, r.in_code, r.phrase) for r in rs] == [
        (RefKind.ARROW, "stock-making", True, "yes"), (RefKind.ARROW, "pan-sauce", True, "no")]


# --- code spans, bold, qualified and slash names -------------------------------------------------
def test_code_spans_that_are_names() -> None:
    text = "Use `knife-skills`, `stock-making.md#ratios`, `kitchen:pan-sauce`, `kitchen/pan-sauce` and `/plate`.\n"
    rs = refs(text, RefKind.CODE)
    assert [(r.target, r.anchor, r.slash) for r in rs] == [
        ("knife-skills", None, False), ("stock-making.md", "ratios", False), ("kitchen:pan-sauce", None, False),
        ("kitchen/pan-sauce", None, False), ("plate", None, True)]
    assert rs[0].span == Span(0, 5, 0, 17)


@pytest.mark.parametrize("code", ["detach()", "clip_epsilon", "v1.2.3", "x = 1", "torch", "a b-c", "SELECT *"])
def test_code_spans_that_are_plainly_code_are_not_names(code: str) -> None:
    assert refs(f"Call `{code}` here.\n") == []


def test_bold_names_in_prose() -> None:
    assert [(r.kind, r.target) for r in refs("Load **knife-skills** first, not **Knife Work**.\n")] == [
        (RefKind.BOLD, "knife-skills")]


def test_qualified_colon_and_slash_names_in_prose_text() -> None:
    rs = refs("Then invoke kitchen:pan-sauce or run /plate-dish; the train/test split is not one.\n")
    assert [(r.kind, r.target, r.slash) for r in rs] == [
        (RefKind.PROSE, "kitchen:pan-sauce", False), (RefKind.PROSE, "plate-dish", True)]


def test_file_names_and_named_skills_in_prose() -> None:
    rs = refs("For ratios read stock-making.md, then use the pan-sauce skill.\n")
    assert [(r.kind, r.target) for r in rs] == [(RefKind.PROSE, "stock-making.md"), (RefKind.PROSE, "pan-sauce")]


def test_folder_and_template_code_spans() -> None:
    assert targets("Cards live in `styles/`; timings in `{oven}/timings.md`.\n", RefKind.CODE) == [
        "styles/", "{oven}/timings.md"]


# --- code is not references -------------------------------------------------------------------
def test_fenced_and_indented_code_hold_no_references() -> None:
    text = ("```python\n# see [a](b.md) and kitchen:pan-sauce\n```\n\n"
            "~~~markdown\n| Symptom | Skill |\n|---|---|\n| x | knife-skills |\n~~~\n\n"
            "    [c](d.md) → stock-making\n")
    assert refs(text) == []


# --- multi-byte text --------------------------------------------------------------------------
def test_columns_are_code_points_after_multibyte_text() -> None:
    rs = refs("Crème brûlée 🍮 → `pan-sauce` and [x](y.md)\n")
    assert [(r.target, r.span) for r in rs] == [("pan-sauce", Span(0, 18, 0, 27)), ("y.md", Span(0, 37, 0, 41))]


def test_names_with_escapes_still_get_a_range_on_their_line() -> None:
    (r,) = parse("See \\*note\\* **knife-skills** now\n").references
    assert r.span.start_line == 0 and parse("See \\*note\\* **knife-skills** now\n").text[r.span.start_col:].startswith(
        "knife-skills")


# --- nested fences (MD001) --------------------------------------------------------------------
def test_nested_fence_problem_range_and_the_references_after_it() -> None:
    # the example's own text after the early close renders as prose, until the orphaned closing fence
    text = "```markdown\n## A\n```python\nx\n```\nSee [b](c.md).\n```\n"
    doc = parse(text)
    (p,) = doc.problems
    assert (p.code, p.span) == ("MD001", Span(4, 0, 4, 3))
    (r,) = doc.references
    assert r.target == "c.md" and r.in_code  # below the early close: resolved, never linted


def test_longer_outer_fence_is_fine() -> None:
    assert parse("````markdown\n## A\n```python\nx\n```\n````\n").problems == []


# --- disable comments -------------------------------------------------------------------------
def test_disable_comments_are_read() -> None:
    doc = parse("a <!-- skill-lsp: disable=LK001,rt004 -->\n<!-- skill-lsp: disable-next-line -->\nb\n"
                "<!-- skill-lsp: disable-file=FM007 -->\n")
    assert doc.disabled == {0: frozenset({"LK001", "RT004"}), 2: frozenset({None})}
    assert doc.file_disabled == frozenset({"FM007"})


# --- counts -----------------------------------------------------------------------------------
def test_body_counts_exclude_the_front_matter() -> None:
    doc = parse("---\nname: x\ndescription: Use when y.\n---\none two\nthree\n")
    assert (doc.body_start_line, doc.line_count, doc.body_words, doc.body_chars) == (4, 3, 3, 14)
