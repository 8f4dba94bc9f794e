"""The agent requests of DESIGN section 5: `skills/route`, `skills/list`, `skills/resolve`.

Pure functions over an index, shared by the language server, the MCP server and the CLI. They
answer with ids (`plugin/skill`, `plugin/skill/sheet.md`) and file URIs of indexed documents only:
text comes from the index (the open buffer when there is one), never from the disk, so nothing
outside the roots can be read through them. Bad parameters raise ValueError with a message meant
for the caller.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .model import DocKind
from .route import router_for

if TYPE_CHECKING:
    from .index import SkillIndex

MAX_LIMIT = 50
MAX_QUERY_CHARS = 4000
_KINDS = (DocKind.SKILL, DocKind.SHEET)


def route_request(ix: SkillIndex, params: dict[str, Any]) -> dict[str, Any]:
    """{query, limit?, root?} -> {results: [...], confident}."""
    params = _params(params)
    query = params.get("query")
    if not isinstance(query, str) or not query.strip():
        raise ValueError("skills/route needs a non-empty string 'query'")
    if len(query) > MAX_QUERY_CHARS:
        raise ValueError(f"'query' is longer than {MAX_QUERY_CHARS} characters")
    limit = params.get("limit", 5)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"'limit' must be an integer from 1 to {MAX_LIMIT}")
    roots = _roots(ix, params.get("root"))
    router = router_for(ix)
    answer = router.route(query, limit=limit, roots=roots)
    results = []
    for hit in answer.hits:
        item = _item(ix, hit.path)
        item["score"] = round(hit.score, 4)
        item["route"] = [ix.doc_id(p) for p in router.route_of(hit.path)]
        item["why"] = hit.why
        results.append(item)
    return {"results": results, "confident": answer.confident}


def list_request(ix: SkillIndex, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """{root?} -> {items: [{id, name, kind, uri, description}]}, sorted by id."""
    params = _params(params)
    roots = _roots(ix, params.get("root"))
    items = [_item(ix, p) for p, d in ix.docs.items() if d.kind in _KINDS and _in_roots(d.root, roots)]
    items.sort(key=lambda i: (i["id"], i["uri"]))
    return {"items": items}


def resolve_request(ix: SkillIndex, params: dict[str, Any]) -> dict[str, Any]:
    """{id} or {name} -> the document with its text and, for a skill, its sheets."""
    params = _params(params)
    ident = params.get("id")
    name = params.get("name")
    if ident is not None and not isinstance(ident, str):
        raise ValueError("'id' must be a string")
    if name is not None and not isinstance(name, str):
        raise ValueError("'name' must be a string")
    if not ident and not name:
        raise ValueError("skills/resolve needs 'id' or 'name'")
    roots = _roots(ix, params.get("root"))
    if ident:
        path = _by_id(ix, ident, roots)
        if path is None:
            raise ValueError(f"no skill or sheet with id {ident!r}")
    else:
        path = _by_name(ix, name or "", roots)
    doc = ix.docs[path]
    item = _item(ix, path)
    item["text"] = doc.parsed.text
    sheets = []
    if doc.kind is DocKind.SKILL:
        skill = ix.skills.get(os.path.dirname(path))
        for s in sorted(skill.sheets if skill else ()):
            if s in ix.docs:
                sheets.append({"id": ix.doc_id(s), "name": ix.name_of(s), "uri": _uri(s)})
    item["sheets"] = sheets
    return item


# --- helpers ------------------------------------------------------------------------------------
def _params(params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ValueError("parameters must be a JSON object")
    return params


def _roots(ix: SkillIndex, root: Any) -> list[str] | None:
    """The indexed root(s) a request is limited to; a root we do not serve is an error."""
    if root is None or root == "":
        return None
    if not isinstance(root, str):
        raise ValueError("'root' must be a string path")
    if root.startswith("file://"):
        from urllib.parse import unquote, urlparse

        root = unquote(urlparse(root).path)
    real = os.path.realpath(root)
    if real in ix.roots:
        return [real]
    inside = [r for r in ix.roots if real.startswith(r + os.sep)]
    if inside:
        return [real]  # a folder inside a root narrows the answer to that folder
    raise ValueError(f"{root!r} is not an indexed root")


def _in_roots(path: str, roots: list[str] | None) -> bool:
    if roots is None:
        return True
    return any(path == r or path.startswith(r + os.sep) for r in roots)


def _uri(path: str) -> str:
    return Path(path).as_uri()


def _item(ix: SkillIndex, path: str) -> dict[str, Any]:
    doc = ix.docs[path]
    return {
        "id": ix.doc_id(path),
        "name": ix.name_of(path),
        "kind": "skill" if doc.kind is DocKind.SKILL else "sheet",
        "uri": _uri(path),
        "description": doc.parsed.description(),
    }


def _by_id(ix: SkillIndex, ident: str, roots: list[str] | None) -> str | None:
    ident = ident.strip().strip("/")
    if not ident or ".." in ident.split("/") or "\\" in ident or "\0" in ident:
        return None
    # ids are short and few per request: build the table of candidates from the id's last part
    last = ident.rsplit("/", 1)[-1]
    candidates: list[str] = []
    if last.endswith(".md"):
        candidates = list(ix.sheets_by_stem.get(last[:-3], ()))
    else:
        candidates = [ix.skills[s].path for s in ix.skills_named(last) if s in ix.skills]  # names and folders
    for p in sorted(candidates):
        d = ix.docs.get(p)
        if d is not None and d.kind in _KINDS and _in_roots(p, roots) and ix.doc_id(p) == ident:
            return p
    return None


def _by_name(ix: SkillIndex, name: str, roots: list[str] | None) -> str:
    name = name.strip()
    if name.startswith("/"):
        name = name[1:]
    if ":" in name:  # plugin:skill
        plugin, _, name = name.partition(":")
        found = _by_id(ix, f"{plugin}/{name}", roots)
        if found:
            return found
    paths = [ix.skills[s].path for s in ix.skills_named(name) if s in ix.skills]
    if not paths:
        stem = name[:-3] if name.endswith(".md") else name
        paths = list(ix.sheets_by_stem.get(stem, ()))
    paths = [p for p in dict.fromkeys(paths) if p in ix.docs and ix.docs[p].kind in _KINDS and _in_roots(p, roots)]
    if not paths:
        raise ValueError(f"no skill or sheet named {name!r}")
    if len(paths) > 1:
        ids = ", ".join(sorted(ix.doc_id(p) for p in paths))
        raise ValueError(f"name {name!r} is ambiguous: {ids}; ask by id")
    return paths[0]
