"""The router's build: the faster paths give exactly what the plain ones give, and a router kept
current through edits holds what a router built afresh holds."""

from __future__ import annotations

import os
import random
import re
import shutil
from array import array
from collections import Counter
from pathlib import Path

import pytest
from skill_lsp import route_fields
from skill_lsp.index import SkillIndex
from skill_lsp.route import Router, _heaviest
from skill_lsp.stem import STOP_WORDS, _porter, term_counts, tokens, words

TREE = Path(__file__).parent / "fixtures" / "route_tree"
RAW = re.compile(r"[a-z0-9]+")
# pieces that make the patterns match or nearly match: fences, "Symptoms:" lines, the non-ASCII
# letters that case-fold to ASCII ones, a lone surrogate
PIECES = ["\n", "\n", " ", "  ", "\t", "`", "```", "~~~", "~", "Symptoms", "symptom", "TRIGGER", "triggers",
          ":", "-", "*", "#", "|", "**", "x", "ſymptom", "trıgger", "İ", "K", "é", "Straße", "\ud800", "12", "ab"]


def _texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 40))) for _ in range(n)]


def _plain_tokens(text: str) -> list[str]:
    out = []
    for w in RAW.findall(text.lower()):
        if len(w) > 1 and w not in STOP_WORDS:
            out.append(w if len(w) <= 3 or not w.isalpha() else _porter(w))
    return out


def test_words_tokens_and_counts_are_the_regex_ones() -> None:
    for text in _texts(20_000, 1) + ["", "a", "Running", "the running dogs ran; DOGS run 42x"]:
        assert words(text) == RAW.findall(text.lower())
        plain = _plain_tokens(text)
        assert tokens(text) == plain
        counts = term_counts(text)
        assert list(counts.items()) == list(Counter(plain).items())  # the same order too


def test_symptom_lines_and_fences_are_the_regex_ones() -> None:
    found = stripped = 0
    for body in _texts(50_000, 2):
        expected = [m.group(0) for m in route_fields._SYMPTOM_LINE.finditer(body)]
        assert route_fields._symptom_lines(body) == expected, body
        without = route_fields._FENCED.sub(" ", body)
        assert route_fields._without_fences(body) == without, body
        found += bool(expected)
        stripped += without != body
    assert found > 100 and stripped > 100  # the cases were there


def test_heaviest_is_the_full_sort() -> None:
    rng = random.Random(3)
    for _ in range(500):
        size = rng.choice([rng.randint(1, 300), rng.randint(300, 5000)])
        k = rng.choice([rng.randint(1, size), min(size, 20)])
        ws = array("f", [rng.choice([0.5, 1.0, rng.random()]) for _ in range(size)])
        assert _heaviest(ws, k) == sorted(range(size), key=ws.__getitem__, reverse=True)[:k]


def _state(r: Router) -> dict[str, object]:
    """What a router derives from the index, in a comparable form (postings aside: a delta
    segment keeps the average lengths of its base, by design)."""
    return {
        "sources": {s: (src.anchors, src.mentions, src.edges, sorted(src.deps)) for s, src in r._sources.items()},
        "names_of": dict(r._names),
        "anchors_in": {t: sorted((a.source, a.phrase, a.context, a.rank, a.keys) for a in its)
                       for t, its in r.anchors_in.items() if its},
        "mentions_in": {t: sorted(ls) for t, ls in r.mentions_in.items() if ls},
        "exact": {k: dict(v) for k, v in r.exact.items()},
        "names": r.names, "parent": r.parent, "routers_of": {t: sorted(rs) for t, rs in r.routers_of.items()},
        "route_prev": r.route_prev,
    }


def test_a_router_kept_current_holds_what_a_fresh_one_holds(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    ix = SkillIndex.from_roots([str(tree)])
    kept = Router(ix)
    kept.refresh()
    garden = tree / "plugins/garden/skills"
    router = os.path.realpath(garden / "using-garden/SKILL.md")
    text = Path(router).read_text(encoding="utf-8")
    edits = [
        # a row naming a sheet by a prefix of its name, and one naming a sheet that comes later
        (router, text.replace("| Kitchen scraps pile up and smell | composting |",
                              "| Kitchen scraps pile up and smell | composting |\n| Moles dig up the lawn | pest |\n"
                              "| Tomatoes wilt at noon | watering.md |")),
        (os.path.realpath(garden / "using-garden/watering.md"),
         "---\nname: watering\ndescription: Use when tomatoes wilt in a heatwave.\n---\n\n# Watering\n\n"
         "See [pest-control.md](pest-control.md) for slugs after rain.\n"),
        # a skill renamed in its front matter: the rows that named it look again
        (os.path.realpath(garden / "composting/SKILL.md"),
         Path(garden / "composting/SKILL.md").read_text(encoding="utf-8").replace("name: composting",
                                                                                 "name: compost-heaps")),
    ]
    for path, new in edits:
        ix.update(path, new)
        kept.refresh()
        fresh = Router(ix)
        fresh.refresh()
        assert _state(kept) == _state(fresh), path
    ix.remove(os.path.realpath(garden / "using-garden/pest-control.md"))
    kept.refresh()
    fresh = Router(ix)
    fresh.refresh()
    assert _state(kept) == _state(fresh)


def test_tokens_are_the_same_once_the_stem_cache_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    from skill_lsp import stem
    monkeypatch.setattr(stem, "_CACHE", {})
    monkeypatch.setattr(stem, "_CACHE_MAX", 5)
    for text in _texts(2_000, 4) + ["running dogs ran quickly past sleeping cats and barking dogs"]:
        assert tokens(text) == _plain_tokens(text)
        assert list(term_counts(text).items()) == list(Counter(_plain_tokens(text)).items())
    assert len(stem._CACHE) <= 5


def test_a_recorded_short_record_is_what_the_text_gives(tmp_path: Path) -> None:
    # Explanations read a target's short fields back from the record made when it was indexed:
    # they must be exactly those derived from its text, "Symptoms:" lines of the body left out.
    from skill_lsp.route_fields import WHEN_BULLETS, doc_fields, from_short_record, short_record

    root = tmp_path / "tree"
    d = root / "skills" / "alpha"
    d.mkdir(parents=True)
    (d / "SKILL.md").write_text(
        "---\nname: alpha\ndescription: Use when the kiln cracks pots. Covers glaze too.\n---\n# Alpha\n\n"
        "## When to Use\n\n- a pot cracks in the kiln\n- glaze crawls\n\nSymptoms: bubbles, pinholes\n\n"
        "```text\nSymptoms: not this one\n```\n", encoding="utf-8")
    (d / "notes.md").write_text("Plain opening paragraph about cones.\n\n## Firing\n\nText.\n", encoding="utf-8")
    ix = SkillIndex.from_roots([str(root)])
    for doc in ix.docs.values():
        full = doc_fields(ix, doc)
        short = doc_fields(ix, doc, with_body=False)
        assert from_short_record(short_record(full)) == short
        assert full[WHEN_BULLETS] == short["bullets"]


def test_a_build_that_lets_edits_in_midway_catches_up_on_the_next_refresh(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server builds a big router in the background and hands the index over at pauses, so an
    editor's keystrokes are not held for the whole build. Whatever changed at a pause, the next
    refresh leaves the router holding what one built afresh holds, and answering for it."""
    monkeypatch.setattr("skill_lsp.route.PAUSE_EVERY", 1)  # a pause after every document
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    ix = SkillIndex.from_roots([str(tree)])
    garden = tree / "plugins/garden/skills"
    router = os.path.realpath(garden / "using-garden/SKILL.md")
    composting = os.path.realpath(garden / "composting/SKILL.md")
    ferns = os.path.realpath(garden / "using-garden/fern-care.md")
    edits = {
        3: lambda: ix.update(router, Path(router).read_text(encoding="utf-8")
                             + "\n| Fronds brown at the tips | fern-care.md |\n"),
        7: lambda: ix.remove(os.path.realpath(garden / "using-garden/pest-control.md")),
        12: lambda: ix.update(ferns, "---\nname: fern-care\ndescription: Use when fern fronds brown at the "
                                     "tips in dry shade.\n---\n\n# Fern care\n"),
        19: lambda: ix.update(composting, Path(composting).read_text(encoding="utf-8").replace(
            "name: composting", "name: compost-heaps")),
        30: lambda: ix.update(router, Path(router).read_text(encoding="utf-8")),
    }
    pauses = 0

    def pause() -> None:  # what other threads may do while the builder holds no lock
        nonlocal pauses
        pauses += 1
        if pauses in edits:
            edits[pauses]()

    built = Router(ix)
    built.refresh(pause)
    assert pauses >= 30  # every edit happened midway
    assert built.generation != ix.generation  # it knows it is behind
    built.refresh()
    fresh = Router(ix)
    fresh.refresh()
    assert _state(built) == _state(fresh)
    pst = built.postings
    targets = {p for p, d in ix.docs.items() if d.kind.value in ("skill", "sheet")}
    assert {p for p, i in pst.ids.items() if i not in pst.dead} == targets
    assert [h.path for h in built.route("fern fronds brown at the tips").hits][:1] == [ferns]
    assert [h.path for h in built.route("compost-heaps").hits][:1] == [composting]


def test_the_background_build_lets_edits_in_and_installs_a_current_router(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's background build (`serve --warm-router`, or an agent's first route) holds the
    index only between pauses: an edit from another thread gets in while it runs, and the router
    it installs already answers for that edit."""
    import threading

    from skill_lsp import route
    from skill_lsp.server import _warm_router

    monkeypatch.setattr(route, "PAUSE_EVERY", 1)
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    ix = SkillIndex.from_roots([str(tree)])
    sheet = os.path.realpath(tree / "plugins/garden/skills/using-garden/soil-testing.md")
    started, finished = threading.Event(), threading.Event()
    refresh = Router.refresh

    def watched(self: Router, pause=None) -> None:  # noqa: ANN001
        started.set()
        try:
            refresh(self, pause)
        finally:
            if pause is not None:
                finished.set()

    monkeypatch.setattr(Router, "refresh", watched)
    builder = threading.Thread(target=_warm_router, args=(ix,))
    builder.start()
    edited = False
    while builder.is_alive() and not edited:
        with ix.lock:
            if started.is_set() and not finished.is_set():  # mid-build, and the index is ours
                ix.update(sheet, "---\nname: soil-testing\ndescription: Use when moss creeps over a "
                                 "sour lawn.\n---\n\n# Soil testing\n")
                edited = True
    builder.join()
    assert edited, "the build never let go of the index"
    router = ix.derived["router"]
    assert isinstance(router, Router) and router.generation == ix.generation
    assert [h.path for h in router.route("moss creeps over a sour lawn").hits][:1] == [sheet]


def test_every_edit_between_two_routes_is_seen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two quick edits of one document before the next route: the router answers for the last
    text. (It once recognised a document it had read by the id() of its parse, which the parse
    after next can reuse once the first is let go of: now and then an answer was stale. Here
    every object would come back at the same address.)"""
    from skill_lsp import route

    monkeypatch.setattr(route, "id", lambda obj: 0, raising=False)
    tree = tmp_path / "tree"
    shutil.copytree(TREE, tree)
    ix = SkillIndex.from_roots([str(tree)])
    sheet = os.path.realpath(tree / "plugins/garden/skills/using-garden/soil-testing.md")
    router = Router(ix)
    router.refresh()
    text = Path(sheet).read_text(encoding="utf-8")
    stale = []
    for i in range(100):
        ix.update(sheet, text + f"\nquince{i}x\n")
        ix.update(sheet, text + f"\nzebra{i}q\n")
        if [h.path for h in router.route(f"zebra{i}q").hits][:1] != [sheet]:
            stale.append(i)
    assert stale == []


def _terms_of(r: Router) -> dict[str, set[str]]:
    """path -> the terms the postings hold for it (base entries of dropped documents aside)."""
    pst = r.postings
    out: dict[str, set[str]] = {}
    for t, (docs, _ws) in pst.base.items():
        for d in docs:
            if d not in pst.dead:
                out.setdefault(pst.paths[d], set()).add(t)
    for t, entries in pst.delta.items():
        for d in entries:
            out.setdefault(pst.paths[d], set()).add(t)
    return out


@pytest.mark.parametrize("seed", range(int(os.environ.get("SKILL_LSP_ROUTER_SEEDS", "24"))))
def test_a_router_kept_current_through_random_batches_holds_what_a_fresh_one_holds(seed: int) -> None:
    """After each batch of random file operations (the index's property suite's), a refresh that
    looks only at the documents the index says changed ends where a router built afresh does."""
    import tempfile

    from skill_lsp.watch import apply_changes, coalesce
    from test_incremental_property import OPS, initial_tree, run_op

    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(os.path.realpath(tmp)) / "tree"
        tree = initial_tree(root, random.Random(seed))
        ix = SkillIndex.from_roots([str(root)])
        kept = Router(ix)
        kept.refresh()
        for _ in range(8):
            for _ in range(rng.randint(1, 3)):
                run_op(tree, rng.choice(OPS), random.Random(rng.getrandbits(32)))
            apply_changes(ix, coalesce(tree.changes), set())
            tree.changes.clear()
            if rng.random() < 0.7:  # sometimes two batches between two refreshes
                kept.refresh()
                fresh = Router(ix)
                fresh.refresh()
                assert _state(kept) == _state(fresh)
                assert _terms_of(kept) == _terms_of(fresh)
