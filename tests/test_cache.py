"""The persistent parse cache gives exactly what parse() gives, and never a stale parse."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from skill_lsp import cache as cache_mod
from skill_lsp.cache import ParseCache, cache_dir, decode, encode
from skill_lsp.frontmatter import Limits
from skill_lsp.parse import parse

FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Texts that exercise every part of a ParsedDoc: front matter (good, broken, unclosed, with a
# date, nested), headings, every reference kind, disable comments, problems, non-ASCII text.
SAMPLES = [
    "",
    "no front matter, just prose\n",
    "---\nname: a\ndescription: Use when x. Does y.\nmetadata:\n  tags: [a, b]\n  n: 3\n---\n# Title\n\n"
    "See [sheet](sheet.md#part) and `other-skill` and **bold-name**.\n\n| Symptom | Route to |\n|---|---|\n"
    "| \"it breaks\" | `plugin/skill` |\n\n**Route to:** [x.md](x.md)\n\n- a → b-skill\n",
    "---\nname: [unclosed\n---\nbody\n",
    "---\nname: x\n",  # never closed
    "---\ncreated: 2024-01-02\ndescription: dated\n---\n# Dated\n",  # a YAML date marshal cannot write
    "# Ünïcödé 🎉 heading\n\nText with `plugin:cmd` and /slash-cmd here, [lien](fichier-é.md).\n",
    "<!-- skill-lsp: disable-file=LK001 -->\n<!-- skill-lsp: disable-next-line -->\n[a](missing.md)\n"
    "[b](gone.md) <!-- skill-lsp: disable=LK001,RT001 -->\n",
    "````markdown\n```\nnot code end\n````\n\n```text\nsymptom -> some-skill\n```\n\n```\nunclosed\n",
    "line\r\nwith\rcarriage returns\r\n# H\r\n",
]


def fixture_texts() -> list[str]:
    return [p.read_text(encoding="utf-8", errors="replace") for p in sorted(FIXTURES.rglob("*.md"))]


def many_texts(n: int, salt: str = "") -> list[str]:
    """Distinct small documents, enough to pass the cache's size threshold."""
    return [f"---\nname: s{i}\ndescription: Use when {salt} case {i}.\n---\n# Skill {i}\n\n"
            f"See [notes](notes-{i}.md) and `other-{i}`.\n" for i in range(n)]


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv(cache_mod.ENV_DIR, str(d))
    return d


@pytest.mark.parametrize("text", SAMPLES + fixture_texts())
def test_decode_of_encode_is_the_parse(text: str) -> None:
    parsed = parse(text)
    assert decode(text, encode(parsed, text)) == parsed


def test_warm_start_returns_the_same_parses(tmp_path: Path, cache_home: Path) -> None:
    texts = many_texts(cache_mod.MIN_DOCS + 20) + SAMPLES + fixture_texts()
    first = ParseCache.for_root(str(tmp_path))
    cold = first.parse_many(texts, workers=1)
    assert first.stats.misses == len(texts) and first.stats.hits == 0
    assert first.save()
    assert list(cache_home.glob("parsed-*.bin"))

    second = ParseCache.for_root(str(tmp_path))
    warm = second.parse_many(texts, workers=1)
    assert warm == cold == [parse(t) for t in texts]
    # the dated front matter cannot be written by marshal: parsed again, every other text is a hit
    assert second.stats.misses == first.stats.uncacheable == 1
    assert second.stats.hits == len(texts) - 1
    assert not second.save()  # nothing new: the file is not rewritten


def test_a_changed_text_is_parsed_anew(tmp_path: Path, cache_home: Path) -> None:
    texts = many_texts(cache_mod.MIN_DOCS + 1)
    c = ParseCache.for_root(str(tmp_path))
    c.parse_many(texts, workers=1)
    c.save()
    texts[7] = texts[7].replace("[notes](notes-7.md)", "[notes](elsewhere.md)")
    again = ParseCache.for_root(str(tmp_path))
    out = again.parse_many(texts, workers=1)
    assert again.stats.misses == 1
    assert out[7] == parse(texts[7])
    assert [r.target for r in out[7].references if r.kind.value == "link"] == ["elsewhere.md"]


def test_documents_that_left_are_dropped_at_the_next_write(tmp_path: Path, cache_home: Path) -> None:
    texts = many_texts(cache_mod.MIN_DOCS + 50)
    c = ParseCache.for_root(str(tmp_path))
    c.parse_many(texts, workers=1)
    c.save()
    size = next(cache_home.glob("parsed-*.bin")).stat().st_size
    fewer = ParseCache.for_root(str(tmp_path))
    fewer.parse_many(texts[:-40], workers=1)
    assert fewer.stats.misses == 0
    assert fewer.save()  # same entries minus the ones no longer used
    assert next(cache_home.glob("parsed-*.bin")).stat().st_size < size


def test_a_partial_save_keeps_the_other_entries(tmp_path: Path, cache_home: Path) -> None:
    texts = many_texts(cache_mod.MIN_DOCS + 50)
    c = ParseCache.for_root(str(tmp_path))
    c.parse_many(texts, workers=1)
    c.save()
    # a re-index that reused most parses asks for a few changed texts only
    changed = [t + "\nMore text.\n" for t in texts[:3]]
    partial = ParseCache.for_root(str(tmp_path))
    partial.parse_many(changed, workers=1)
    assert partial.save(prune=False)
    full = ParseCache.for_root(str(tmp_path))
    full.parse_many(texts + changed, workers=1)
    assert full.stats.misses == 0


def test_parse_limits_are_part_of_the_key(tmp_path: Path, cache_home: Path) -> None:
    deep = "---\na:\n  b:\n    c:\n      d: 1\n---\nbody\n"
    texts = many_texts(cache_mod.MIN_DOCS) + [deep]
    c = ParseCache.for_root(str(tmp_path))
    c.parse_many(texts, workers=1)
    c.save()
    strict = Limits(max_depth=2)
    other = ParseCache.for_root(str(tmp_path), limits=strict)
    out = other.parse_many([deep], workers=1)
    assert other.stats.misses == 1
    assert out[0] == parse(deep, strict)
    assert out[0].front_matter is not None and out[0].front_matter.error


def test_a_damaged_or_foreign_file_is_a_cold_start(tmp_path: Path, cache_home: Path) -> None:
    texts = many_texts(cache_mod.MIN_DOCS + 5)
    c = ParseCache.for_root(str(tmp_path))
    c.parse_many(texts, workers=1)
    c.save()
    f = next(cache_home.glob("parsed-*.bin"))
    data = f.read_bytes()
    for broken in (data[: len(data) // 2], b"something else entirely", data.replace(b"skill-lsp", b"xxxxx-lsp", 1)):
        f.write_bytes(broken)
        again = ParseCache.for_root(str(tmp_path))
        assert again.parse_many(texts, workers=1) == [parse(t) for t in texts]
        assert again.stats.hits == 0
        assert again.save()  # and the next write replaces it
        assert ParseCache.for_root(str(tmp_path)).parse_many(texts[:3], workers=1) == [parse(t) for t in texts[:3]]


def test_small_trees_leave_nothing_behind(tmp_path: Path, cache_home: Path) -> None:
    c = ParseCache.for_root(str(tmp_path))
    c.parse_many(SAMPLES, workers=1)
    assert not c.save()
    assert not cache_home.exists()


def test_off_means_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache_mod.ENV_DIR, "off")
    assert cache_dir() is None
    c = ParseCache.for_root(str(tmp_path))
    texts = many_texts(cache_mod.MIN_DOCS + 1)
    assert c.parse_many(texts, workers=1) == [parse(t) for t in texts]
    assert not c.save()


def test_worker_processes_parse_the_same(tmp_path: Path, cache_home: Path) -> None:
    texts = SAMPLES + fixture_texts() + many_texts(40, salt="pooled")
    c = ParseCache.for_root(str(tmp_path))
    out = c.parse_many(texts, workers=2)
    assert out == [parse(t) for t in texts]
    # everything but the dated front matter came back from a worker
    assert c.stats.pooled == len(texts) - 1


def test_one_root_per_file(tmp_path: Path, cache_home: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for root in (a, b):
        c = ParseCache.for_root(str(root))
        c.parse_many(many_texts(cache_mod.MIN_DOCS, salt=root.name), workers=1)
        c.save()
    assert len(list(cache_home.glob("parsed-*.bin"))) == 2


def _tree_of(root: Path, n: int) -> None:
    for i in range(n):
        d = root / "skills" / f"s{i}"
        d.mkdir(parents=True)
        (d / "SKILL.md").write_text(f"---\nname: s{i}\ndescription: Use when case {i}.\n---\n# S{i}\n\n"
                                    f"See [notes](notes.md) and [gone](missing-{i}.md).\n", encoding="utf-8")
        (d / "notes.md").write_text(f"# Notes {i}\n\nBack to `s{(i + 1) % n}`.\n", encoding="utf-8")


def test_an_index_started_warm_has_the_same_findings_and_sees_edits(tmp_path: Path, cache_home: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from skill_lsp.index import SkillIndex
    from skill_lsp.rules import check_all

    root = tmp_path / "tree"
    _tree_of(root, cache_mod.MIN_DOCS // 2 + 10)
    cold = SkillIndex.from_roots([root])
    assert list(cache_home.glob("parsed-*.bin")), "a tree this big is cached"
    # edited on disk between two starts: the warm start must see the new text, not the cached parse
    edited = root / "skills" / "s3" / "SKILL.md"
    edited.write_text(edited.read_text(encoding="utf-8") + "\n[another](nowhere.md)\n", encoding="utf-8")
    warm = SkillIndex.from_roots([root])
    monkeypatch.setenv(cache_mod.ENV_DIR, "off")
    fresh = SkillIndex.from_roots([root])
    key = lambda ix: sorted((f.path, f.code, f.span, f.message) for f in check_all(ix))  # noqa: E731
    assert key(warm) == key(fresh)
    assert len(key(warm)) == len(key(cold)) + 1
    assert any("nowhere.md" in f.message for f in check_all(warm) if f.path == str(edited))


def test_a_reader_keeps_its_file_when_another_process_replaces_it(tmp_path: Path, cache_home: Path) -> None:
    texts = many_texts(cache_mod.MIN_DOCS + 10)
    first = ParseCache.for_root(str(tmp_path))
    first.parse_many(texts, workers=1)
    first.save()
    reader = ParseCache.for_root(str(tmp_path))
    assert reader.parse_many(texts[:5], workers=1) == [parse(t) for t in texts[:5]]  # its file is open now
    other = many_texts(cache_mod.MIN_DOCS + 10, salt="other")
    writer = ParseCache.for_root(str(tmp_path))
    writer.parse_many(other, workers=1)
    assert writer.save()  # replaces the file under the reader
    assert reader.parse_many(texts, workers=1) == [parse(t) for t in texts]
    assert reader.stats.misses == 0, "entries are read from the file the reader opened"
    reader.close()


def _long_tree(root: Path, n: int) -> list[Path]:
    """Documents long enough that the cache holds their text; written long ago (not racy)."""
    filler = "Some words about the case at hand, repeated to make a long document.\n" * 40
    paths = []
    for i in range(n):
        d = root / "skills" / f"s{i}"
        d.mkdir(parents=True)
        p = d / "SKILL.md"
        p.write_text(f"---\nname: s{i}\ndescription: Use when case {i}.\n---\n# S{i}\n\n{filler}\n"
                     f"See [notes](notes-{i:04d}.md).\n", encoding="utf-8")
        paths.append(p)
    old = 1_600_000_000
    for p in paths:
        os.utime(p, (old, old))
    return paths


def test_a_warm_start_does_not_read_unchanged_files_and_never_misses_an_edit(
        tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from skill_lsp import index as index_mod
    from skill_lsp.index import SkillIndex
    from skill_lsp.rules import check_all

    root = tmp_path / "tree"
    paths = _long_tree(root, cache_mod.MIN_DOCS + 10)
    SkillIndex.from_roots([root])  # fills the cache, stamps included
    read: list[str] = []
    real_read = index_mod.read_doc
    monkeypatch.setattr(index_mod, "read_doc", lambda p, m: read.append(p) or real_read(p, m))

    warm = SkillIndex.from_roots([root])
    assert read == [], "unchanged files are taken from the cache by their stamp"
    assert warm.docs[str(paths[0])].parsed.text == paths[0].read_text(encoding="utf-8")

    # an edit that keeps the size and puts the old mtime back: the change time still tells
    edited = paths[7]
    st = edited.stat()
    text = edited.read_text(encoding="utf-8").replace("notes-0007.md", "notes-0008.md")
    edited.write_text(text, encoding="utf-8")
    os.utime(edited, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert edited.stat().st_size == st.st_size and edited.stat().st_mtime_ns == st.st_mtime_ns
    again = SkillIndex.from_roots([root])
    assert read == [str(edited)]
    assert again.docs[str(edited)].parsed.text == text
    monkeypatch.setenv(cache_mod.ENV_DIR, "off")
    fresh = SkillIndex.from_roots([root])
    key = lambda ix: sorted((f.path, f.code, f.span, f.message) for f in check_all(ix))  # noqa: E731
    assert key(again) == key(fresh)
    assert any("notes-0008.md" in f.message for f in check_all(again) if f.path == str(edited))


def test_a_file_written_just_now_is_read_at_the_next_start(tmp_path: Path, cache_home: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from skill_lsp import index as index_mod
    from skill_lsp.index import SkillIndex

    root = tmp_path / "tree"
    paths = _long_tree(root, cache_mod.MIN_DOCS + 10)
    paths[3].write_text(paths[3].read_text(encoding="utf-8") + "\nfresh\n", encoding="utf-8")  # mtime: now
    SkillIndex.from_roots([root])
    read: list[str] = []
    real_read = index_mod.read_doc
    monkeypatch.setattr(index_mod, "read_doc", lambda p, m: read.append(p) or real_read(p, m))
    SkillIndex.from_roots([root])
    # its stamp could still change within the clock's granularity without the stamp showing it
    assert read == [str(paths[3])]
