"""Which skill or sheet should an agent load for this task? A lexical router over the live index.

The ranking is BM25F: every target (a skill's SKILL.md or a sheet) is a bag of fields, each with
its own weight and length normalisation. What the research on tool and skill selection says moves
accuracy decides the fields (see `route_fields`): the name, the description's "Use when" clause,
the rest of the description, headings, "When to Use"/"Symptoms" bullets, the body (low), and what
routers say about the target: the routing phrase ("anchor", like anchor text in web search), the
row or section around it ("context") and other lines that name it ("mention").

On top of that sum:
- an exact routing phrase (the query is, word for word, a phrase some router sends to a target)
  puts that target first: the author said so;
- soft hierarchy: a sheet borrows a share of its skill's own score and a skill of its pack
  router's, so a sheet of the right pack beats a look-alike elsewhere; a router scores at least a
  share of its best child, so the pack shows up too. Never a gate;
- a query that names a skill (`systematic-debugging`) finds it.

Incremental: per-document fields are cached by the identity of the parsed text, what each
document says about others by (parsed text, resolutions). Postings live in a compact base segment
(arrays, each term's list sorted by weight, so a query reads only the heaviest entries of a common
term) plus a small delta for documents changed since; the base is rebuilt when the delta grows.
"""

from __future__ import annotations

import heapq
import math
import os
from array import array
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import compress
from typing import TYPE_CHECKING

from .model import Doc, DocKind, ParsedDoc, Resolution
from .route_fields import (
    BODY_MAX_CHARS,
    NAMEISH,
    RAW_WORD,
    TARGET_KINDS,
    WHEN_BULLETS,
    Anchor,
    anchors_of,
    bag,
    bag_lines,
    doc_fields,
    edges_of,
    from_short_record,
    mentions_of,
    name_keys,
    pack_router,
    phrase_key,
    short_record,
)
from .spill import Spilled, load
from .stem import STOP_WORDS, stem, tokens

if TYPE_CHECKING:
    from .index import SkillIndex

FIELDS: tuple[str, ...] = ("name", "use_when", "desc", "headings", "bullets", "body", "anchor", "context",
                           "mention")
# Field weights and length normalisation (b). Chosen on the dev sets as whole groups, never per row:
# the description and name carry the signal an agent also sees; anchors are strong but must not
# drown the description, since user paraphrases rarely share a table's wording.
WEIGHT: dict[str, float] = {
    "name": 3.0, "use_when": 2.5, "desc": 1.6, "headings": 0.8, "bullets": 1.4, "body": 0.25,
    "anchor": 2.2, "context": 0.9, "mention": 1.0,
}
BNORM: dict[str, float] = {
    "name": 0.3, "use_when": 0.5, "desc": 0.5, "headings": 0.6, "bullets": 0.6, "body": 0.8,
    "anchor": 0.6, "context": 0.7, "mention": 0.7,
}
K1 = 1.4
PARENT_SHARE = 0.3  # share of its skill's (a skill: its pack router's) own score a target borrows
CHILD_SHARE = 0.6  # a router scores at least this share of its best child
ROUTER_DAMP = 0.8  # a router's own text spans all its children's topics: its own match counts less
EXACT_BONUS = 1.0  # an exact routing phrase scores this far above the best lexical match
REPEAT_BONUS = 0.02  # per further router that sends the same phrase to the same target
NAMED_BONUS = 0.5  # a target the query names outright
WORD_NAME_SHARE = 0.3  # a skill whose one-word name is a word of the query gains this share of the best
# An exact phrase counts by the kind of router that writes it: a pack's own SKILL.md router is the
# authors' main routing; tables inside sheets and slash-command wrappers are secondary.
SOURCE_WEIGHT: dict[DocKind, float] = {DocKind.SKILL: 1.0, DocKind.COMMAND: 0.85, DocKind.AGENT: 0.8,
                                       DocKind.SHEET: 0.8}
CONFIDENT_COVERAGE = 0.35  # idf share of the query a confident top answer must match
BODY_COVERAGE = 0.5  # a query word found only in the body (long texts mention everything) vouches less
CANDIDATE_FLOOR = 0.25  # documents scoring under this share of the best own score are not ranked
EXPLAIN_CACHE = 1024  # targets whose short fields are kept for explanations
PRUNE_K = 500  # a query reads at most this many (the heaviest) entries of one term's postings
PRUNE_EVERY = 4 * PRUNE_K  # while the base is built, a list this long is cut to PRUNE_K
DELTA_REBUILD = 0.25  # rebuild the base segment once this share of documents changed since it
AVG_SAMPLE = 2000  # above this many targets, average field lengths come from an even sample
PAUSE_EVERY = 100  # documents between two pauses of a build that lets others at the index


class _Ticker:
    """Calls `pause` once every PAUSE_EVERY calls (never, without one) and notes that it did."""

    __slots__ = ("n", "pause", "paused")

    def __init__(self, pause: Callable[[], None] | None) -> None:
        self.pause = pause
        self.n = 0
        self.paused = False

    def __call__(self) -> None:
        if self.pause is None:
            return
        self.n += 1
        if self.n >= PAUSE_EVERY:
            self.n = 0
            self.paused = True
            self.pause()


@dataclass(slots=True)
class Hit:
    path: str
    score: float
    own: float
    why: str = ""
    exact: bool = False


@dataclass(slots=True)
class Answer:
    hits: list[Hit]
    confident: bool
    coverage: float = 0.0


@dataclass(slots=True)
class _Source:
    """What one document says about others, cached until its text, its resolutions or a name it
    looked up change.

    One is kept per document (40,000 in a large tree), most of them saying nothing: tuples, so
    the empty ones are all the one empty tuple, and `deps` a tuple too (a frozenset of even a
    few strings costs five times the memory; it is only ever tested for overlap).
    """

    # The parse and the resolutions it was read from, held (compared by identity: an id() of an
    # object let go of can come back with the next one made, after two quick edits), in two
    # slots (a tuple per document is 2 MB at 40,000 documents)
    parsed: ParsedDoc
    res: list[Resolution] | None
    anchors: tuple[tuple[str, Anchor], ...]
    mentions: tuple[tuple[str, str], ...]
    edges: tuple[str, ...]
    deps: tuple[str, ...]


class _Postings:
    """term -> weighted docs: a base segment of arrays plus a delta of documents changed since.

    Statistics are kept per root (documents, field lengths, document frequencies): a workspace that
    opens a second tree (a plugin pack of thousands of skills beside one's own) must not change how
    the first one's words weigh. See `Router._score` for how roots are then compared."""

    def __init__(self) -> None:
        self.base: dict[str, tuple[array, array]] = {}
        self.base_df: dict[str, int] = {}  # document frequency of the terms whose lists were cut
        self.delta: dict[str, dict[int, float]] = {}
        self.delta_terms: dict[int, list[str]] = {}
        self.dead: set[int] = set()
        self.ids: dict[str, int] = {}  # path -> its current doc number
        self.paths: list[str] = []  # doc number -> path (numbers of dead docs stay, unused)
        self.base_size = 0
        self.roots: list[str] = []  # root number -> root
        self.root_of: array = array("i")  # doc number -> root number
        self.avgs: list[dict[str, float]] = []  # per root: average length of each field
        self.n_root: list[int] = []  # per root: live documents
        self.root_df: list[Counter[str]] = []  # per root: document frequencies (base and delta)

    @property
    def live(self) -> int:
        return len(self.ids)

    def _root_number(self, root: str) -> int:
        try:
            return self.roots.index(root)
        except ValueError:
            self.roots.append(root)
            # a root added since the last rebuild: its documents are weighed with the lengths of
            # the others until the next one (its own are not known yet)
            total = sum(self.n_root)
            self.avgs.append({f: sum(a[f] * n for a, n in zip(self.avgs, self.n_root, strict=True)) / total
                              for f in FIELDS} if total else dict.fromkeys(FIELDS, 1.0))
            self.n_root.append(0)
            self.root_df.append(Counter())
            return len(self.roots) - 1

    def weights(self, counts: dict[str, Counter[str]], r: int = 0) -> dict[str, float]:
        """BM25F: per-field weighted, length-normalised term frequency, then saturated once."""
        return {t: tf * (K1 + 1.0) / (tf + K1) for t, tf in self._pseudo_tf(counts, self.avgs[r]).items()}

    @staticmethod
    def _pseudo_tf(counts: dict[str, Counter[str]], avg: dict[str, float]) -> dict[str, float]:
        """The fields' weighted, length-normalised term frequencies summed (before saturation)."""
        pseudo: dict[str, float] = {}
        for f in FIELDS:
            c = counts.get(f)
            if not c:
                continue
            length = sum(c.values())
            norm = WEIGHT[f] / (1.0 - BNORM[f] + BNORM[f] * length / avg[f])
            for t, tf in c.items():
                pseudo[t] = pseudo.get(t, 0.0) + tf * norm
        return pseudo

    def rebuild(self, paths: list[str], counts_of: Callable[[str], dict[str, Counter[str]]],
                root_of: Callable[[str], str], tick: Callable[[], None] = lambda: None) -> None:
        """Index every target afresh (documents are read once; only the postings are kept)."""
        self.ids = {}
        self.paths = sorted(paths)
        self.roots, self.avgs, self.n_root, self.root_df = [], [], [], []
        self.root_of = array("i", [self._root_number(root_of(p)) for p in self.paths])
        for i, path in enumerate(self.paths):
            self.ids[path] = i
        members: list[list[int]] = [[] for _ in self.roots]
        for i, r in enumerate(self.root_of):
            members[r].append(i)
        # Field lengths averaged over each root's documents, or above AVG_SAMPLE over an even
        # sample of them: holding every document's counts at once would cost hundreds of MB at
        # 40,000 documents (memory a process keeps afterwards). The sample is read once: its
        # counts are indexed as they are, and let go of then.
        sample: dict[int, dict[str, Counter[str]]] = {}
        for r, ids in enumerate(members):
            if len(ids) <= AVG_SAMPLE:
                picked = ids
            else:
                step = len(ids) / AVG_SAMPLE
                picked = [ids[int(k * step)] for k in range(AVG_SAMPLE)]
            counts = [counts_of(self.paths[i]) for i in picked]
            self.avgs[r] = _average_lengths(counts)
            sample.update(zip(picked, counts, strict=True))
            self.n_root[r] = len(ids)
        stream = (sample.pop(i) if i in sample else counts_of(p) for i, p in enumerate(self.paths))
        base: dict[str, tuple[array, array]] = {}
        df: Counter[str] = Counter()
        k1_plus = K1 + 1.0
        pseudo_tf, avgs, roots, root_df = self._pseudo_tf, self.avgs, self.root_of, self.root_df
        nroots = len(self.roots)
        cut_at = PRUNE_EVERY * max(nroots, 1)
        for i, counts in enumerate(stream):
            tick()
            # `weights` saturated in line (the same arithmetic): no dict per document
            pseudo = pseudo_tf(counts, avgs[roots[i]])
            df.update(pseudo.keys())
            root_df[roots[i]].update(pseudo.keys())
            for t, tf in pseudo.items():
                w = tf * k1_plus / (tf + K1)
                entry = base.get(t)
                if entry is None:
                    base[t] = (array("i", [i]), array("f", [w]))
                else:
                    entry[0].append(i)
                    entry[1].append(w)
                    if len(entry[0]) >= cut_at:
                        # cut as it grows: what is not among the heaviest of a prefix never will
                        # be, and the full lists of common terms are a transient peak of ~100 MB
                        base[t] = _cut(*entry, roots, nroots)
        base_df: dict[str, int] = {}
        for t, n in df.items():
            if n > PRUNE_K:  # a query reads only the heaviest entries of a common term: the rest goes
                base[t] = _cut(*base[t], roots, nroots)
                base_df[t] = n
        self.base = base
        self.base_df = base_df
        self.delta = {}
        self.delta_terms = {}
        self.dead = set()
        self.base_size = len(self.paths)

    def put(self, path: str, counts: dict[str, Counter[str]], root: str) -> None:
        self.drop(path)
        i = len(self.paths)
        r = self._root_number(root)
        self.ids[path] = i
        self.paths.append(path)
        self.root_of.append(r)
        self.n_root[r] += 1
        ws = self.weights(counts, r)
        for t, w in ws.items():
            self.delta.setdefault(t, {})[i] = w
        self.delta_terms[i] = list(ws)
        self.root_df[r].update(ws.keys())

    def drop(self, path: str) -> None:
        i = self.ids.pop(path, None)
        if i is None:
            return
        r = self.root_of[i]
        self.n_root[r] -= 1
        if i < self.base_size:
            self.dead.add(i)  # (its terms count on in the base frequencies until the next rebuild)
            return
        terms = self.delta_terms.pop(i, ())
        self.root_df[r].subtract(terms)
        for t in terms:
            d = self.delta.get(t)
            if d is not None:
                d.pop(i, None)
                if not d:
                    del self.delta[t]

    def changed_share(self, more: int) -> float:
        return (len(self.dead) + len(self.delta_terms) + more) / max(self.base_size, 1)

    def idf(self, t: str, r: int | None = None, absent: bool = False) -> float:
        """Over the whole index, or over root number `r`. A term no document has weighs 0, or with
        `absent` what it would weigh in one document (what a query asks that nothing answers)."""
        if r is None:
            base = self.base.get(t)
            df = self.base_df.get(t) or (len(base[0]) if base is not None else 0)
            df += len(self.delta.get(t, ()))
            n = max(self.live, 1)
        else:
            df = self.root_df[r][t]  # (a Counter: 0 when absent)
            n = max(self.n_root[r], 1)
        if not df:
            return math.log(1.0 + (n + 0.5) / 0.5) if absent else 0.0
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def _cut(docs: array, ws: array, root_of: array, nroots: int) -> tuple[array, array]:
    """A posting list cut to its PRUNE_K heaviest entries of each root, heaviest first (ties: in
    list order, which keeps the order of document numbers, since a cut list only ever grows at its
    end). Per root: 40,000 look-alike documents of one tree must not push another's out."""
    if nroots <= 1:
        order = _heaviest(ws, PRUNE_K)
    else:
        by_root: list[list[int]] = [[] for _ in range(nroots)]  # positions of each root's entries
        for k, d in enumerate(docs):
            by_root[root_of[d]].append(k)
        order = []
        for mine in by_root:
            order.extend(mine[k] for k in _heaviest(array("f", [ws[k] for k in mine]), PRUNE_K))
    return array("i", [docs[k] for k in order]), array("f", [ws[k] for k in order])


def _heaviest(ws: array, k: int) -> list[int]:
    """`sorted(range(len(ws)), key=ws.__getitem__, reverse=True)[:k]`: the positions of the k
    largest weights, heaviest first, ties in position order.

    A common term has tens of thousands of weights: sorting them all costs twice as much as
    finding the k-th largest with a heap, then sorting only the weights at least that large.
    """
    if len(ws) <= 8 * k:
        return sorted(range(len(ws)), key=ws.__getitem__, reverse=True)[:k]
    kth = heapq.nlargest(k, ws)[-1]
    candidates = list(compress(range(len(ws)), map(kth.__le__, ws)))
    # the same stable sort, over a subsequence of positions that holds all of its first k
    return sorted(candidates, key=ws.__getitem__, reverse=True)[:k]


def _average_lengths(all_counts: list[dict[str, Counter[str]]]) -> dict[str, float]:
    totals = dict.fromkeys(FIELDS, 0)
    for counts in all_counts:
        for f in FIELDS:
            c = counts.get(f)
            if c:
                totals[f] += sum(c.values())
    n = max(len(all_counts), 1)
    return {f: max(totals[f] / n, 1.0) for f in FIELDS}


class Router:
    """Kept current with its index's generation; `route` is then a few array walks."""

    def __init__(self, ix: SkillIndex) -> None:
        self.ix = ix
        self.generation = -1
        self._sources: dict[str, _Source] = {}
        self._looked_up_by: dict[str, set[str]] = {}  # dependency key -> the sources whose deps hold it
        # path -> the name keys it answers, sorted (a tuple: a frozenset per document costs 20 MB
        # at 40,000 documents)
        self._names: dict[str, tuple[str, ...]] = {}
        self.postings = _Postings()
        # path -> (the parse, anchor version, skill name) indexed: the parse held and compared by
        # identity (see _Source)
        self._indexed: dict[str, tuple[ParsedDoc | None, int, str | None]] = {}
        self.anchors_in: dict[str, list[Anchor]] = {}
        self.mentions_in: dict[str, list[str]] = {}
        self._anchor_version: dict[str, int] = {}
        self.exact: dict[str, dict[tuple[str, str], float]] = {}  # key -> (target, router) -> weight
        self.names: dict[str, list[str]] = {}
        self.skill_words: dict[str, list[str]] = {}  # one-word skill names
        self.parent: dict[str, str] = {}
        self.routers_of: dict[str, list[str]] = {}
        self.routers: set[str] = set()
        self._router_ids: tuple[int, set[int]] = (-1, set())
        self.route_prev: dict[str, str] = {}
        # path -> (the `_indexed` entry it was made for, short fields, text): valid while that very
        # entry is the current one
        self._explain: dict[str, tuple[tuple[ParsedDoc | None, int, str | None] | None, dict[str, Counter[str]], str]] = {}
        # path -> its short fields (`short_record`) as of its last indexing, in the index's store
        self._short: dict[str, Spilled | bytes] = {}

    # --- keeping current --------------------------------------------------------------------
    def refresh(self, pause: Callable[[], None] | None = None) -> None:
        """Bring the router up to the index's generation.

        `pause`, called every PAUSE_EVERY documents, may let other threads change the index (the
        server's background build hands the index lock over, so keystrokes are not held for the
        whole build). What this pass then read of a changed document is stamped with the text and
        resolutions it read, and the router stays at the generation it started from: the next
        refresh redoes exactly what changed meanwhile. Without `pause` nothing can change midway.
        """
        if self.generation == self.ix.generation:
            return
        ix = self.ix
        start = ix.generation
        tick = _Ticker(pause)
        # Only the documents that changed since the last refresh, when the index can say which
        # (after a keystroke: one, not a scan of 40,000); all of them otherwise, and in a build
        # that lets others edit midway.
        changed = ix.changed_since(self.generation) if pause is None else None
        force: set[str] = set()  # worked out again, whatever their text and resolutions
        if changed is not None:
            force = changed  # (a handful: what moved around them may change what they say)
        elif self._sources:
            # a whole-tree rebuild (a root came, a manifest or the settings changed): anything may
            # have moved, a plugin's name with it
            force = set(ix.docs)
        if changed is None:
            # (the index may change at a pause: a list does not)
            docs = list(ix.docs.items()) if pause is not None else ix.docs.items()
            gone = [p for p in self._names if p not in ix.docs]
            gone_sources = [s for s in self._sources if s not in ix.docs]
        else:
            docs = [(p, ix.docs[p]) for p in sorted(changed) if p in ix.docs]
            gone = [p for p in changed if p not in ix.docs and p in self._names]
            gone_sources = [s for s in changed if s not in ix.docs and s in self._sources]
        # which names came or went: a table row naming one may now resolve differently
        changed_keys: set[str] = set()
        for p in gone:
            changed_keys.update(self._names.pop(p))
            changed_keys.add(p)
        for p, doc in docs:
            tick()
            if ix.docs.get(p) is not doc:
                continue  # changed at a pause: the next refresh sees it
            old = self._names.get(p)
            src = self._sources.get(p)
            same_text = old is not None and src is not None and src.parsed is doc.parsed
            if same_text and p not in force:
                continue  # same text and plugin, so the same names (a skill's name is in its text)
            new = tuple(sorted(name_keys(ix, p)))
            if old != new:
                changed_keys.update(set(old or ()).symmetric_difference(new))
                self._names[p] = new
            if not same_text or src.res is not ix.resolutions.get(p):
                changed_keys.add(p)  # who read its text or its resolutions (a command's delegate) reads again
        structure_changed = any(k not in ix.docs for k in changed_keys) or any(
            k.startswith(("name:", "prefix:")) for k in changed_keys)

        touched: set[str] = set()  # targets whose incoming anchors or mentions changed
        edges_changed = False
        for src in gone_sources:
            touched |= self._forget_source(src)
            edges_changed = True
        sources = docs
        if changed is not None and changed_keys:
            # and the documents that looked up what changed
            seen = {p for p, _d in docs}
            looked = {s for k in changed_keys for s in self._looked_up_by.get(k, ())}
            sources = docs + [(s, ix.docs[s]) for s in sorted(looked - seen) if s in ix.docs]
        for src, doc in sources:
            tick()
            if ix.docs.get(src) is not doc:
                continue
            res = ix.resolutions.get(src)
            old = self._sources.get(src)
            if (old is not None and old.parsed is doc.parsed and old.res is res
                    and changed_keys.isdisjoint(old.deps) and src not in force):
                continue
            deps: set[str] = set()
            text = doc.parsed.text  # once: a text held compressed is decompressed on every read
            lines = text.split("\n")
            new = _Source(doc.parsed, res, tuple(anchors_of(ix, src, deps, text, lines)),
                          tuple(mentions_of(ix, src, deps, lines)),
                          tuple(edges_of(ix, src, deps)) if res else (), tuple(deps))
            if old is not None and old.anchors == new.anchors and old.mentions == new.mentions:
                edges_changed |= old.edges != new.edges
                self._set_source(src, new)
                continue
            edges_changed |= old is None or old.edges != new.edges
            if old is not None:
                touched |= self._forget_source(src)
            self._set_source(src, new)
            for target, a in new.anchors:
                self.anchors_in.setdefault(target, []).append(a)
                self._add_exact(target, a)
                touched.add(target)
            for target, line in new.mentions:
                self.mentions_in.setdefault(target, []).append(line)
                touched.add(target)
        for t in touched:
            self._anchor_version[t] = self._anchor_version.get(t, 0) + 1

        if changed is None:
            self._reindex([p for p, d in docs if d.kind in TARGET_KINDS], tick, force=force)
        else:
            self._reindex(None, tick, changed | touched)
        if structure_changed or not self.names:
            self._structure([p for p, d in ix.docs.items() if d.kind in TARGET_KINDS])
        if edges_changed:
            self._edges()
        self.generation = start

    def _set_source(self, src: str, new: _Source) -> None:
        old = self._sources.get(src)
        self._sources[src] = new
        was = old.deps if old is not None else ()
        if was == new.deps:
            return
        self._unlook(src, was)
        for k in new.deps:
            self._looked_up_by.setdefault(k, set()).add(src)

    def _unlook(self, src: str, deps: Sequence[str]) -> None:
        for k in deps:
            users = self._looked_up_by.get(k)
            if users is not None:
                users.discard(src)
                if not users:
                    del self._looked_up_by[k]

    def _forget_source(self, src: str) -> set[str]:
        old = self._sources.pop(src, None)
        if old is None:
            return set()
        self._unlook(src, old.deps)
        touched = set()
        for target, a in old.anchors:
            its = self.anchors_in.get(target)
            if its is not None:
                self.anchors_in[target] = [x for x in its if x.source != src]
            for key, _w in a.keys:
                entries = self.exact.get(key)
                if entries is not None:
                    entries.pop((target, src), None)
                    if not entries:
                        del self.exact[key]
            touched.add(target)
        for target, line in old.mentions:
            lines = self.mentions_in.get(target)
            if lines is not None and line in lines:
                lines.remove(line)
            touched.add(target)
        return touched

    def _add_exact(self, target: str, a: Anchor) -> None:
        w_src = SOURCE_WEIGHT.get(self.ix.docs[a.source].kind, 0.8)
        for key, w in a.keys:
            w = w * w_src / (1.0 + a.rank)
            entries = self.exact.setdefault(key, {})
            if entries.get((target, a.source), 0.0) < w:
                entries[(target, a.source)] = w

    def _counts(self, path: str) -> dict[str, Counter[str]]:
        """Every field of one target: its own text (read again: nothing per document is kept but
        the postings) and what routers say about it. Notes what it read in `_indexed`."""
        doc = self.ix.docs.get(path)
        if doc is None:  # gone at a pause: indexed as nothing until the next refresh drops it
            self._indexed[path] = (None, -1, None)
            return {}
        self._indexed[path] = (doc.parsed, self._anchor_version.get(path, 0), self._skill_name(doc))
        counts = doc_fields(self.ix, doc)
        # what explains this target later, kept out of memory (an answer then reads a few hundred
        # bytes per hit instead of deriving them from the whole text again)
        self._short[path] = self.ix.texts.put(short_record(counts))
        del counts[WHEN_BULLETS]
        its = self.anchors_in.get(path, ())
        counts["anchor"] = bag_lines([a.phrase for a in its])
        counts["context"] = bag_lines([a.context for a in its])
        counts["mention"] = bag_lines(self.mentions_in.get(path, []))
        return counts

    def _reindex(self, targets: list[str] | None, tick: _Ticker, candidates: set[str] | None = None,
                 force: set[str] | frozenset[str] = frozenset()) -> None:
        """Index the targets whose text or incoming anchors changed, or that are in `force` (their
        skill's name may have moved), drop those no longer there. `targets`: all of them, each
        checked; or None and the `candidates` that may have changed."""
        ix = self.ix
        pst = self.postings
        if targets is None:
            check, gone = [], []
            for p in sorted(candidates or ()):
                d = ix.docs.get(p)
                if d is not None and d.kind in TARGET_KINDS:
                    check.append(p)
                elif p in self._indexed:  # gone, or no longer a skill or sheet
                    gone.append(p)
        else:
            live = set(targets)
            gone = [p for p in self._indexed if p not in live]
            check = targets
        changed = []
        for p in check:
            doc = ix.docs.get(p)
            was = self._indexed.get(p)
            if (doc is None or was is None or was[0] is not doc.parsed or was[1] != self._anchor_version.get(p, 0)
                    or was[2] != self._skill_name(doc) or p in force):
                changed.append(p)
        if pst.base_size == 0 or pst.changed_share(len(changed) + len(gone)) > DELTA_REBUILD:
            if targets is None:
                targets = [p for p, d in ix.docs.items() if d.kind in TARGET_KINDS]
            self._short = {}  # (filled again as every target is counted)
            self._indexed = {}  # (likewise)
            pst.rebuild(targets, self._counts, self._root, tick)
            self._explain.clear()
            return
        for p in gone:
            pst.drop(p)
            del self._indexed[p]
            self._short.pop(p, None)
        for p in changed:
            tick()
            if p in ix.docs:  # (one gone at a pause is dropped by the next refresh)
                pst.put(p, self._counts(p), self._root(p))

    def _skill_name(self, doc: Doc) -> str | None:
        """A skill's name as its name field has it: it can change with another file (a second
        skill file in the folder) while the document's own text does not."""
        return self.ix.name_of(doc.path) if doc.kind is DocKind.SKILL else None

    def _structure(self, targets: list[str]) -> None:
        """Names and the skill/pack hierarchy: they move only when documents or names do."""
        ix = self.ix
        names: dict[str, list[str]] = {}
        parent: dict[str, str] = {}
        live = set(targets)
        routers: dict[str, str | None] = {}  # plugin dir -> its pack router, asked once per plugin
        for p in sorted(targets):
            doc = ix.docs[p]
            if doc.kind is DocKind.SKILL:
                skill = ix.skills.get(os.path.dirname(p))
                for nm in sorted({skill.name, skill.folder}) if skill else ():
                    names.setdefault(nm.lower(), []).append(p)
                router = pack_router(ix, doc, routers)
                if router is not None and router != p and router in live:
                    parent[p] = router
            else:
                base = os.path.basename(p).lower()
                names.setdefault(base, []).append(p)
                names.setdefault(base[:-3], []).append(p)
                if doc.skill_dir and doc.skill_dir in ix.skills:
                    parent[p] = ix.skills[doc.skill_dir].path
        self.names = names
        self.parent = parent
        self.skill_words = {n: [p for p in ps if ix.docs[p].kind is DocKind.SKILL]
                            for n, ps in names.items() if "-" not in n and "." not in n}

    def _edges(self) -> None:
        ix = self.ix
        edges = {s: src.edges for s, src in self._sources.items() if src.edges and s in ix.docs}
        routers_of: dict[str, list[str]] = {}
        for s, ts in edges.items():
            if ix.docs[s].kind not in TARGET_KINDS:
                continue
            for t in ts:
                if t != s and t in ix.docs and ix.docs[t].kind in TARGET_KINDS:
                    routers_of.setdefault(t, []).append(s)
        self.routers_of = routers_of
        self.routers = {r for rs in routers_of.values() for r in rs}
        self.route_prev = _route_tree(ix, edges)

    # --- querying ---------------------------------------------------------------------------
    def route(self, query: str, limit: int = 5, roots: list[str] | None = None, literal: bool = True,
              kinds: tuple[DocKind, ...] = TARGET_KINDS, explain: bool = True) -> Answer:
        """Rank targets for a task. `literal=False` leaves out exact phrases and names (what the
        routability check needs: would the words alone lead there?)."""
        self.refresh()
        pst = self.postings
        q = Counter(tokens(query))
        own = self._score(q)
        paths = pst.paths
        final: dict[int, float] = {}
        if own:
            # a document below this share of the best cannot reach the top even with its pack's
            # help (PARENT_SHARE of the best), so only the rest is ranked further
            floor = max(own.values()) * CANDIDATE_FLOOR
            parent = self.parent
            ids = pst.ids
            routers = self.router_ids
            for d, s in own.items():
                if s < floor:
                    continue
                par = parent.get(paths[d])
                pi = ids.get(par, -1) if par else -1
                if d in routers:
                    s *= ROUTER_DAMP
                final[d] = s + (PARENT_SHARE * own.get(pi, 0.0) if pi >= 0 else 0.0)
        if final:
            floor = max(final.values()) * 0.2  # only strong children can lift a router
            for d, s in [(d, s) for d, s in final.items() if s >= floor]:
                for r in self.routers_of.get(paths[d], ()):
                    ri = pst.ids.get(r)
                    if ri is not None and final.get(ri, 0.0) < CHILD_SHARE * s:
                        final[ri] = CHILD_SHARE * s

        top_lexical = max(final.values(), default=0.0)
        boosts: dict[int, float] = {}
        votes: Counter[int] = Counter()
        for target, weight in self._exact_hits(query) if literal else ():
            d = pst.ids.get(target)
            if d is None:
                continue
            # the best router's word counts, not how many repeat it (a pack of sheets that all
            # cross-link "Testing" must not outvote the one router whose table says it)
            boosts[d] = max(boosts.get(d, 0.0), weight)
            votes[d] += 1
        for d, n in votes.items():
            boosts[d] += REPEAT_BONUS * min(n - 1, 3)
        for p in self._named(query) if literal else ():
            d = pst.ids.get(p)
            if d is not None:
                boosts[d] = boosts.get(d, 0.0) + NAMED_BONUS
        for d, b in boosts.items():
            final[d] = top_lexical + EXACT_BONUS * b + final.get(d, 0.0) * 0.01
        # a one-word skill name in the query ("use the brainstorming skill") is likely, not certain
        for w in set(RAW_WORD.findall(query.lower())) if literal else ():
            for p in self.skill_words.get(w, ()):
                d = pst.ids.get(p)
                if d is not None and d not in boosts:
                    final[d] = final.get(d, 0.0) + WORD_NAME_SHARE * top_lexical

        items = final.items()
        if roots:
            prefixes = tuple(r.rstrip(os.sep) + os.sep for r in roots)
            items = [(d, s) for d, s in items if paths[d].startswith(prefixes)]
        if kinds != TARGET_KINDS:
            docs = self.ix.docs
            items = [(d, s) for d, s in items if docs[paths[d]].kind in kinds]
        best = heapq.nlargest(limit, items, key=lambda kv: (kv[1], -kv[0]))
        hits = [Hit(paths[d], s, own.get(d, 0.0), exact=d in boosts) for d, s in best]
        coverage = self._coverage(q, best[0][0], query) if best else 0.0
        confident = bool(hits) and (hits[0].exact or coverage >= CONFIDENT_COVERAGE)
        for h in hits if explain else ():
            h.why = self._why(q, query, h)
        return Answer(hits, confident, coverage)

    @property
    def router_ids(self) -> set[int]:
        """Doc numbers of the targets that route to others (numbers move as documents change)."""
        if self._router_ids[0] != self.generation:
            ids = self.postings.ids
            self._router_ids = (self.generation, {ids[r] for r in self.routers if r in ids})
        return self._router_ids[1]

    def _root(self, path: str) -> str:
        doc = self.ix.docs.get(path)  # (one gone at a pause still lies under its root)
        return doc.root if doc is not None else self.ix.root_of(path) or ""

    def _score(self, q: Counter[str]) -> dict[int, float]:
        """BM25F of every matching document, with the statistics of its own root.

        Roots are then put on one scale: a document's score is divided by what the query's words
        weigh in its root (a word no document there has weighs as if one had it) and multiplied
        by the most they weigh in any root. A match in a root of many look-alike documents (10,000
        generated skills beside a real pack) then counts for what it says about the query, not
        for how rare its words are where it lives. With one root nothing changes."""
        pst = self.postings
        dead = pst.dead
        own: dict[int, float] = {}
        get = own.get
        nroots = len(pst.roots)
        root_of = pst.root_of
        for t, qtf in q.items():
            ws = [pst.idf(t, r) * qtf for r in range(nroots)] if nroots > 1 else [pst.idf(t) * qtf]
            if max(ws) <= 0.0:
                continue
            base = pst.base.get(t)
            if base is not None:
                docs, weights = base
                for d, s in zip(docs, weights, strict=True):
                    own[d] = get(d, 0.0) + ws[root_of[d]] * s
            delta = pst.delta.get(t)
            if delta:
                for d, s in delta.items():
                    own[d] = get(d, 0.0) + ws[root_of[d]] * s
        if dead:
            for d in dead.intersection(own):
                del own[d]
        if nroots > 1 and own:
            need = [sum(qtf * pst.idf(t, r, absent=True) for t, qtf in q.items()) for r in range(nroots)]
            top = max(need)
            scale = [top / x if x > 0.0 else 0.0 for x in need]
            for d in own:
                own[d] *= scale[root_of[d]]
        return own

    def _exact_hits(self, query: str) -> list[tuple[str, float]]:
        """Targets some router sends this very phrase to; "Label: phrase" also tries the phrase."""
        entries = self.exact.get(phrase_key(query))
        if not entries:
            head, sep, tail = query.partition(":")
            if sep and len(head.split()) <= 3:
                entries = self.exact.get(phrase_key(tail))
        return [(target, w) for (target, _src), w in (entries or {}).items()]

    def _named(self, query: str) -> list[str]:
        """Targets the query names outright: `systematic-debugging`, `superpowers:brainstorming`."""
        out: list[str] = []
        for m in NAMEISH.finditer(query.lower()):
            word = m.group(0)
            for cand in (word, word.rsplit(":", 1)[-1], word.rsplit("/", 1)[-1]):
                if cand in self.names:
                    out.extend(self.names[cand])
                    break
        return list(dict.fromkeys(out))

    def _fields_of(self, path: str) -> dict[str, Counter[str]]:
        """The short fields of one target (no body, no row context): enough to explain a hit and
        to judge coverage, cheap enough to compute per answer (cached per signature)."""
        return self._explained(path)[0]

    def _explained(self, path: str) -> tuple[dict[str, Counter[str]], str]:
        sig = self._indexed.get(path)
        cached = self._explain.get(path)
        if cached is None or cached[0] is not sig:
            if len(self._explain) > EXPLAIN_CACHE:
                self._explain.clear()
            doc = self.ix.docs[path]
            text = doc.parsed.text
            record = self._short.get(path)
            if record is not None:
                fields = from_short_record(load(record))
            else:
                fields = doc_fields(self.ix, doc, with_body=False, text=text)
            fields["anchor"] = bag_lines([a.phrase for a in self.anchors_in.get(path, ())])
            cached = (sig, fields, text[:BODY_MAX_CHARS].lower())
            self._explain[path] = cached
        return cached[1], cached[2]

    def _in_body(self, path: str, word: str) -> bool:
        """Whether a query word (or its stem) occurs in the document's text: a cheap stand-in for
        the body and routing-row fields, which are not kept per document."""
        return path in self.ix.docs and stem(word) in self._explained(path)[1]

    def _coverage(self, q: Counter[str], d: int, query: str) -> float:
        """Share of the query's information (idf) that the target, or its skill, matches."""
        pst = self.postings
        unknown = math.log(1.0 + (pst.live + 0.5) / 0.5)
        path = pst.paths[d]
        # the words that say what a target is for: not its body (long bodies mention everything),
        # plus what its skill or pack says about itself
        terms = set().union(*self._fields_of(path).values())
        par = self.parent.get(path)
        if par and par in pst.ids:
            fields = self._fields_of(par)
            terms = terms.union(fields["name"], fields["use_when"], fields["desc"])
        originals = _originals(query)
        total = matched = 0.0
        r = pst.root_of[d]
        for t in q:
            w = pst.idf(t, r) or unknown
            total += w
            if t in terms:
                matched += w
            elif self._in_body(path, originals.get(t, t)):
                matched += BODY_COVERAGE * w
        return matched / total if total else 0.0

    def _why(self, q: Counter[str], query: str, hit: Hit) -> str:
        path = hit.path
        if hit.exact:
            keys = {phrase_key(query), phrase_key(query.partition(":")[2])}
            for a in self.anchors_in.get(path, ()):
                if any(k in keys for k, _w in a.keys):
                    return f'routing phrase "{a.phrase}" in {self.ix.doc_id(a.source)}'
            return "named in the query"
        fields = self._fields_of(path)
        originals = _originals(query)
        matched: dict[str, list[str]] = {}
        for t in q:
            word = originals.get(t, t)
            f = next((f for f in FIELDS if t in fields.get(f, ())), None)
            if f is None and self._in_body(path, word):
                f = "body"
            if f is not None:
                matched.setdefault(f, []).append(word)
        if not matched:
            par = self.parent.get(path)
            return f"from its pack {self.ix.doc_id(par)}" if par else "routes to a match"
        label = {"use_when": "use-when", "desc": "description", "bullets": "when-to-use",
                 "anchor": "routing phrase", "context": "routing row"}
        return "; ".join(f"{label.get(f, f)}: {', '.join(ws)}" for f, ws in matched.items())

    def route_of(self, path: str) -> list[str]:
        """Paths from a top router to `path` through routing edges (the path itself last)."""
        self.refresh()
        prev = self.route_prev
        out = [path]
        seen = {path}
        cur = path
        while cur in prev:
            cur = prev[cur]
            if cur in seen:
                break
            seen.add(cur)
            out.append(cur)
        if len(out) == 1:
            doc = self.ix.docs.get(path)
            skill = self.ix.skills.get(doc.skill_dir) if doc and doc.skill_dir else None
            if doc is not None and doc.kind is DocKind.SHEET and skill is not None and skill.path != path:
                return self.route_of(skill.path) + [path]
        out.reverse()
        return out

    def description_terms(self, path: str, name: bool = False) -> Counter[str]:
        """The words of a target's description, and of its name if asked (routability checks)."""
        self.refresh()
        out: Counter[str] = Counter()
        fields = self._fields_of(path)
        for f in ("name", "use_when", "desc") if name else ("use_when", "desc"):
            out.update(fields.get(f, {}))
        return out


def _originals(query: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for w in RAW_WORD.findall(query.lower()):
        if w not in STOP_WORDS and len(w) > 1:
            out.setdefault(stem(w), w)
    return out


def _route_tree(ix: SkillIndex, edges: dict[str, Sequence[str]]) -> dict[str, str]:
    """Path -> the hop before it, on a shortest route from a top router (one nothing routes to).

    Routes through skills come first, since an agent can load those; commands and agents (slash
    wrappers a user types) only fill in targets no skill router reaches.
    """
    skill_edges = {s: ts for s, ts in edges.items() if ix.docs[s].kind is DocKind.SKILL}
    prev: dict[str, str] = {}
    seen: set[str] = set()

    def bfs(graph: dict[str, Sequence[str]], sources: list[str]) -> None:
        queue = deque(s for s in sources if s not in seen)
        seen.update(queue)
        while queue:
            cur = queue.popleft()
            for t in graph.get(cur, ()):
                if t not in seen and t in ix.docs:
                    seen.add(t)
                    prev[t] = cur
                    queue.append(t)

    for graph in (skill_edges, edges):
        incoming = {t for ts in graph.values() for t in ts}
        bfs(graph, sorted(s for s in graph if s not in incoming and s not in seen))
        for s in sorted(graph):  # routers caught in cycles only: each unreached one starts a tree
            if s not in seen:
                bfs(graph, [s])
    return prev


def router_for(ix: SkillIndex) -> Router:
    """The router of an index, built on first use, kept on the index (it lives as long as the
    index does) and current with its generation."""
    r = ix.derived.get("router")
    if not isinstance(r, Router):
        r = ix.derived["router"] = Router(ix)
    return r


__all__ = ["Answer", "Hit", "Router", "bag", "phrase_key", "router_for"]
