"""FM: front matter and names of SKILL.md (and the YAML of sheets that carry front matter)."""

from __future__ import annotations

import os
import re

from ..config import DEFAULT_USE_WHEN, Settings
from ..frontmatter import quote_value_fix
from ..model import Doc, DocKind, Finding, Fix, Span
from .base import FILE_START, finding

NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
PORTABLE_KEYS = frozenset({"name", "description", "license", "compatibility", "metadata", "allowed-tools"})
CLAUDE_CODE_KEYS = PORTABLE_KEYS | frozenset({
    "when_to_use", "argument-hint", "disable-model-invocation", "user-invocable", "model", "context",
    "agent", "hooks", "version", "effort", "paths", "shell", "mode", "allowed_tools", "tools",
})


def check_front_matter(doc: Doc, settings: Settings) -> list[Finding]:
    fm = doc.parsed.front_matter
    out: list[Finding] = []
    if fm is not None and fm.error:
        span = fm.error_span or FILE_START
        fixes: tuple[Fix, ...] = ()
        lines = doc.parsed.text.split("\n")
        if "quoted" in fm.error and span.start_line < len(lines):
            fixed = quote_value_fix(lines[span.start_line])
            if fixed:
                fixes = (Fix("Quote the value", ((doc.path, Span(span.start_line, 0, span.start_line,
                                                                 len(lines[span.start_line])), fixed),)),)
        out.append(finding("FM002", doc.path, span, fm.error, fixes=fixes))
    if doc.kind is not DocKind.SKILL:
        return out
    folder = os.path.basename(os.path.dirname(doc.path))
    base = os.path.basename(doc.path)
    if base != "SKILL.md":
        out.append(finding("FM011", doc.path, FILE_START, f"skill file is named `{base}`; agents look for `SKILL.md`",
                           fixes=(Fix("Rename to SKILL.md", rename=((doc.path, os.path.join(
                               os.path.dirname(doc.path), "SKILL.md")),)),)))
    if fm is None:
        skeleton = f"---\nname: {folder}\ndescription: Use when ...\n---\n\n"
        out.append(finding("FM001", doc.path, FILE_START, "SKILL.md has no front matter (`---` block with name and description)",
                           fixes=(Fix("Add front matter", ((doc.path, FILE_START, skeleton),)),)))
        return out
    if fm.error or fm.data is None:
        return out
    data, keys = fm.data, fm.keys
    name = data.get("name")
    if "name" not in data:
        out.append(finding("FM003", doc.path, fm.span, "front matter has no `name`",
                           fixes=(Fix("Add the name", ((doc.path, Span(1, 0, 1, 0), f"name: {folder}\n"),)),)))
    elif not isinstance(name, str):
        out.append(finding("FM010", doc.path, keys["name"].value_span, "`name` must be a string"))
    else:
        span = keys["name"].value_span
        if not NAME_RE.match(name) or len(name) > 64:
            out.append(finding("FM004", doc.path, span,
                               f"name `{name}` must be lowercase letters, digits and single hyphens, at most 64 characters"))
        if name != folder:
            out.append(finding("FM005", doc.path, span, f"name `{name}` differs from its folder `{folder}`",
                               fixes=(Fix(f"Rename to `{folder}`", ((doc.path, span, folder),)),)))
    desc = data.get("description")
    if "description" not in data:
        out.append(finding("FM006", doc.path, fm.span, "front matter has no `description`: say what the skill does and when to use it",
                           fixes=(Fix("Add a description", ((doc.path, Span(fm.span.end_line, 0, fm.span.end_line, 0),
                                                            "description: Use when ...\n"),)),)))
    elif not isinstance(desc, str):
        out.append(finding("FM010", doc.path, keys["description"].value_span, "`description` must be a string"))
    elif not desc.strip():
        out.append(finding("FM014", doc.path, keys["description"].value_span, "description is empty"))
    else:
        span = keys["description"].value_span
        if len(desc) > settings.description_limit:
            out.append(finding("FM008", doc.path, span,
                               f"description is {len(desc):,} characters, over the {settings.description_limit:,} limit"))
        when = data.get("when_to_use")
        if not isinstance(when, str) and not _says_when(desc, settings.use_when_pattern):
            out.append(finding("FM007", doc.path, span,
                               "description does not say when to use the skill (e.g. \"Use when ...\")"))
        if isinstance(when, str) and len(desc) + len(when) > settings.listing_limit:
            out.append(finding("FM012", doc.path, span,
                               f"description plus when_to_use is {len(desc) + len(when):,} characters; Claude Code's "
                               f"listing shows {settings.listing_limit:,}"))
    allowed = PORTABLE_KEYS if settings.key_policy == "portable" else CLAUDE_CODE_KEYS
    for key, k in keys.items():
        if key not in allowed:
            out.append(finding("FM009", doc.path, k.key_span,
                               f"front-matter key `{key}` is not in the {settings.key_policy} key policy"))
    return out


_PATTERN_CACHE: dict[str, re.Pattern[str]] = {}
# Trigger wordings real trees use besides "Use when": "Use this skill any time ...", "Trigger
# whenever ...", "TRIGGER — ... whenever: ...". Added to the default pattern only: a tree that
# sets its own pattern gets exactly that.
MORE_TRIGGERS = r"|\bwhenever\b|\btrigger(?:s|ed)?\b|\buse (?:this skill |it |this )?any ?time\b"


def _says_when(desc: str, pattern: str) -> bool:
    if pattern == DEFAULT_USE_WHEN:
        pattern = DEFAULT_USE_WHEN + MORE_TRIGGERS
    rx = _PATTERN_CACHE.get(pattern)
    if rx is None:
        try:
            rx = re.compile(pattern, re.I)
        except re.error:
            rx = re.compile(r"\buse when\b", re.I)
        _PATTERN_CACHE[pattern] = rx
    return bool(rx.search(desc))
