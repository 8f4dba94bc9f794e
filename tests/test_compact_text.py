"""Documents no editor has open hold their text compressed; every reader still sees the text."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from skill_lsp.agent_api import resolve_request
from skill_lsp.index import SkillIndex
from skill_lsp.parse import parse
from skill_lsp.rules import check_all
from skill_lsp.spill import Spilled
from skill_lsp.watch import Change, apply_changes

LONG = "---\nname: alpha\ndescription: Use when testing compaction.\n---\n# Alpha\n\n" + \
    "".join(f"Paragraph {i} links [the notes](notes.md#part-{i % 3}) and says café.\n\n" for i in range(80))
NOTES = "# Notes\n\n" + "".join(f"## Part {i}\n\nText of part {i}, long enough to matter. " * 20 + "\n\n"
                                for i in range(3))


def tree(tmp_path: Path) -> Path:
    skill = tmp_path / "skills" / "alpha"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text(LONG, encoding="utf-8")
    (skill / "notes.md").write_text(NOTES, encoding="utf-8")
    return tmp_path


def test_closed_documents_are_compressed_and_read_back_whole(tmp_path: Path) -> None:
    root = tree(tmp_path)
    ix = SkillIndex.from_roots([root])
    skill = str(root / "skills/alpha/SKILL.md")
    doc = ix.docs[skill]
    stored = doc.parsed.stored
    assert isinstance(stored, Spilled) and stored.length < len(LONG) / 2, "kept out of memory, compressed"
    assert doc.parsed.text == LONG
    assert doc.parsed == parse(LONG), "a compressed parse equals the same parse held plainly"
    assert resolve_request(ix, {"id": "alpha"})["text"] == LONG
    assert [f.code for f in check_all(ix)] == []  # anchors into the compressed sheet resolve


def test_an_editor_buffer_is_held_plainly(tmp_path: Path) -> None:
    root = tree(tmp_path)
    ix = SkillIndex.from_roots([root])
    skill = str(root / "skills/alpha/SKILL.md")
    edited = LONG + "\nOne more line from the editor.\n"
    ix.update(skill, edited)
    assert ix.docs[skill].parsed.stored == edited  # asked about on every keystroke: not compressed
    assert [f.code for f in check_all(ix)] == []


def test_texts_stay_in_memory_when_no_temporary_file_can_be_made(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    root = tree(tmp_path)
    ix = SkillIndex.from_roots([root])
    skill = str(root / "skills/alpha/SKILL.md")
    assert isinstance(ix.docs[skill].parsed.stored, bytes)  # compressed, in memory
    assert ix.docs[skill].parsed.text == LONG
    assert [f.code for f in check_all(ix)] == []


def test_a_document_changed_on_disk_reads_back_its_own_text(tmp_path: Path) -> None:
    root = tree(tmp_path)
    ix = SkillIndex.from_roots([root])
    notes = root / "skills/alpha/notes.md"
    changed = NOTES.replace("Part 2", "Part Two")
    notes.write_text(changed, encoding="utf-8")
    apply_changes(ix, [Change("modified", str(notes), None, False)])  # as the watcher reports it
    assert ix.docs[str(notes)].parsed.text == changed
    assert ix.docs[str(root / "skills/alpha/SKILL.md")].parsed.text == LONG  # its neighbour is intact
    assert isinstance(ix.docs[str(notes)].parsed.stored, Spilled)


def test_the_text_store_keeps_every_text_apart_under_concurrent_writers() -> None:
    # The index is written from the loop thread and read from worker threads (the router build).
    from concurrent.futures import ThreadPoolExecutor

    from skill_lsp.spill import TextSpill

    spill = TextSpill()
    blobs = [bytes([i % 251]) * (1000 + i) for i in range(400)]
    with ThreadPoolExecutor(8) as pool:
        places = list(pool.map(spill.put, blobs))
    assert all(isinstance(p, Spilled) for p in places)
    assert len({p.offset for p in places}) == len(blobs)
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(Spilled.read, places)) == blobs
