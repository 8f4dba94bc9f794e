"""A persistent cache of parsed documents, so that a warm start costs a read and a hash per file.

Parsing is most of a cold index (pure Python over every byte of the tree); the same bytes parse
to the same ParsedDoc. So the cache maps a hash of the text to the parse, and a changed file can
never be served stale: its text hashes to a key the cache does not hold, and it is parsed anew.
The key also holds the parse limits, and every cache file carries a stamp of the code that
parses (the source of the modules a ParsedDoc depends on, the versions of pyromark and PyYAML,
Python's): any change to any of them makes the whole file unused.

Layout: one file per root, `<dir>/parsed-<hash of the root path>.bin`. It holds a marshal'd list
of (key, length) and then each entry's marshal'd bytes, so a run reads the file once, decodes
only the entries it uses, and writes back (atomically) the entries of the documents it used
(the blobs it read, copied as they are, plus the new ones). Documents that left the tree drop out
at the next full write (`save(prune=True)`, after a cold index of the root); files of roots that
no longer exist are removed after a month.

Misses are parsed in worker processes when there are many of them (`parse_many`): the workers
send back the encoded form, which is also what gets written, so nothing is encoded twice.

The directory: `SKILL_LSP_CACHE_DIR`, else `$XDG_CACHE_HOME/skill-lsp`, else
`~/.cache/skill-lsp`; `SKILL_LSP_CACHE_DIR=off` turns the cache off. Trees of fewer than
`MIN_DOCS` documents parse in a blink and are never written, so test fixtures and scratch
folders leave nothing behind.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import marshal
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from sys import intern
from typing import Any, NamedTuple

from .discover import Stamp, file_stamp
from .frontmatter import DEFAULT_LIMITS, Limits
from .heap import few_collections
from .model import (
    COMPACT_MIN_CHARS,
    FrontMatter,
    FrontMatterKey,
    Heading,
    ParsedDoc,
    Problem,
    Reference,
    RefKind,
    Span,
)
from .parse import parse

ENV_DIR = "SKILL_LSP_CACHE_DIR"
FORMAT = 3
MAGIC = b"skill-lsp parse cache\n"
MIN_DOCS = 500  # below this a tree parses in well under a second: nothing to save
POOL_MIN = 1500  # misses below this parse in-process: starting workers costs more than it saves
CHUNK = 250  # texts per task sent to a worker
STALE_S = 30 * 24 * 3600  # a cache file of a root that is gone is removed after this long
# Modules whose code decides what parse() returns: a change to any of them changes the stamp.
_PARSE_MODULES = ("parse.py", "frontmatter.py", "model.py", "positions.py", "slugs.py", "cache.py")


# --- encoding: a ParsedDoc as nested tuples of plain values (what marshal writes) ------------
def _span(s: Span) -> tuple[int, int, int, int]:
    return (s.start_line, s.start_col, s.end_line, s.end_col)


def encode(p: ParsedDoc, source: str | None = None) -> tuple:
    """Everything of a ParsedDoc but its text, as plain values. `source` is the text parse() was
    given: the parsed text is stored too only when it differs (parse normalises line breaks)."""
    fm = p.front_matter
    fm_t = None
    if fm is not None:
        fm_t = (_span(fm.span), fm.data,
                tuple((k, v.key, _span(v.key_span), _span(v.value_span)) for k, v in fm.keys.items()),
                fm.error, None if fm.error_span is None else _span(fm.error_span))
    return (
        fm_t,
        tuple((h.level, h.text, h.slug, (h.start_line, h.start_col, h.end_line, h.end_col)) for h in p.headings),
        tuple((r.kind.value, r.target, _span(r.span), r.anchor, r.phrase, r.slash, r.in_code) for r in p.references),
        p.body_start_line, p.line_count, p.body_words, p.body_chars,
        tuple((x.code, x.message, _span(x.span)) for x in p.problems),
        tuple((line, tuple(codes)) for line, codes in p.disabled.items()),
        tuple(p.file_disabled),
        tuple((phrase, _span(s)) for phrase, s in p.routing_phrases),
        p.text if source is None or p.text != source else None,
        ParsedDoc.packed(p.text),  # what the index holds of a document no editor has open
    )


_KINDS = {k.value: k for k in RefKind}
_new = object.__new__


def _mk_span(t: tuple[int, int, int, int], new: Any = _new, cls: type = Span,
             a: Any = Span.start_line.__set__, b: Any = Span.start_col.__set__,  # type: ignore[attr-defined]
             c: Any = Span.end_line.__set__, d: Any = Span.end_col.__set__) -> Span:  # type: ignore[attr-defined]
    # Span is frozen: its __init__ goes through object.__setattr__ four times; the slot
    # descriptors do the same stores without the frozen check. A warm start builds ~30 per file.
    s = new(cls)
    a(s, t[0])
    b(s, t[1])
    c(s, t[2])
    d(s, t[3])
    return s


def decode(text: str | None, t: tuple, compact: bool = False) -> ParsedDoc:
    """The ParsedDoc that `encode` was given, for the same source text; `compact`: holding its text
    compressed (as `ParsedDoc.compact()` would, without compressing it again). Without the source
    text, the entry must hold it (the entries of texts of COMPACT_MIN_CHARS or more do)."""
    fm_t, heads, refs, body_line, line_count, words, chars, problems, disabled, file_disabled, phrases, own, z = t
    if own is not None:
        text = own
    stored: str | bytes | None = z if compact and z is not None else text
    if stored is None:
        raise ValueError("the entry does not hold its text")
    mk = _mk_span
    fm = None
    if fm_t is not None:
        span, data, keys, error, error_span = fm_t
        fm = FrontMatter(mk(span), data, {k: FrontMatterKey(key, mk(a), mk(b)) for k, key, a, b in keys},
                         error, None if error_span is None else mk(error_span))
    kinds = _KINDS
    return ParsedDoc(
        stored, fm,
        [Heading(level, intern(htext), intern(slug), *s) for level, htext, slug, s in heads],
        [Reference(kinds[k], target, mk(s), anchor, phrase, slash, in_code)
         for k, target, s, anchor, phrase, slash, in_code in refs],
        body_line, line_count, words, chars,
        [Problem(code, message, mk(s)) for code, message, s in problems],
        {line: frozenset(codes) for line, codes in disabled},
        frozenset(file_disabled),
        [(phrase, mk(s)) for phrase, s in phrases],
    )


def _dumps(encoded: tuple) -> bytes | None:
    """An encoded parse as bytes; None when the front matter holds what marshal cannot write
    (a YAML timestamp): that document is simply parsed again next time."""
    try:
        return marshal.dumps(encoded)
    except ValueError:
        return None


# --- keys and stamps ---------------------------------------------------------------------------
_stamp: bytes | None = None


def code_stamp() -> bytes:
    """A digest of everything that decides what parse() returns for a text."""
    global _stamp
    if _stamp is None:
        import pyromark
        import yaml

        h = hashlib.blake2b(digest_size=16)
        h.update(f"{FORMAT}|{sys.version}|{getattr(pyromark, '__version__', '?')}|{yaml.__version__}|"
                 f"{getattr(yaml, '__with_libyaml__', False)}".encode())
        here = Path(__file__).resolve().parent
        for name in _PARSE_MODULES:
            h.update(name.encode() + b"\0" + (here / name).read_bytes())
        _stamp = h.hexdigest().encode()
    return _stamp


def text_key(text: str, limits: Limits = DEFAULT_LIMITS) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    if limits != DEFAULT_LIMITS:
        h.update(f"{limits.max_depth},{limits.max_nodes},{limits.max_chars}\0".encode())
    h.update(text.encode("utf-8", "surrogatepass"))
    return h.digest()


def cache_dir() -> Path | None:
    """Where cache files live; None when the cache is off."""
    env = os.environ.get(ENV_DIR)
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "none", "false") else Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "skill-lsp"


# --- worker processes --------------------------------------------------------------------------
# Workers are plain subprocesses speaking length-prefixed marshal over their pipes, not
# multiprocessing: its spawn and forkserver modes re-import the parent's __main__ (a script that
# uses the library without a main guard would run again in every worker), and fork is unsafe in
# the server, whose other threads may hold locks.
_WORKER = "from skill_lsp.cache import _worker_main; _worker_main()"


def _parse_chunk(texts: list[str], limits: Limits) -> list[bytes | None]:
    """Parse and encode; None for the rare document marshal cannot write (the parent parses it)."""
    out: list[bytes | None] = []
    for text in texts:
        try:
            out.append(marshal.dumps(encode(parse(text, limits), text)))
        except ValueError:
            out.append(None)
    return out


def _worker_main() -> None:
    """A worker: read (limits, texts) messages from stdin, answer each with the encoded parses."""
    gc.disable()  # a short-lived process making only acyclic garbage
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = inp.read(8)
        if len(head) < 8:
            return
        (n,) = struct.unpack("<Q", head)
        (depth, nodes, chars), texts = marshal.loads(inp.read(n))
        reply = marshal.dumps(_parse_chunk(texts, Limits(depth, nodes, chars)))
        out.write(struct.pack("<Q", len(reply)))
        out.write(reply)
        out.flush()


def _send(stream: Any, obj: Any) -> None:
    data = marshal.dumps(obj)
    stream.write(struct.pack("<Q", len(data)))
    stream.write(data)


def _receive(stream: Any) -> Any:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("a parse worker stopped")
    (n,) = struct.unpack("<Q", head)
    return marshal.loads(stream.read(n))


class _Incomplete(Exception):
    """Some documents came back without a parse (marshal could not write them)."""


class _Spooled(NamedTuple):
    """Where a new entry waits for the next write: in a temporary file, not in memory (a first
    index of 40,000 documents makes 100 MB of them)."""

    offset: int
    length: int


# --- the cache -----------------------------------------------------------------------------------
@dataclass
class Stats:
    hits: int = 0
    misses: int = 0
    pooled: int = 0  # misses parsed in worker processes
    uncacheable: int = 0
    stamped: int = 0  # hits found by the file's stamp, without reading it
    load_s: float = 0.0
    save_s: float = 0.0
    saved: bool = False


@dataclass
class ParseCache:
    """Parses of one root's documents. `path` None: no persistence (parse_many still pools)."""

    path: Path | None
    limits: Limits = DEFAULT_LIMITS
    stats: Stats = field(default_factory=Stats)
    # What the file holds: key -> (offset, length), read on first use. Entries are read one at a
    # time from the open file, never the whole file: at 40,000 documents it is over 100 MB.
    _index: dict[bytes, tuple[int, int]] | None = None
    _fd: int | None = None
    # what the next write holds: the file's own entries as their (offset, length), new ones spooled
    _used: dict[bytes, tuple[int, int]] = field(default_factory=dict)
    _spool: Any = None  # the temporary file of new entries
    _spool_size: int = 0
    _dirty: bool = False
    root: str = ""
    # path in the root -> (stamp, key) of files whose entry holds their text (compressed): a file whose stamp
    # is unchanged is not even read. Only files whose stamp was settled when recorded (not
    # written within the last seconds, see `index.RACY_NS`) are here.
    _stamps: dict[str, tuple[Stamp, bytes]] = field(default_factory=dict)
    _used_stamps: dict[str, tuple[Stamp, bytes]] = field(default_factory=dict)

    @classmethod
    def for_root(cls, root: str, limits: Limits = DEFAULT_LIMITS, directory: Path | None = None) -> ParseCache:
        d = directory if directory is not None else cache_dir()
        if d is None:
            return cls(None, limits, root=root)
        name = hashlib.blake2b(os.path.realpath(root).encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()
        return cls(d / f"parsed-{name}.bin", limits, root=root)

    # --- reading -------------------------------------------------------------------------------
    def _load(self) -> dict[bytes, tuple[int, int]]:
        if self._index is not None:
            return self._index
        self._index = {}
        if self.path is None:
            return self._index
        t0 = time.perf_counter()
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return self._index
        try:
            self._index, self._stamps = _read_index(fd)
            self._fd = fd
        except Exception:  # a torn or foreign file is just a cold start; the next write replaces it
            os.close(fd)
            self._index, self._stamps = {}, {}
            self._dirty = True
        self.stats.load_s = time.perf_counter() - t0
        return self._index

    def _entry(self, where: tuple[int, int]) -> bytes:
        offset, length = where
        if isinstance(where, _Spooled):
            self._spool.flush()
            data = os.pread(self._spool.fileno(), length, offset)
        else:
            data = os.pread(self._fd, length, offset) if self._fd is not None else b""
        if len(data) != length:
            raise EOFError("the cache file is shorter than its index says")
        return data

    def stamped(self, path: str) -> tuple[ParsedDoc, Stamp] | None:
        """The parse of a file (text held compressed) when its stamp is the one recorded with the
        cache: taken from the cache without reading the file. None: read and parse it as usual."""
        blobs = self._load()
        rel = self._rel(path)
        known = self._stamps.get(rel)
        if known is None:
            return None
        try:
            stamp = file_stamp(os.stat(path))
        except OSError:
            return None
        where = self._used.get(known[1]) or blobs.get(known[1])
        if stamp != known[0] or where is None:
            return None
        try:
            parsed = decode(None, marshal.loads(self._entry(where)), compact=True)
        except Exception:  # an entry that does not read or decode: the file is read and parsed
            return None
        self._used[known[1]] = where
        self._used_stamps[rel] = known
        self.stats.hits += 1
        self.stats.stamped += 1
        return parsed, stamp

    def parse(self, text: str) -> ParsedDoc:
        """parse(text), from the cache when the same text was parsed before."""
        return self.parse_many([text])[0]

    def parse_many(self, texts: Sequence[str], workers: int | None = None, compact: bool = False,
                   stamps: Sequence[tuple[str, Stamp] | None] = ()) -> list[ParsedDoc]:
        """parse() of each text, in order: cached ones decoded, the rest parsed (in worker
        processes when there are many). `compact`: the parses hold their texts compressed.
        `stamps`: (path, stamp) of the file each text was read from, for `stamped` next time."""
        blobs = self._load()
        out: list[ParsedDoc | None] = [None] * len(texts)
        missing: list[int] = []
        keys = [text_key(t, self.limits) for t in texts]
        for text, key, at in zip(texts, keys, stamps, strict=False):
            if at is not None and len(text) >= COMPACT_MIN_CHARS:  # (shorter entries hold no text)
                self._remember(at[0], at[1], key)
        with few_collections():
            for i, (text, key) in enumerate(zip(texts, keys, strict=True)):
                where = self._used.get(key) or blobs.get(key)
                if where is not None:
                    try:
                        out[i] = decode(text, marshal.loads(self._entry(where)), compact)
                    except Exception:  # an entry that does not read or decode: parse, and replace it
                        missing.append(i)
                        continue
                    self._used[key] = where
                    self.stats.hits += 1
                else:
                    missing.append(i)
            if missing:
                self.stats.misses += len(missing)
                self._parse_missing(texts, keys, missing, out, workers, compact)
        return out  # type: ignore[return-value]

    def _keep(self, key: bytes, blob: bytes) -> None:
        """A new entry, for the next write."""
        if self.path is None:
            return
        try:
            if self._spool is None:
                self._spool = tempfile.TemporaryFile(prefix="skill-lsp-parsed-")  # noqa: SIM115 - open until close()
            self._spool.write(blob)  # (only ever appended to: read back with pread, after a flush)
        except OSError:  # no temporary folder, a full disk: this run does not write the cache
            self.path = None
            return
        self._used[key] = _Spooled(self._spool_size, len(blob))
        self._spool_size += len(blob)
        self._dirty = True

    def _remember(self, path: str, stamp: Stamp, key: bytes) -> None:
        if self.path is None:
            return
        entry = (stamp, key)
        rel = self._rel(path)
        if self._stamps.get(rel) != entry:
            self._dirty = True
        self._used_stamps[rel] = entry

    def _rel(self, path: str) -> str:
        """Stamps are kept by path in the root: a copy of the tree made with hard links (the
        same files, so the same stamps) is served by a copy of the cache file."""
        prefix = self.root.rstrip(os.sep) + os.sep
        return path[len(prefix):] if path.startswith(prefix) else path

    def _parse_missing(self, texts: Sequence[str], keys: list[bytes], missing: list[int],
                       out: list[ParsedDoc | None], workers: int | None, compact: bool) -> None:
        n = workers if workers is not None else _default_workers(len(missing))
        if n > 1:
            try:
                self._parse_pooled(texts, keys, missing, out, n, compact)
                return
            except Exception:  # no processes here (sandbox, frozen app), or a worker died: the
                missing = [i for i in missing if out[i] is None]  # rest parse in-process
        for i in missing:
            p = parse(texts[i], self.limits)
            out[i] = p
            packed = None
            if self.path is not None:
                encoded = encode(p, texts[i])
                packed = encoded[-1]
                blob = _dumps(encoded)
                if blob is None:
                    self.stats.uncacheable += 1
                else:
                    self._keep(keys[i], blob)
            if compact:
                if packed is None:
                    p.compact()
                else:
                    p.stored = packed  # compressed once, for the entry and the parse alike

    def _parse_pooled(self, texts: Sequence[str], keys: list[bytes], missing: list[int],
                      out: list[ParsedDoc | None], n: int, compact: bool) -> None:
        """Split the misses over n worker processes; decode their answers here as they come."""
        lim = self.limits
        shares = [missing[w::n] for w in range(n)]
        procs = [subprocess.Popen([sys.executable, "-c", _WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL) for _ in shares]
        ok = False
        try:
            def feed(proc: subprocess.Popen, share: list[int]) -> None:
                try:
                    for c in range(0, len(share), CHUNK):
                        _send(proc.stdin, ((lim.max_depth, lim.max_nodes, lim.max_chars),
                                           [texts[i] for i in share[c:c + CHUNK]]))
                    proc.stdin.close()  # type: ignore[union-attr]
                except (OSError, ValueError):
                    pass  # the worker died; reading its answers reports it
            feeders = [threading.Thread(target=feed, args=(p, s), daemon=True) for p, s in zip(procs, shares, strict=True)]
            for t in feeders:
                t.start()
            # answers come back in the order sent; take one chunk of each worker in turn
            cursors = [0] * n
            while any(cursors[w] < len(shares[w]) for w in range(n)):
                for w, proc in enumerate(procs):
                    if cursors[w] >= len(shares[w]):
                        continue
                    chunk = shares[w][cursors[w]:cursors[w] + CHUNK]
                    cursors[w] += len(chunk)
                    for i, blob in zip(chunk, _receive(proc.stdout), strict=True):
                        if blob is None:
                            continue  # parsed in-process by the caller's fallback
                        out[i] = decode(texts[i], marshal.loads(blob), compact)
                        self._keep(keys[i], blob)
                        self.stats.pooled += 1
            for t in feeders:
                t.join()
            ok = True
        finally:
            for proc in procs:  # done: they exit at the end of their input; failed: stop them
                if not ok:
                    proc.kill()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                for stream in (proc.stdin, proc.stdout):
                    with contextlib.suppress(OSError):
                        stream.close()  # type: ignore[union-attr]
        left = [i for i in missing if out[i] is None]
        if left:
            raise _Incomplete(left)

    # --- writing -------------------------------------------------------------------------------
    def save(self, prune: bool = True) -> bool:
        """Write the cache file when it would change. Never raises: a cache that cannot be written
        is a cache that is not used.

        `prune`: the texts asked for since the cache was opened are every document of the root,
        so the file keeps exactly their entries (what left the tree drops out). A caller that
        asked for some documents only (a re-index that reused the other parses) passes False:
        the file's other entries are kept.
        """
        if self.path is None:
            return False
        blobs = self._load()
        if prune:
            entries = self._used
            if not self._dirty and len(entries) == len(blobs):
                return False  # the file holds exactly these entries already
        else:
            if not self._dirty:
                return False
            entries = {**blobs, **self._used}
        if len(entries) < MIN_DOCS:
            return False
        t0 = time.perf_counter()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".parsed-", suffix=".tmp")
            try:
                stamps = self._used_stamps if prune else {**self._stamps, **self._used_stamps}
                with os.fdopen(fd, "wb") as fh:
                    _write_entries(fh, entries, self.root, self._entry,
                                   {p: st for p, st in stamps.items() if st[1] in entries})
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except (OSError, EOFError):
            return False
        self.close()  # the locations were of the file replaced
        self._dirty = False
        self.stats.save_s = time.perf_counter() - t0
        self.stats.saved = True
        _prune(self.path.parent, keep=self.path)
        return True

    def close(self) -> None:
        """Forget what was loaded (the index keeps the parses themselves) and close the file."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = None
        self._index = None
        self._used = {}
        if self._spool is not None:
            with contextlib.suppress(OSError):
                self._spool.close()
        self._spool = None
        self._spool_size = 0
        self._stamps = {}
        self._used_stamps = {}

    def __del__(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(Exception):  # at interpreter exit, even `os` may be gone
                os.close(self._fd)


def _default_workers(misses: int) -> int:
    if misses < POOL_MIN:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cpus, 8))


def _header() -> bytes:
    return MAGIC + code_stamp() + b"\n"


def _write_entries(fh: Any, entries: dict[bytes, tuple[int, int]], root: str,
                   read: Any, stamps: dict[str, tuple[Stamp, bytes]]) -> None:
    """The file: header, the index of (key, length) and the stamps, then each entry's bytes in
    that order (the entries of the file being replaced are copied from it one at a time)."""
    items = list(entries.items())
    lengths = [(k, w[1]) for k, w in items]
    index = marshal.dumps((root, lengths, [(p, *st, key) for p, (st, key) in stamps.items()]))
    fh.write(_header())
    fh.write(struct.pack("<Q", len(index)))
    fh.write(index)
    for _k, where in items:
        fh.write(read(where))


def _read_index(fd: int) -> tuple[dict[bytes, tuple[int, int]], dict[str, tuple[Stamp, bytes]]]:
    """key -> (offset, length) of every entry of a cache file, and the stamps; empty for another
    format or other parsing code (unused, and replaced on the next write); ValueError for a torn
    file."""
    head = _header()
    if os.pread(fd, len(head), 0) != head:
        return {}, {}
    raw = os.pread(fd, 8, len(head))
    if len(raw) != 8:
        raise ValueError("cache file cut short")
    (n,) = struct.unpack("<Q", raw)
    data = os.pread(fd, n, len(head) + 8)
    if len(data) != n:
        raise ValueError("cache file cut short")
    _root, index, stamp_rows = marshal.loads(data)
    stamps = {row[0]: (tuple(row[1:5]), row[5]) for row in stamp_rows}
    pos = len(head) + 8 + n
    out: dict[bytes, tuple[int, int]] = {}
    for key, length in index:
        out[key] = (pos, length)
        pos += length
    if pos != os.fstat(fd).st_size:
        raise ValueError("cache file length does not match its index")
    return out, stamps


def _prune(folder: Path, keep: Path) -> None:
    """Remove cache files of roots that are gone, once they are a month old."""
    now = time.time()
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        p = folder / name
        if p == keep or not (name.startswith("parsed-") and name.endswith(".bin")):
            continue
        try:
            if now - p.stat().st_mtime < STALE_S:
                continue
            with open(p, "rb") as fh:
                head = fh.read(len(MAGIC) + 64)
                if head.startswith(MAGIC):
                    fh.seek(len(MAGIC))
                    fh.readline()
                    (n,) = struct.unpack("<Q", fh.read(8))
                    root = marshal.loads(fh.read(n))[0]
                    if isinstance(root, str) and root and os.path.isdir(root):
                        continue
            p.unlink()
        except (OSError, ValueError, EOFError, TypeError, struct.error):
            continue


__all__ = ["ParseCache", "Stats", "cache_dir", "code_stamp", "decode", "encode", "text_key"]
