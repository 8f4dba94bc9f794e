"""Completion: names where a route goes, paths and anchors inside link targets, front-matter keys.

Where the cursor is decides what is offered; the word under the cursor is replaced (a text edit),
so clients filter on it themselves. Lists are capped to stay fast on trees of thousands of skills.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from lsprotocol import types as lsp

from ..model import DocKind
from ..rules.frontmatter import CLAUDE_CODE_KEYS, PORTABLE_KEYS
from .context import Ctx

MAX_ITEMS = 400

_LINK_TARGET = re.compile(r"\]\(<?([^()\s>]*)$")
_WORD_BEFORE = re.compile(r"[\w./:@-]*$")
_ARROW = re.compile(r"(?:→|->|⇒|=>)\s*[`*]*[\w./:-]*$")
_ROUTE_TO = re.compile(r"\broute\s+to\b", re.I)
_KEY_START = re.compile(r"^([\w-]*)$")
_KEY_LINE = re.compile(r"^([\w-]+)\s*:")


@dataclass(frozen=True, slots=True)
class Site:
    kind: str  # "names" | "path" | "anchor" | "key"
    start: int  # code-point column where the replaced text starts
    typed: str  # what is already written there


def site_at(ctx: Ctx, path: str, line: int, col: int) -> Site | None:
    """What may be completed at (line, col) of `path`, from the text of that line."""
    doc = ctx.doc(path)
    lines = ctx.lines(path)
    if doc is None or line >= len(lines):
        return None
    before = lines[line][:col]
    fm = doc.parsed.front_matter
    if fm is not None and line > 0 and (line < fm.span.end_line or (fm.error and "not closed" in fm.error)):
        m = _KEY_START.match(before)
        return Site("key", 0, m.group(1)) if m else None
    m = _LINK_TARGET.search(before)
    if m:
        typed = m.group(1)
        if "#" in typed:
            hash_at = typed.index("#")
            return Site("anchor", col - len(typed) + hash_at + 1, typed)
        return Site("path", col - len(typed), typed)
    word = _WORD_BEFORE.search(before).group(0)
    start = col - len(word)
    stripped = before.lstrip()
    routing = (
        # a table cell after the first: the first column holds the phrase, not the target
        stripped.startswith("|") and before.count("|") >= 2
        or bool(_ROUTE_TO.search(before))
        or bool(_ARROW.search(before))
        or before.count("`") % 2 == 1
    )
    if routing:
        return Site("names", start, word.lstrip("/"))
    return None


def complete(ctx: Ctx, path: str, position: lsp.Position, markdown: bool = True) -> lsp.CompletionList | None:
    line, col = ctx.to_points(path, position)
    site = site_at(ctx, path, line, col)
    if site is None:
        return None
    rng = lsp.Range(start=ctx.position(path, line, site.start), end=ctx.position(path, line, col))
    if site.kind == "key":
        items = _keys(ctx, path, rng)
    elif site.kind == "path":
        items = _paths(ctx, path, rng, site.typed, markdown)
    elif site.kind == "anchor":
        items = _anchors(ctx, path, rng, site.typed)
    else:
        items = _names(ctx, path, rng, site.typed, markdown)
    incomplete = len(items) > MAX_ITEMS
    return lsp.CompletionList(is_incomplete=incomplete, items=items[:MAX_ITEMS])


def _doc_markup(ctx: Ctx, target: str, markdown: bool) -> lsp.MarkupContent | str | None:
    doc = ctx.doc(target)
    if doc is None:
        return None
    desc = doc.parsed.description()
    if not desc:
        heading = next((h.text for h in doc.parsed.headings), "")
        desc = heading
    text = f"{desc}\n\n`{ctx.rel(target)}`" if desc else f"`{ctx.rel(target)}`"
    return lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text) if markdown else text


def _item(label: str, kind: lsp.CompletionItemKind, rng: lsp.Range, detail: str, doc, sort: str,  # noqa: ANN001
          filter_text: str | None = None) -> lsp.CompletionItem:
    return lsp.CompletionItem(
        label=label, kind=kind, detail=detail, documentation=doc, sort_text=sort,
        filter_text=filter_text or label, text_edit=lsp.TextEdit(range=rng, new_text=label),
    )


def _keys(ctx: Ctx, path: str, rng: lsp.Range) -> list[lsp.CompletionItem]:
    settings = ctx.ix.settings_for(path)
    allowed = PORTABLE_KEYS if settings.key_policy == "portable" else CLAUDE_CODE_KEYS
    # keys written on other lines; read from the text, as YAML being typed rarely parses
    present = set()
    for i, line in enumerate(ctx.lines(path)[1:], start=1):
        if line.strip() in ("---", "..."):
            break
        m = _KEY_LINE.match(line)
        if m and i != rng.start.line:
            present.add(m.group(1))
    out = []
    for key in sorted(allowed - present):
        rank = "0" if key in ("name", "description") else ("1" if key in PORTABLE_KEYS else "2")
        out.append(lsp.CompletionItem(
            label=key, kind=lsp.CompletionItemKind.Property,
            detail="front-matter key" + ("" if key in PORTABLE_KEYS else " (Claude Code)"),
            sort_text=rank + key, text_edit=lsp.TextEdit(range=rng, new_text=key + ": "),
        ))
    return out


def _paths(ctx: Ctx, path: str, rng: lsp.Range, typed: str, markdown: bool) -> list[lsp.CompletionItem]:
    ix = ctx.ix
    doc = ctx.doc(path)
    if doc is None:
        return []
    here = os.path.dirname(path)
    home = doc.skill_dir or here
    candidates = [p for p, d in ix.docs.items() if d.root == doc.root and p != path]
    # scripts, templates and images of this skill are linked too
    candidates += [f for f in ix.files if f.startswith(home + os.sep) and f not in ix.docs]
    # Sheets of this skill first, then skills of this plugin, then the rest of the tree.
    def rank(p: str) -> tuple[int, str]:
        d = ix.docs.get(p)
        if d is None:
            return 1, p
        if p.startswith(home + os.sep):
            return 0, p
        if doc.plugin_dir and d.plugin_dir == doc.plugin_dir:
            return 1 if d.kind is DocKind.SKILL else 2, p
        return 3 if d.kind is DocKind.SKILL else 4, p
    candidates.sort(key=rank)
    typed_low = typed.lower()
    last = typed_low.rsplit("/", 1)[-1]
    out = []
    for i, p in enumerate(candidates):
        rel = os.path.relpath(p, here).replace(os.sep, "/")
        if typed.startswith("./") and not rel.startswith("../"):
            rel = "./" + rel
        # what was typed starts the path, or its last part is in the file's name
        if typed_low and not rel.lower().startswith(typed_low) and last not in os.path.basename(p).lower():
            continue
        target = ix.docs.get(p)
        kind = lsp.CompletionItemKind.Module if target and target.kind is DocKind.SKILL else lsp.CompletionItemKind.File
        detail = ix.doc_id(p) if target else ctx.rel(p)
        out.append(_item(rel, kind, rng, detail, _doc_markup(ctx, p, markdown), f"{rank(p)[0]}{i:06d}"))
        if len(out) > MAX_ITEMS:
            break
    return out


def _anchors(ctx: Ctx, path: str, rng: lsp.Range, typed: str) -> list[lsp.CompletionItem]:
    file_part = typed.split("#", 1)[0]
    target = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
    doc = ctx.doc(target)
    if doc is None:
        return []
    return [
        lsp.CompletionItem(label=h.slug, kind=lsp.CompletionItemKind.Reference, detail="#" * h.level + " " + h.text,
                           sort_text=f"{i:05d}", text_edit=lsp.TextEdit(range=rng, new_text=h.slug))
        for i, h in enumerate(doc.parsed.headings)
    ]


def _names(ctx: Ctx, path: str, rng: lsp.Range, typed: str, markdown: bool) -> list[lsp.CompletionItem]:
    ix = ctx.ix
    doc = ctx.doc(path)
    if doc is None:
        return []
    low = typed.lower()
    out: list[lsp.CompletionItem] = []

    def wanted(name: str) -> bool:
        return not low or low in name.lower()

    # sheets of this skill: by stem
    for sheet in ix.docs_in_skill(doc.skill_dir):
        if sheet == path or ix.docs[sheet].kind is not DocKind.SHEET:
            continue
        stem = os.path.basename(sheet)[:-3]
        if wanted(stem):
            out.append(_item(stem, lsp.CompletionItemKind.File, rng, ix.doc_id(sheet),
                             _doc_markup(ctx, sheet, markdown), "0" + stem))
    # skills: the bare name, and plugin/skill for skills in plugins
    for skill in sorted(ix.skills.values(), key=lambda s: s.name):
        plugin = ix.plugins.get(skill.plugin) if skill.plugin else None
        near = plugin is None or skill.plugin == doc.plugin_dir
        if wanted(skill.name):
            rank = "1" if near else "2"
            out.append(_item(skill.name, lsp.CompletionItemKind.Module, rng, ix.doc_id(skill.path),
                             _doc_markup(ctx, skill.path, markdown), rank + skill.name))
        if plugin is not None:
            qualified = f"{plugin.name}/{skill.folder}"
            if wanted(qualified):
                out.append(_item(qualified, lsp.CompletionItemKind.Module, rng, ix.doc_id(skill.path),
                                 _doc_markup(ctx, skill.path, markdown), "3" + qualified))
        if len(out) > MAX_ITEMS:
            break
    return out
