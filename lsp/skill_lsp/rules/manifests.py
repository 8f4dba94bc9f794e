"""Plugin manifests (`.claude-plugin/plugin.json`, `.claude-plugin/marketplace.json`): PL001-PL004.

Findings carry exact JSON ranges: a key, a value, or the opening brace of an object that lacks a
field. The ranges come from `json_source_map`, which walks text that `json` has already accepted
(so a syntax error is reported at the decoder's own position first) and gives every JSON pointer
the line/column of its key and value, in code points like our `Span`. Its pointers are the raw key
text; manifest keys are plain ASCII names, and a lookup that misses falls back to the enclosing
value, so an escaped key costs precision, never a finding.

The checks follow what `claude plugin validate` refuses (see docs/ and notes for the comparison):
required fields and their types, names, relative paths that start with `./` and stay inside the
plugin, paths that exist. Existence is judged from the index first (it knows open buffers and
the tree as walked) and from the disk second, for files the walk skips (ignored, dot-folders);
nothing outside the roots is ever looked at.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import json_source_map

from ..discover import load_json, read_doc
from ..model import Finding, Fix, Related, Severity, Span
from .base import FILE_START, finding

if TYPE_CHECKING:
    from ..index import SkillIndex

PLUGIN_JSON = "plugin.json"
MARKETPLACE_JSON = "marketplace.json"
MANIFEST_DIR = ".claude-plugin"
# Manifests are small; the source map is pure Python, so a huge one is refused rather than mapped.
MAX_MANIFEST_BYTES = 1_000_000

KEBAB = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# What Claude Code accepts as one part of a plugin id (plugin@marketplace).
INSTALLABLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# plugin.json fields that name files or folders of the plugin, with what each may also be inline.
PATH_FIELDS: dict[str, bool] = {  # field -> may be an inline object instead of a path
    "skills": False,
    "commands": False,
    "agents": False,
    "hooks": True,
    "lspServers": True,
    "mcpServers": True,
}
# Path fields whose string entries must name one kind of file (Claude Code's schema says so).
SUFFIX = {"agents": ".md", "hooks": ".json", "mcpServers": ".json", "lspServers": ".json"}
_NON_FINITE = ("NaN", "Infinity", "-Infinity")


def manifest_paths(ix: SkillIndex) -> list[str]:
    """Every `.claude-plugin/plugin.json` and `.claude-plugin/marketplace.json` the index holds."""
    out = []
    for f in ix.files:
        base = os.path.basename(f)
        if base in (PLUGIN_JSON, MARKETPLACE_JSON) and os.path.basename(os.path.dirname(f)) == MANIFEST_DIR:
            out.append(f)
    return sorted(out)


def is_manifest(path: str) -> bool:
    return (os.path.basename(path) in (PLUGIN_JSON, MARKETPLACE_JSON)
            and os.path.basename(os.path.dirname(path)) == MANIFEST_DIR)


def check_manifest(ix: SkillIndex, path: str, text: str | None = None) -> list[Finding]:
    """Every finding of one manifest. `text` (an editor's buffer) wins over the disk.

    A path outside the index's roots gets no findings: it is never read.
    """
    path = os.path.normpath(path)
    root = ix.root_of(path)
    if root is None or not _inside(os.path.realpath(path), root):
        return []
    settings = ix.settings_for(path)
    if text is None:
        result = read_doc(path, min(settings.max_file_bytes, MAX_MANIFEST_BYTES))
        if result.problem:
            raw = [finding(result.problem[0], path, FILE_START, result.problem[1])]
            if result.text is None or result.problem[0] != "IO002":
                return _apply(settings, raw)
        text = result.text or ""
    elif text.startswith("\ufeff"):
        text = text[1:]  # Claude Code accepts a byte-order mark; so do we
    checker = _Checker(ix, path, root, text)
    checker.run()
    return _apply(settings, checker.out)


def _apply(settings: Any, found: list[Finding]) -> list[Finding]:
    """Severity settings ("off" included); the same rule `check_path` applies to documents."""
    out = []
    for f in found:
        sev = settings.severity_of(f.code, f.severity)
        if sev is not None:
            out.append(f if sev == f.severity else replace(f, severity=sev))
    out.sort(key=Finding.sort_key)
    return out


# --- ranges ---------------------------------------------------------------------------------------
class Ranges:
    """JSON pointer -> key and value spans of one parsed manifest."""

    def __init__(self, text: str) -> None:
        self.entries: dict[str, Any] = {}
        # on failure, findings keep the file start as their range
        with contextlib.suppress(json_source_map.errors.BaseError, RecursionError):
            self.entries = json_source_map.calculate(text)

    def value(self, pointer: str) -> Span:
        entry = self._entry(pointer)
        if entry is None:
            return FILE_START
        return _span(entry.value_start, entry.value_end)

    def key(self, pointer: str) -> Span:
        entry = self.entries.get(pointer)
        if entry is None or entry.key_start is None:
            return self.value(pointer)
        return _span(entry.key_start, entry.key_end)

    def opening(self, pointer: str) -> Span:
        """The first character of a value: where a missing field of an object is reported."""
        entry = self._entry(pointer)
        if entry is None:
            return FILE_START
        s = entry.value_start
        return Span(s.line, s.column, s.line, s.column + 1)

    def _entry(self, pointer: str) -> Any:
        while True:
            entry = self.entries.get(pointer)
            if entry is not None or not pointer:
                return entry
            pointer = pointer.rsplit("/", 1)[0]

    def non_finite(self, text: str) -> Span | None:
        """Python's json reads NaN and Infinity; JSON (and Claude Code's parser) does not."""
        for entry in self.entries.values():
            s, e = entry.value_start, entry.value_end
            if text[s.position:e.position] in _NON_FINITE:
                return _span(s, e)
        return None


def _span(start: Any, end: Any) -> Span:
    return Span(start.line, start.column, end.line, end.column)


def _ptr(*parts: object) -> str:
    return "".join(f"/{p}" for p in parts)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def kebab(name: str) -> str:
    """The kebab-case spelling offered as a fix: `My Tools` -> `my-tools`."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", name)
    return "-".join(re.findall(r"[a-z0-9]+", s.lower()))


# --- the checks ---------------------------------------------------------------------------------
@dataclass(slots=True)
class _PathUse:
    """One path a manifest names: where it is written and what it is relative to."""

    field: str  # e.g. "skills", "plugins[2].source"
    pointer: str
    value: str
    base: str  # folder it is relative to


class _Checker:
    def __init__(self, ix: SkillIndex, path: str, root: str, text: str) -> None:
        self.ix = ix
        self.path = path
        self.root = root
        self.text = text
        self.out: list[Finding] = []
        self.ranges: Ranges | None = None
        # the folder that holds .claude-plugin/: plugin paths and marketplace sources are relative to it
        self.home = os.path.dirname(os.path.dirname(path))

    def add(self, code: str, span: Span, message: str, related: tuple[Related, ...] = (),
            fixes: tuple[Fix, ...] = (), severity: Severity | None = None) -> None:
        f = finding(code, self.path, span, message, related, fixes)
        self.out.append(f if severity is None else replace(f, severity=severity))

    def run(self) -> None:
        data = self._parse()
        if data is None:
            return
        r = self.ranges
        assert r is not None
        if not isinstance(data, dict):
            self.add("PL001", r.value(""), f"a manifest is a JSON object, not {_kind(data)}")
            return
        if os.path.basename(self.path) == PLUGIN_JSON:
            self._plugin(data)
        else:
            self._marketplace(data)

    def _parse(self) -> Any:
        try:
            data = json.loads(self.text)
        except json.JSONDecodeError as exc:
            self.add("PL001", self._error_span(exc), f"not valid JSON: {exc.msg}")
            return None
        except RecursionError:
            self.add("PL001", FILE_START, "not valid JSON: nested too deeply")
            return None
        self.ranges = Ranges(self.text)
        bad = self.ranges.non_finite(self.text)
        if bad is not None:
            self.add("PL001", bad, "not valid JSON: NaN and Infinity are not JSON numbers")
            return None
        return data

    def _error_span(self, exc: json.JSONDecodeError) -> Span:
        line, col = exc.lineno - 1, exc.colno - 1
        lines = self.text.split("\n")
        width = len(lines[line]) if 0 <= line < len(lines) else 0
        return Span(line, col, line, min(col + 1, width) if col < width else col)

    # plugin.json ------------------------------------------------------------------------------
    def _plugin(self, data: dict[str, Any]) -> None:
        name = self._name(data, "", "plugin")
        if name:
            self._duplicate_plugin_json(name)
        for key, inline_ok in PATH_FIELDS.items():
            if key in data:
                self._paths(data[key], key, _ptr(key), self.home, inline_ok, within=self.home)

    def _duplicate_plugin_json(self, name: str) -> None:
        """Another plugin.json of the same root with the same name (from the index's plugin table)."""
        others = []
        for p in self.ix.plugins.values():
            m = p.manifest or ""
            if (p.name == name and m != self.path and p.root == self.root
                    and os.path.basename(m) == PLUGIN_JSON and os.path.basename(os.path.dirname(m)) == MANIFEST_DIR):
                others.append(m)
        if not others:
            return
        related = tuple(Related(m, _name_span_of(m), f"also named {name!r}") for m in sorted(others))
        where = ", ".join(os.path.relpath(m, self.root) for m in sorted(others))
        assert self.ranges is not None
        self.add("PL003", self.ranges.value("/name"),
                 f"plugin name {name!r} is also used by {where}; only one of them can be installed", related)

    # marketplace.json -------------------------------------------------------------------------
    def _marketplace(self, data: dict[str, Any]) -> None:
        r = self.ranges
        assert r is not None
        self._name(data, "", "marketplace", in_marketplace=True)
        owner = data.get("owner")
        if "owner" not in data:
            self.add("PL001", r.opening(""), "marketplace.json lacks 'owner' (an object with a 'name')")
        elif not isinstance(owner, dict):
            self.add("PL001", r.value("/owner"), f"'owner' must be an object with a 'name', not {_kind(owner)}")
        elif not isinstance(owner.get("name"), str) or not owner["name"].strip():
            span = r.value("/owner/name") if "name" in owner else r.opening("/owner")
            self.add("PL001", span, "'owner' needs a 'name' (a non-empty string)")
        plugins = data.get("plugins")
        if "plugins" not in data:
            self.add("PL001", r.opening(""), "marketplace.json lacks 'plugins' (an array of plugin entries)")
            return
        if not isinstance(plugins, list):
            self.add("PL001", r.value("/plugins"), f"'plugins' must be an array, not {_kind(plugins)}")
            return
        meta = data.get("metadata")
        plugin_root = meta.get("pluginRoot") if isinstance(meta, dict) else None
        if not isinstance(plugin_root, str) or not plugin_root.strip():
            plugin_root = None
        names: dict[str, list[int]] = {}
        for i, entry in enumerate(plugins):
            at = _ptr("plugins", i)
            if not isinstance(entry, dict):
                self.add("PL001", r.value(at), f"plugins[{i}] must be an object, not {_kind(entry)}")
                continue
            name = self._name(entry, at, "plugin", label=f"plugins[{i}]", in_marketplace=True)
            if name:
                names.setdefault(name, []).append(i)
            self._entry(entry, i, plugin_root)
        for name, idx in names.items():
            if len(idx) < 2:
                continue
            for i in idx:
                others = [j for j in idx if j != i]
                related = tuple(Related(self.path, r.value(_ptr("plugins", j, "name")), f"plugins[{j}] is also {name!r}")
                                for j in others)
                self.add("PL003", r.value(_ptr("plugins", i, "name")),
                         f"plugins[{i}]: another entry of this marketplace is also named {name!r} "
                         f"(plugins[{', '.join(map(str, others))}])", related)

    def _entry(self, entry: dict[str, Any], i: int, plugin_root: str | None) -> None:
        r = self.ranges
        assert r is not None
        at = _ptr("plugins", i)
        if "source" not in entry:
            self.add("PL001", r.opening(at), f"plugins[{i}] lacks 'source' (a ./path or a source object)")
            return
        source = entry["source"]
        if isinstance(source, dict):
            return  # github, git, url, npm...: fetched at install time, nothing local to check
        if not isinstance(source, str):
            self.add("PL001", r.value(at + "/source"),
                     f"plugins[{i}].source must be a ./path or a source object, not {_kind(source)}")
            return
        use = _PathUse(f"plugins[{i}].source", at + "/source", source, self.home)
        src = self._one_path(use, must_dot=plugin_root is None, within=self.home, want_dir=True,
                             alt_base=os.path.join(self.home, plugin_root) if plugin_root else None)
        if src is None:
            return
        # An entry may stand in for the plugin's own manifest (strict: false): the same path fields.
        for key, inline_ok in PATH_FIELDS.items():
            if key in entry:
                self._paths(entry[key], f"plugins[{i}].{key}", f"{at}/{key}", src, inline_ok, within=src)

    # shared -----------------------------------------------------------------------------------
    def _name(self, data: dict[str, Any], at: str, what: str, label: str = "",
              in_marketplace: bool = False) -> str | None:
        """Check a required `name`; returns it when it is a usable string."""
        r = self.ranges
        assert r is not None
        label = label or os.path.basename(self.path)
        if "name" not in data:
            self.add("PL001", r.opening(at), f"{label} lacks 'name' (the {what}'s kebab-case name)")
            return None
        name = data["name"]
        span = r.value(at + "/name")
        if not isinstance(name, str):
            self.add("PL001", span, f"{label}: 'name' must be a string, not {_kind(name)}")
            return None
        if not name.strip():
            self.add("PL001", span, f"{label}: 'name' is empty")
            return None
        if KEBAB.fullmatch(name):
            return name
        fixed = kebab(name)
        fixes = (Fix(f"Rename to {fixed!r}", edits=((self.path, span, json.dumps(fixed)),)),) if fixed else ()
        if any(c.isspace() for c in name) or (in_marketplace and not INSTALLABLE.fullmatch(name)):
            # Claude Code refuses these outright (a name with spaces; an id it cannot install from a
            # marketplace): an error, not style. In plugin.json it only warns about other characters.
            self.add("PL004", span, f"{what} name {name!r} is not kebab-case, and Claude Code cannot install "
                     "a name with spaces or characters outside letters, digits, '.', '_' and '-'",
                     fixes=fixes, severity=Severity.ERROR)
        else:
            self.add("PL004", span, f"{what} name {name!r} is not kebab-case (lowercase letters, digits and "
                     "single hyphens)", fixes=fixes)
        return name

    def _paths(self, value: Any, field: str, pointer: str, base: str, inline_ok: bool, within: str) -> None:
        r = self.ranges
        assert r is not None
        key = field.rsplit(".", 1)[-1]
        suffix = SUFFIX.get(key)
        want_dir = key == "skills"  # each skills entry is a folder of skills (or one skill's folder)
        if isinstance(value, str):
            self._one_path(_PathUse(field, pointer, value, base), must_dot=True, within=within,
                           want_dir=want_dir, suffix=suffix)
            return
        if isinstance(value, list):
            for j, item in enumerate(value):
                if isinstance(item, str):
                    self._one_path(_PathUse(f"{field}[{j}]", f"{pointer}/{j}", item, base), must_dot=True,
                                   within=within, want_dir=want_dir, suffix=suffix)
                elif not (inline_ok and isinstance(item, dict)):
                    self.add("PL001", r.value(f"{pointer}/{j}"), f"{field}[{j}] must be a path, not {_kind(item)}")
            return
        if inline_ok and isinstance(value, dict):
            return  # hooks, MCP and LSP servers may be declared inline
        kinds = "a ./path, a list of paths or an inline object" if inline_ok else "a ./path or a list of paths"
        self.add("PL001", r.value(pointer), f"'{field}' must be {kinds}, not {_kind(value)}")

    def _one_path(self, use: _PathUse, must_dot: bool, within: str, want_dir: bool = False,
                  suffix: str | None = None, alt_base: str | None = None) -> str | None:
        """Judge one path; returns its absolute form when it exists."""
        r = self.ranges
        assert r is not None
        span = r.value(use.pointer)
        value = use.value
        if not value.strip():
            self.add("PL001", span, f"{use.field} is an empty path")
            return None
        if os.path.isabs(value) or value.startswith("~") or re.match(r"[A-Za-z]:[\\/]", value):
            self.add("PL001", span, f"{use.field}: {value!r} is absolute; paths are relative to the plugin "
                     "and start with './'")
            return None
        parts = re.split(r"[\\/]", value)
        if ".." in parts:
            self.add("PL001", span, f"{use.field}: {value!r} contains '..'; Claude Code refuses paths that "
                     "leave the plugin folder")
            return None
        if must_dot and not value.startswith("./"):
            self.add("PL001", span, f"{use.field}: {value!r} must start with './' (relative to the folder "
                     "that holds .claude-plugin/)")
        if suffix and not value.endswith(suffix):
            self.add("PL001", span, f"{use.field}: {value!r} must name a {suffix} file")
        if "${" in value or value.startswith("$"):
            return None  # ${CLAUDE_PLUGIN_ROOT} and friends are expanded by Claude Code, not by us
        bases = [use.base] + ([alt_base] if alt_base else [])
        for base in bases:
            target = os.path.normpath(os.path.join(base, value))
            if not _inside(target, within) or not _inside(target, self.root):
                continue
            if self._exists(target, want_dir):
                return target
            if want_dir and self._exists(target, False):
                self.add("PL002", span, f"{use.field}: {value!r} is a file; a folder is expected here")
                return None
        target = os.path.normpath(os.path.join(bases[-1], value))
        rel = os.path.relpath(target, self.root)
        hint = self._case_hint(target)
        what = "folder" if want_dir else "path"
        self.add("PL002", span, f"{use.field}: {what} {value!r} does not exist (looked for {rel}){hint}")
        return None

    def _exists(self, target: str, want_dir: bool) -> bool:
        ix = self.ix
        if target in ix.dirs:
            return True
        if target in ix.files:
            return not want_dir
        # The walk skips ignored files and dot-folders; the disk has the last word, inside the root only.
        real = os.path.realpath(target)
        if not _inside(real, self.root):
            return False
        return os.path.isdir(real) if want_dir else os.path.exists(real)

    def _case_hint(self, target: str) -> str:
        low = target.lower()
        other = self.ix.lower_files.get(low)
        if other is None:
            other = next((d for d in sorted(self.ix.dirs) if d.lower() == low), None)
        if other is None:
            return ""
        return f"; {os.path.relpath(other, self.root)} differs only in letter case"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _name_span_of(path: str) -> Span:
    """Where another manifest writes its name (for related information); the file start if unknown."""
    data = load_json(path, MAX_MANIFEST_BYTES)
    if not isinstance(data, dict):
        return FILE_START
    try:
        with open(path, encoding="utf-8-sig") as fh:
            text = fh.read(MAX_MANIFEST_BYTES + 1)
    except (OSError, ValueError):
        return FILE_START
    return Ranges(text).value("/name")
