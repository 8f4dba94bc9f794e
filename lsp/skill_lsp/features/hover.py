"""Hover on a reference (or on a skill's own front-matter name): what the target is and says."""

from __future__ import annotations

import os
import re

from lsprotocol import types as lsp

from ..model import DocKind, Resolution, Status, TargetKind
from .context import Ctx, fm_name_at, ref_text, reference_at, target_path

BODY_LINES = 8
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_USE_WHEN = re.compile(r"\b(?:use|invoke|apply|trigger)s?\b.*\b(?:when|whenever|for|if)\b|\bwhen\b", re.I)


def when_to_use(doc_description: str, when_key: object) -> str:
    """The "when to use" of a skill: its when_to_use key, else the Use-when clause of its description."""
    if isinstance(when_key, str) and when_key.strip():
        return when_key.strip()
    sentences = [x.strip() for x in _SENTENCE.split(doc_description) if x.strip()]
    for sentence in sentences:
        if _USE_WHEN.search(sentence):
            return sentence
    return ""


def describe(ctx: Ctx, path: str, anchor: str | None = None) -> str:
    """Markdown card of one document: name, id, description, when to use, where, size, sheets, body."""
    ix = ctx.ix
    doc = ix.docs.get(path)
    if doc is None:
        return f"`{ctx.rel(path)}`"
    kind = "skill" if doc.kind is DocKind.SKILL else doc.kind.value
    parsed = doc.parsed
    out = [f"**{ix.name_of(path)}** — {kind} `{ix.doc_id(path)}`"]
    desc = parsed.description()
    if desc:
        out.append(desc)
    data = parsed.front_matter.data if parsed.front_matter and parsed.front_matter.data else {}
    when = when_to_use(desc, data.get("when_to_use"))
    if when and when != desc:
        out.append(f"**When to use:** {when}")
    facts = [f"`{ctx.rel(path)}`", f"{parsed.body_words:,} words"]
    out.append(" · ".join(facts))
    sheets = _linked_sheets(ctx, path)
    if sheets:
        out.append("**Sheets:** " + ", ".join(f"`{s}`" for s in sheets))
    if anchor:
        out.append(f"**Section:** `#{anchor}`")
    body = _body_head(parsed.text, parsed.body_start_line)
    if body:
        fence = "`" * max(3, _longest_backtick_run(body) + 1)
        out.append(f"{fence}markdown\n{body}\n{fence}")
    return "\n\n".join(out)


def _linked_sheets(ctx: Ctx, path: str) -> list[str]:
    ix = ctx.ix
    seen: dict[str, None] = {}
    for res in ix.resolutions.get(path, ()):
        if res.target is None or res.status not in (Status.OK, Status.BAD_ANCHOR, Status.CASE):
            continue
        t = res.target.key
        if res.target.kind is TargetKind.SHEET and t in ix.docs and t != path:
            seen[os.path.relpath(t, os.path.dirname(path)).replace(os.sep, "/")] = None
    return list(seen)


def _body_head(text: str, start: int) -> str:
    lines = text.split("\n")[start:]
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines[:BODY_LINES]).rstrip()


def _longest_backtick_run(text: str) -> int:
    runs = re.findall(r"`+", text)
    return max((len(r) for r in runs), default=0)


def _plugin_card(ctx: Ctx, key: str) -> str:
    ix = ctx.ix
    plugin = ix.plugins.get(key)
    if plugin is None:
        return ""
    names = [ix.skills[s].name for s in plugin.skills if s in ix.skills]
    out = [f"**{plugin.name}** — plugin"]
    if plugin.manifest:
        out.append(f"`{ctx.rel(plugin.manifest)}`")
    if names:
        out.append("**Skills:** " + ", ".join(f"`{n}`" for n in sorted(names)))
    router = ix.target_doc(key, TargetKind.PLUGIN)
    if router:
        out.append("---\n" + describe(ctx, router))
    return "\n\n".join(out)


def _unresolved(ctx: Ctx, res: Resolution) -> str:
    ix = ctx.ix
    what = {Status.MISSING: "resolves to nothing", Status.AMBIGUOUS: "is ambiguous",
            Status.UNKNOWN_PLUGIN: "names an unknown plugin", Status.OUTSIDE: "leaves the skill tree",
            Status.IGNORED: "is not checked"}.get(res.status, res.status.value)
    out = [f"`{ref_text(res.ref)}` {what}"]
    cands = [c for c in res.candidates if c in ix.docs]
    if cands:
        label = "Matches" if res.status is Status.AMBIGUOUS else "Did you mean"
        out.append(f"**{label}:** " + ", ".join(f"`{ix.doc_id(c)}`" for c in cands[:5]))
    return "\n\n".join(out)


def hover(ctx: Ctx, path: str, position: lsp.Position) -> lsp.Hover | None:
    doc = ctx.doc(path)
    if doc is None:
        return None
    line, col = ctx.to_points(path, position)
    res = reference_at(ctx.ix, path, line, col)
    if res is not None:
        if res.target is not None and res.target.kind is TargetKind.PLUGIN and res.status is Status.OK:
            text = _plugin_card(ctx, res.target.key)
        else:
            target = target_path(ctx.ix, res)
            if target is None or (res.status is Status.AMBIGUOUS):
                if res.status in (Status.IGNORED,):
                    return None
                text = _unresolved(ctx, res)
            else:
                text = describe(ctx, target, res.ref.anchor)
        if not text:
            return None
        return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text),
                         range=ctx.range(path, res.ref.span))
    span = fm_name_at(doc, line, col)
    if span is not None and doc.kind is DocKind.SKILL:
        return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=describe(ctx, path)),
                         range=ctx.range(path, span))
    return None
