"""Documents no editor has open hold their text compressed; every reader still sees the text."""

from __future__ import annotations

from pathlib import Path

from skill_lsp.agent_api import resolve_request
from skill_lsp.index import SkillIndex
from skill_lsp.parse import parse
from skill_lsp.rules import check_all

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
    assert isinstance(doc.parsed.stored, bytes) and len(doc.parsed.stored) < len(LONG) / 2
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
