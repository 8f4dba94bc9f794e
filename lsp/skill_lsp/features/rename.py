"""Rename a skill (its folder and name) or a sheet (its file), and every reference to it; and
the references to files and folders the user renames or moves in the editor's file explorer.

The edit is one WorkspaceEdit: text edits first (against the files as they are named now), then
the file or folder rename. Links get the new relative path (anchors kept); names get the new name
with any qualification (`plugin/skill`, `skill/sheet.md`) kept.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from lsprotocol import types as lsp

from ..model import DocKind, RefKind, Resolution, Span, TargetKind
from ..rules.frontmatter import NAME_RE
from .context import FOUND, Ctx, fm_name_at, reference_at
from .navigation import referring

_TOKEN = re.compile(r"[^/:]+")
_STEM_RE = re.compile(r"^[\w][\w.-]*$")


class RenameRefused(Exception):
    """What is under the cursor cannot be renamed; the message says why."""


@dataclass(frozen=True, slots=True)
class Subject:
    kind: str  # "skill" | "sheet"
    path: str  # SKILL.md of the skill, or the sheet
    span: Span  # what the client highlights in the file the request came from
    placeholder: str


def subject_at(ctx: Ctx, path: str, line: int, col: int) -> Subject:
    ix = ctx.ix
    doc = ix.docs.get(path)
    if doc is None:
        raise RenameRefused("This file is not part of an indexed skill tree.")
    res = reference_at(ix, path, line, col)
    if res is not None:
        return _subject_of_ref(ctx, path, res)
    span = fm_name_at(doc, line, col)
    if span is not None and doc.kind is DocKind.SKILL:
        skill = ix.skills.get(os.path.dirname(path))
        if skill is not None:
            return Subject("skill", path, span, skill.name)
    raise RenameRefused("Nothing to rename here: put the cursor on a reference to a skill or sheet, "
                        "or on a skill's front-matter name.")


def _subject_of_ref(ctx: Ctx, path: str, res: Resolution) -> Subject:
    ix = ctx.ix
    written = res.ref.target or ("#" + (res.ref.anchor or ""))
    if res.status not in FOUND or res.target is None:
        raise RenameRefused(f"`{written}` does not resolve to one skill or sheet, so it cannot be renamed.")
    kind = res.target.kind
    if kind is TargetKind.PLUGIN:
        raise RenameRefused(f"`{written}` names a plugin; plugins are not renamed here.")
    if not res.ref.target:
        raise RenameRefused("A link to a heading of this file renames nothing; rename the heading instead.")
    if kind is TargetKind.SKILL:
        skill = ix.skills.get(os.path.dirname(res.target.key))
        if skill is None:
            raise RenameRefused(f"`{written}` does not resolve to a skill.")
        span = _component_span(ctx, path, res.ref.span, {skill.name, skill.folder}) or res.ref.span
        return Subject("skill", res.target.key, span, skill.name)
    if kind is TargetKind.SHEET and res.target.key in ix.docs:
        stem = os.path.basename(res.target.key)[:-3]
        span = _component_span(ctx, path, res.ref.span, {stem, stem + ".md"}, last=True) or res.ref.span
        return Subject("sheet", res.target.key, span, stem)
    raise RenameRefused(f"`{written}` is a {kind.value}; only skills and sheets can be renamed.")


def _span_text(ctx: Ctx, path: str, span: Span) -> str | None:
    lines = ctx.lines(path)
    if span.start_line != span.end_line or span.start_line >= len(lines):
        return None
    return lines[span.start_line][span.start_col:span.end_col]


def _component_span(ctx: Ctx, path: str, span: Span, names: set[str], last: bool = False) -> Span | None:
    """The span of the last `/`- or `:`-separated part of a reference that is one of `names`."""
    text = _span_text(ctx, path, span)
    if text is None:
        return None
    text = text.split("#", 1)[0]
    found = None
    tokens = list(_TOKEN.finditer(text))
    for m in tokens:
        if m.group(0).lstrip("/") in names:
            found = m
    if found is None or (last and found is not tokens[-1]):
        return None
    start = found.start() + (len(found.group(0)) - len(found.group(0).lstrip("/")))
    return Span(span.start_line, span.start_col + start, span.end_line, span.start_col + found.end())


def prepare_rename(ctx: Ctx, path: str, position: lsp.Position) -> lsp.PrepareRenamePlaceholder:
    line, col = ctx.to_points(path, position)
    subject = subject_at(ctx, path, line, col)
    return lsp.PrepareRenamePlaceholder(range=ctx.range(path, subject.span), placeholder=subject.placeholder)


def rename(ctx: Ctx, path: str, position: lsp.Position, new_name: str) -> lsp.WorkspaceEdit:
    line, col = ctx.to_points(path, position)
    subject = subject_at(ctx, path, line, col)
    new_name = new_name.strip()
    if subject.kind == "skill":
        return _rename_skill(ctx, subject, new_name)
    return _rename_sheet(ctx, subject, new_name)


# --- skills ---------------------------------------------------------------------------------
def _rename_skill(ctx: Ctx, subject: Subject, new_name: str) -> lsp.WorkspaceEdit:
    ix = ctx.ix
    skill = ix.skills[os.path.dirname(subject.path)]
    if not NAME_RE.match(new_name) or len(new_name) > 64:
        raise RenameRefused(f"`{new_name}` is not a valid skill name: lowercase letters, digits and single "
                            "hyphens, at most 64 characters.")
    if new_name == skill.name and new_name == skill.folder:
        raise RenameRefused(f"The skill is already named `{new_name}`.")
    others = [s for s in ix.skills_named(new_name) if s != skill.dir]
    if others:
        raise RenameRefused(f"A skill named `{new_name}` already exists ({ix.doc_id(ix.skills[others[0]].path)}).")
    old_dir = skill.dir
    new_dir = os.path.join(os.path.dirname(old_dir), new_name)
    move_folder = new_dir != old_dir
    if move_folder and (os.path.exists(new_dir) or new_dir in ix.dirs or new_dir in ix.files):
        raise RenameRefused(f"`{os.path.relpath(new_dir, os.path.dirname(old_dir))}` already exists beside the skill.")

    def moved(p: str) -> str:
        if move_folder and (p == old_dir or p.startswith(old_dir + os.sep)):
            return new_dir + p[len(old_dir):]
        return p

    edits: dict[str, list[tuple[Span, str]]] = {}
    doc = ix.docs[subject.path]
    fm = doc.parsed.front_matter
    if fm is not None and fm.data and isinstance(fm.data.get("name"), str) and "name" in fm.keys:
        edits.setdefault(subject.path, []).append((fm.keys["name"].value_span, new_name))
    old_names = {skill.name, skill.folder}
    prefix = old_dir + os.sep
    for key in [k for k in ix.reverse if k == old_dir or k.startswith(prefix)]:
        for src, res in _referring(ctx, key):
            if res.ref.kind is RefKind.LINK:
                text = _link_text(ctx, src, res, moved)
            elif key == subject.path:
                text = _replace_token(ctx, src, res.ref.span, old_names, new_name, last=True)
            else:
                # a sheet of the skill, written with the skill's name in it (skill/sheet.md)
                text = _replace_token(ctx, src, res.ref.span, old_names, new_name, last=True,
                                      skip_last=True) if move_folder or skill.name != new_name else None
            if text is not None:
                edits.setdefault(src, []).append((res.ref.span, text))
    changes: list = _text_edits(ctx, edits)
    changes.extend(_manifest_edits(ctx, skill.dir, new_name) if move_folder else [])
    if move_folder:
        changes.append(lsp.RenameFile(old_uri=ctx.uri_of(old_dir), new_uri=ctx.uri_of(new_dir)))
    return lsp.WorkspaceEdit(document_changes=changes)


# --- sheets ---------------------------------------------------------------------------------
def _rename_sheet(ctx: Ctx, subject: Subject, new_name: str) -> lsp.WorkspaceEdit:
    ix = ctx.ix
    stem = new_name[:-3] if new_name.lower().endswith(".md") else new_name
    if not _STEM_RE.match(stem) or os.sep in stem or "/" in stem:
        raise RenameRefused(f"`{new_name}` is not a valid sheet name: one file name, no folders.")
    old = subject.path
    new = os.path.join(os.path.dirname(old), stem + ".md")
    if new == old:
        raise RenameRefused(f"The sheet is already named `{stem}.md`.")
    if (os.path.exists(new) and os.path.normcase(new) != os.path.normcase(old)) or new in ix.files:
        raise RenameRefused(f"`{stem}.md` already exists beside the sheet.")

    def moved(p: str) -> str:
        return new if p == old else p

    old_stem = os.path.basename(old)[:-3]
    edits: dict[str, list[tuple[Span, str]]] = {}
    for src, res in _referring(ctx, old):
        if res.ref.kind is RefKind.LINK:
            text = _link_text(ctx, src, res, moved)
        else:
            text = _replace_token(ctx, src, res.ref.span, {old_stem, old_stem + ".md"}, stem, last=True)
        if text is not None:
            edits.setdefault(src, []).append((res.ref.span, text))
    changes: list = _text_edits(ctx, edits)
    changes.append(lsp.RenameFile(old_uri=ctx.uri_of(old), new_uri=ctx.uri_of(new)))
    return lsp.WorkspaceEdit(document_changes=changes)


# --- files renamed in the editor -----------------------------------------------------------
def will_rename_files(ctx: Ctx, pairs: list[tuple[str, str]]) -> lsp.WorkspaceEdit | None:
    """The text edits that keep references whole when files or folders move from old to new path
    (`workspace/willRenameFiles`; the client applies them, then renames).

    Links to a moved file or into a moved folder get their new relative path, and so do the
    relative links inside a document that moves to another folder. A sheet whose file name changes
    is renamed where it is named (`proofing-times.md`); a skill whose folder name changes, where
    it is named by that folder name and not by its front-matter name."""
    ix = ctx.ix
    pairs = [(old, new) for old, new in pairs if old != new and (old in ix.files or old in ix.dirs)]
    if not pairs:
        return None

    def moved(p: str) -> str:
        for old, new in pairs:
            if p == old or p.startswith(old + os.sep):
                return new + p[len(old):]
        return p

    edits: dict[str, list[tuple[Span, str]]] = {}

    def add(src: str, span: Span, text: str | None) -> None:
        if text is not None:
            edits.setdefault(src, []).append((span, text))

    keys = [k for k in ix.reverse if moved(k) != k]
    for key in sorted(keys):
        for src, res in _referring(ctx, key):
            if res.ref.kind is RefKind.LINK:
                add(src, res.ref.span, _link_text(ctx, src, res, moved))
            else:
                add(src, res.ref.span, _renamed_name(ctx, src, res, key, moved(key)))
    for src in sorted(p for p in ix.docs if moved(p) != p):
        for res in ix.resolutions.get(src, ()):
            if res.ref.kind is RefKind.LINK and res.status in FOUND:
                add(src, res.ref.span, _link_text(ctx, src, res, moved))
    changes: list = _text_edits(ctx, edits)
    for old, new in pairs:
        if old in ix.skills and os.path.dirname(old) == os.path.dirname(new):
            changes.extend(_manifest_edits(ctx, old, os.path.basename(new)))
    return lsp.WorkspaceEdit(document_changes=changes) if changes else None


def _renamed_name(ctx: Ctx, src: str, res: Resolution, old: str, new: str) -> str | None:
    """A name reference to a document whose file or folder name changes, written anew: a sheet's
    new file name; a skill folder's new name where the folder name is written and the skill's
    front-matter name is another (the front-matter name still finds it)."""
    ix = ctx.ix
    doc = ix.docs.get(old)
    if doc is None:
        return None
    if doc.kind is DocKind.SHEET:
        stem, new_stem = os.path.basename(old)[:-3], os.path.basename(new)
        new_stem = new_stem[:-3] if new_stem.lower().endswith(".md") else new_stem
        if stem != new_stem:
            return _replace_token(ctx, src, res.ref.span, {stem, stem + ".md"}, new_stem, last=True)
    skill = ix.skills.get(doc.skill_dir) if doc.skill_dir else None
    if skill is None:
        return None
    folder = os.path.basename(skill.dir)
    new_folder = os.path.basename(moved_dir) if (moved_dir := _moved_prefix(skill.dir, old, new)) else folder
    if folder == new_folder or skill.name == folder:
        return None
    return _replace_token(ctx, src, res.ref.span, {folder}, new_folder, last=True,
                          skip_last=doc.kind is not DocKind.SKILL)


def _moved_prefix(folder: str, old: str, new: str) -> str | None:
    """Where `folder` goes when `old` (inside it) goes to `new`, if the move keeps the rest."""
    rest = old[len(folder):]
    return new[: len(new) - len(rest)] if old.startswith(folder + os.sep) and new.endswith(rest) else None


# --- shared ---------------------------------------------------------------------------------
def _referring(ctx: Ctx, key: str) -> list[tuple[str, Resolution]]:
    return referring(ctx.ix, key)


def _link_text(ctx: Ctx, src: str, res: Resolution, moved) -> str | None:  # noqa: ANN001 - path -> path
    """The new destination of a link whose target (or whose own file) moves; None when unchanged."""
    ref = res.ref
    if not ref.target or res.target is None:
        return None
    target = res.target.key
    old_rel = os.path.relpath(target, os.path.dirname(src))
    new_rel = os.path.relpath(moved(target), os.path.dirname(moved(src)))
    if old_rel == new_rel:
        return None
    new_rel = new_rel.replace(os.sep, "/")
    if ref.target.startswith("./") and not new_rel.startswith("../"):
        new_rel = "./" + new_rel
    if ref.target.endswith("/") and not new_rel.endswith("/"):
        new_rel += "/"
    written = _span_text(ctx, src, ref.span)
    if written is None:
        return None
    anchor = written[len(written.split("#", 1)[0]):] if "#" in written else ""
    return new_rel + anchor


def _replace_token(ctx: Ctx, src: str, span: Span, old: set[str], new: str, last: bool,
                   skip_last: bool = False) -> str | None:
    """The reference text with its (last) part that is one of `old` replaced by `new`."""
    text = _span_text(ctx, src, span)
    if text is None:
        return None
    body, hash_, anchor = text.partition("#")
    tokens = list(_TOKEN.finditer(body))
    if skip_last:
        tokens = tokens[:-1]
    pick = None
    for m in tokens:
        word = m.group(0).lstrip("/")
        if word in old:
            pick = m
            if not last:
                break
    if pick is None:
        return None
    word = pick.group(0)
    lead = word[: len(word) - len(word.lstrip("/"))]
    core = word.lstrip("/")
    replacement = new + (".md" if core.endswith(".md") and not new.endswith(".md") else "")
    out = body[: pick.start()] + lead + replacement + body[pick.end():]
    return out + hash_ + anchor if out + hash_ + anchor != text else None


def _text_edits(ctx: Ctx, edits: dict[str, list[tuple[Span, str]]]) -> list[lsp.TextDocumentEdit]:
    out = []
    for src in sorted(edits):
        seen: set[Span] = set()
        items = []
        for span, text in sorted(edits[src], key=lambda e: e[0]):
            if span in seen:
                continue
            seen.add(span)
            items.append(lsp.TextEdit(range=ctx.range(src, span), new_text=text))
        out.append(lsp.TextDocumentEdit(
            text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=ctx.uri_of(src), version=ctx.version_of(src)),
            edits=items,
        ))
    return out


def _manifest_edits(ctx: Ctx, skill_dir: str, new_folder: str) -> list[lsp.TextDocumentEdit]:
    """marketplace.json entries that list the skill folder by path get the new folder name."""
    ix = ctx.ix
    out = []
    manifests = {p.manifest for p in ix.plugins.values() if p.manifest and skill_dir in p.skills
                 and p.manifest.endswith("marketplace.json")}
    folder = os.path.basename(skill_dir)
    pattern = re.compile(r'"((?:[^"\\/]*/)*)' + re.escape(folder) + r'(/?)"')
    for manifest in sorted(manifests):
        try:
            with open(manifest, encoding="utf-8") as fh:
                text = fh.read(2_000_000)
        except OSError:
            continue
        lines = text.split("\n")
        items = []
        for i, line in enumerate(lines):
            for m in pattern.finditer(line):
                value = (m.group(1) + folder).lstrip("./")
                if not skill_dir.endswith(os.sep + os.path.normpath(value)):
                    continue
                start = m.start() + 1 + len(m.group(1))
                rng = lsp.Range(start=lsp.Position(line=i, character=ctx.codec.client_num_units(line[:start])),
                                end=lsp.Position(line=i, character=ctx.codec.client_num_units(line[:start + len(folder)])))
                items.append(lsp.TextEdit(range=rng, new_text=new_folder))
        if items:
            out.append(lsp.TextDocumentEdit(
                text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=ctx.uri_of(manifest),
                                                                          version=ctx.version_of(manifest)),
                edits=items))
    return out
