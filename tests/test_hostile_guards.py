"""Guards on what the tree may hold: files too large, binary or not UTF-8, YAML bombs, symlink
loops and escapes, unreadable and vanishing files. Each becomes a finding (or a log line), never a
crash, a hang or a read outside the root; and each limit is a setting.

YAML bombs and deep nesting run in a subprocess (`skill-lsp check`): a crash there (libyaml is C)
must fail the test, not kill the test run; the subprocess timeout is the hang guard.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from skill_lsp import discover
from skill_lsp.config import Settings
from skill_lsp.index import SkillIndex
from skill_lsp.model import Finding
from skill_lsp.rules import check_all
from skill_lsp.watch import Change, apply_changes

HANG_GUARD_S = 60  # subprocess cap: far above the second or so these need; only a hang reaches it
SECRET = "TOP-SECRET-7f3a9c-outside-the-root"

ALPHA = "skills/alpha/SKILL.md"
NOTES = "skills/alpha/notes.md"
BETA = "skills/beta/SKILL.md"


def skill_text(name: str, body: str = "") -> str:
    return (f"---\nname: {name}\ndescription: Use when testing {name} against hostile trees.\n---\n"
            f"# {name.title()}\n\nSee [the notes](notes.md).\n{body}")


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
    return root.resolve()


def small_tree(tmp_path: Path, extra: dict[str, str | bytes] | None = None) -> Path:
    files: dict[str, str | bytes] = {ALPHA: skill_text("alpha"), NOTES: "# Notes\n\nPlain notes.\n",
                                     BETA: skill_text("beta").replace("notes.md", "../alpha/notes.md")}
    files.update(extra or {})
    return write_tree(tmp_path / "tree", files)


def findings_of(ix: SkillIndex, path: Path | str, code: str | None = None) -> list[Finding]:
    return [f for f in check_all(ix) if f.path == str(path) and (code is None or f.code == code)]


def signature(ix: SkillIndex) -> list[tuple[str, str, int, int, str]]:
    return sorted((f.path, f.code, f.span.start_line, f.span.start_col, f.message) for f in check_all(ix))


def check_cli(root: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    proc = subprocess.run([sys.executable, "-m", "skill_lsp.cli", "check", str(root), "--format", "json", *extra],
                          capture_output=True, text=True, timeout=HANG_GUARD_S, cwd=str(root))
    assert proc.returncode in (0, 1), f"check crashed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc, json.loads(proc.stdout)


# --- size limit --------------------------------------------------------------------------------
BIG_BODY = "Padding words. " * 300  # ~4.5 KB


def test_a_file_over_the_size_limit_is_reported_and_not_parsed(tmp_path: Path) -> None:
    root = small_tree(tmp_path, {BETA: skill_text("beta", BIG_BODY)})
    ix = SkillIndex.from_roots([root], Settings(max_file_bytes=1000))
    [f] = findings_of(ix, root / BETA, "IO001")
    assert "1,000-byte limit" in f.message and "not parsed" in f.message
    assert str(root / BETA) not in ix.docs
    assert findings_of(ix, root / BETA) == [f]  # nothing else: the text was never read


def test_raising_the_size_limit_parses_the_file(tmp_path: Path) -> None:
    root = small_tree(tmp_path, {BETA: skill_text("beta", BIG_BODY)})
    ix = SkillIndex.from_roots([root])  # the default limit (2 MB) is well above it
    assert Settings().max_file_bytes >= 1_000_000
    assert not findings_of(ix, root / BETA, "IO001")
    assert str(root / BETA) in ix.docs


@pytest.mark.parametrize("config", [
    (".skill-lsp.toml", "max-file-bytes = 1000\n"),
    (".skill-lsp.toml", "maxFileBytes = 1000\n"),
    ("pyproject.toml", "[tool.skill-lsp]\nmax_file_bytes = 1000\n"),
])
def test_the_size_limit_is_read_from_the_tree_settings(tmp_path: Path, config: tuple[str, str]) -> None:
    root = small_tree(tmp_path, {BETA: skill_text("beta", BIG_BODY), config[0]: config[1]})
    proc, findings = check_cli(root)
    assert [f["code"] for f in findings if f["path"].endswith("beta/SKILL.md")] == ["IO001"], proc.stdout


def test_a_file_that_grows_over_the_limit_on_disk_is_reported_like_a_cold_index(tmp_path: Path) -> None:
    root = small_tree(tmp_path)
    settings = Settings(max_file_bytes=2000)
    ix = SkillIndex.from_roots([root], settings)
    (root / BETA).write_text(skill_text("beta", BIG_BODY), encoding="utf-8")
    apply_changes(ix, [Change("modified", str(root / BETA))])
    assert [f.code for f in findings_of(ix, root / BETA)] == ["IO001"]
    assert signature(ix) == signature(SkillIndex.from_roots([root], settings))
    (root / BETA).write_text(skill_text("beta"), encoding="utf-8")  # and back under it
    apply_changes(ix, [Change("modified", str(root / BETA))])
    assert str(root / BETA) in ix.docs
    assert signature(ix) == signature(SkillIndex.from_roots([root], settings))


# --- binary and non-UTF-8 ------------------------------------------------------------------------
@pytest.mark.parametrize("content", [
    b"\x00\x01\x02PNG-ish\x00" * 50,
    "---\nname: beta\n---\n# Beta\n".encode("utf-16"),  # UTF-16 with BOM: NUL bytes everywhere
    b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)),
])
def test_binary_files_are_reported_and_not_parsed(tmp_path: Path, content: bytes) -> None:
    root = small_tree(tmp_path, {BETA: content})
    ix = SkillIndex.from_roots([root])
    [f] = findings_of(ix, root / BETA, "IO002")
    assert "binary" in f.message
    assert str(root / BETA) not in ix.docs


def test_non_utf8_text_is_reported_and_read_with_replacement(tmp_path: Path) -> None:
    text = skill_text("beta", "Caf\u00e9 cr\u00e8me, na\u00efve.\n")
    root = small_tree(tmp_path, {BETA: text.encode("latin-1")})
    ix = SkillIndex.from_roots([root])
    [f] = findings_of(ix, root / BETA, "IO002")
    assert "UTF-8" in f.message and "byte" in f.message
    doc = ix.docs[str(root / BETA)]  # still indexed: names and links in it keep working
    assert "\ufffd" in doc.parsed.text and doc.parsed.fm_name() == "beta"


def test_a_bom_is_not_a_finding(tmp_path: Path) -> None:
    root = small_tree(tmp_path, {BETA: b"\xef\xbb\xbf" + skill_text("beta").encode()})
    ix = SkillIndex.from_roots([root])
    assert not findings_of(ix, root / BETA, "IO002")
    assert ix.docs[str(root / BETA)].parsed.fm_name() == "beta"


# --- YAML bombs and deep nesting -------------------------------------------------------------------
def _laughs(levels: int, width: int) -> str:
    lines = ["lol0: &lol0 " + json.dumps(["lol"] * width)]
    for i in range(1, levels):
        lines.append(f"lol{i}: &lol{i} [" + ", ".join([f"*lol{i - 1}"] * width) + "]")
    return "\n".join(lines)


YAML_BOMBS = {
    "billion laughs": (_laughs(9, 10), "aliases"),
    "wide laughs": (_laughs(4, 200), "aliases"),
    "alias in a key": ("a: &a [" + ", ".join(["x"] * 50) + "]\nb: &b {*a: 1, c: [*a, *a, *a]}\n"
                       + "\n".join(f"k{i}: [*b, *b, *b, *b, *b, *b, *b, *b]" for i in range(200)), "aliases"),
}
DEEP_YAML = {
    "40-deep flow sequence": ("a: " + "[" * 40 + "]" * 40, "deeper"),
    "30000-deep flow sequence": ("a: " + "[" * 30000 + "]" * 30000, "deeper"),
    "20000-deep flow mapping": ("a: " + "{a: " * 7000 + "1" + "}" * 7000, "deeper"),
    "30000-deep block sequence": ("a:\n" + "- " * 30000 + "x", "deeper"),
    "30000-deep complex keys": ("? " * 30000 + "x", "deeper"),
    "200-deep indented mappings": ("".join(" " * i + "k:\n" for i in range(200)) + " " * 200 + "k: v", "deeper"),
}


def _fm_tree(tmp_path: Path, yaml_text: str) -> Path:
    return small_tree(tmp_path, {BETA: f"---\n{yaml_text}\n---\n# Beta\n\nBody.\n"})


@pytest.mark.parametrize("name", list(YAML_BOMBS))
def test_yaml_alias_bombs_are_refused(tmp_path: Path, name: str) -> None:
    yaml_text, word = YAML_BOMBS[name]
    root = _fm_tree(tmp_path, yaml_text)
    _, findings = check_cli(root)
    fm = [f for f in findings if f["path"].endswith("beta/SKILL.md") and f["code"] == "FM002"]
    assert len(fm) == 1 and word in fm[0]["message"] and "refused" in fm[0]["message"], findings


@pytest.mark.parametrize("name", list(DEEP_YAML))
def test_deep_yaml_nesting_is_refused_not_a_crash(tmp_path: Path, name: str) -> None:
    yaml_text, word = DEEP_YAML[name]
    root = _fm_tree(tmp_path, yaml_text)
    _, findings = check_cli(root)
    fm = [f for f in findings if f["path"].endswith("beta/SKILL.md") and f["code"] == "FM002"]
    assert len(fm) == 1 and (word in fm[0]["message"] or "larger than" in fm[0]["message"]), findings


def test_a_bomb_in_one_skill_leaves_the_others_checked(tmp_path: Path) -> None:
    root = _fm_tree(tmp_path, _laughs(9, 10))
    ix = SkillIndex.from_roots([root])
    assert ix.docs[str(root / ALPHA)].parsed.fm_name() == "alpha"
    assert not findings_of(ix, root / ALPHA, "FM002")


# --- every limit is a setting ---------------------------------------------------------------------
# The issue asks that every limit be a setting with a default. These are the front-matter limits
# (frontmatter.MAX_DEPTH, MAX_NODES, MAX_FRONT_MATTER_CHARS today: module constants).
LIMIT_SETTINGS = {
    "yaml-max-depth": ("a: " + "[" * 5 + "]" * 5, 3, "deeper"),
    "yaml-max-nodes": ("a: [" + ", ".join(["x"] * 40) + "]", 10, "nodes"),
    "front-matter-max-chars": ("description: " + "x" * 400, 100, "larger than"),
}


@pytest.mark.parametrize("name", list(LIMIT_SETTINGS))
def test_each_front_matter_limit_is_a_setting(tmp_path: Path, name: str) -> None:
    yaml_text, low, word = LIMIT_SETTINGS[name]
    root = _fm_tree(tmp_path, yaml_text)
    proc, findings = check_cli(root)
    assert not [f for f in findings if f["code"] == "FM002"], "under the default limit it parses"
    (root / ".skill-lsp.toml").write_text(f"{name} = {low}\n", encoding="utf-8")
    proc, findings = check_cli(root)
    assert "unknown setting" not in proc.stderr, f"`{name}` is not a setting: {proc.stderr}"
    fm = [f for f in findings if f["code"] == "FM002"]
    assert len(fm) == 1 and word in fm[0]["message"], findings


# --- symlinks ------------------------------------------------------------------------------------
@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the root holding a secret, which nothing may read through the tree."""
    out = tmp_path / "outside"
    (out / "skills" / "stolen").mkdir(parents=True)
    (out / "secret.md").write_text(f"# Secret\n\n{SECRET}\n", encoding="utf-8")
    (out / "skills" / "stolen" / "SKILL.md").write_text(
        f"---\nname: stolen\ndescription: Use when {SECRET}\n---\n{SECRET}\n", encoding="utf-8")
    return out.resolve()


def assert_no_secret(ix: SkillIndex) -> None:
    for path, doc in ix.docs.items():
        assert SECRET not in doc.parsed.text, f"{path} holds text from outside the root"
    for f in check_all(ix):
        assert SECRET not in f.message


def test_symlinks_leaving_the_root_are_reported_and_not_followed(tmp_path: Path, outside: Path) -> None:
    root = small_tree(tmp_path)
    (root / "skills/alpha/secret.md").symlink_to(outside / "secret.md")
    (root / "skills/stolen").symlink_to(outside / "skills/stolen", target_is_directory=True)
    (root / "skills/abs").symlink_to("/etc", target_is_directory=True)
    ix = SkillIndex.from_roots([root])
    assert_no_secret(ix)
    for link in ("skills/alpha/secret.md", "skills/stolen", "skills/abs"):
        codes = [f.code for f in findings_of(ix, root / link)]
        assert codes == ["IO004"], (link, codes)
    assert not any(p.startswith(str(outside)) or p.startswith("/etc") for p in ix.files)
    assert "stolen" not in {s.name for s in ix.skills.values()}


def test_symlink_loops_are_reported_and_walked_once(tmp_path: Path) -> None:
    root = small_tree(tmp_path)
    (root / "skills/alpha/up").symlink_to(root / "skills", target_is_directory=True)
    (root / "skills/beta/self").symlink_to(root / "skills/beta", target_is_directory=True)
    ix = SkillIndex.from_roots([root])
    assert sorted(s.name for s in ix.skills.values()) == ["alpha", "beta"]
    problems = {f.path: f.code for f in check_all(ix) if f.code == "IO004"}
    assert problems == {str(root / "skills/alpha/up"): "IO004", str(root / "skills/beta/self"): "IO004"}


def test_self_referencing_symlinks_are_reported(tmp_path: Path) -> None:
    """`a -> a` and `b -> c -> b` cannot even be stat'ed (ELOOP): a loop all the same."""
    root = small_tree(tmp_path)
    (root / "skills/alpha/me.md").symlink_to("me.md")
    (root / "skills/alpha/ping.md").symlink_to("pong.md")
    (root / "skills/alpha/pong.md").symlink_to("ping.md")
    ix = SkillIndex.from_roots([root])
    assert sorted(s.name for s in ix.skills.values()) == ["alpha", "beta"]
    looped = sorted(os.path.basename(f.path) for f in check_all(ix) if f.code == "IO004")
    assert looped == ["me.md", "ping.md", "pong.md"]


def test_a_symlink_out_created_after_indexing_is_not_followed(tmp_path: Path, outside: Path) -> None:
    root = small_tree(tmp_path)
    ix = SkillIndex.from_roots([root])
    (root / "skills/alpha/secret.md").symlink_to(outside / "secret.md")
    (root / "skills/stolen").symlink_to(outside / "skills/stolen", target_is_directory=True)
    apply_changes(ix, [Change("created", str(root / "skills/alpha/secret.md")),
                       Change("created", str(root / "skills/stolen"), is_dir=True),
                       Change("created", str(outside / "secret.md")),  # not ours: outside the root
                       Change("modified", str(root / "skills/stolen/SKILL.md"))])
    assert_no_secret(ix)
    assert signature(ix) == signature(SkillIndex.from_roots([root]))


def test_editor_updates_and_removals_outside_the_roots_are_ignored(tmp_path: Path, outside: Path) -> None:
    root = small_tree(tmp_path)
    ix = SkillIndex.from_roots([root])
    before = signature(ix)
    assert ix.update(str(outside / "secret.md"), f"# x\n{SECRET}\n") == set()
    assert ix.update(str(root / ".." / "outside" / "skills" / "stolen" / "SKILL.md"), SECRET) == set()
    assert ix.remove(str(outside)) == set()
    assert ix.remove("/") == set()
    assert_no_secret(ix)
    assert signature(ix) == before


# --- special files, permissions, vanishing files ------------------------------------------------------
def test_fifos_and_sockets_named_like_skills_do_not_block_the_walk(tmp_path: Path) -> None:
    """Opening a FIFO blocks until someone writes: the walk must never open one."""
    root = small_tree(tmp_path)
    os.mkfifo(root / "skills/alpha/pipe.md")
    (root / "skills/gamma").mkdir()
    os.mkfifo(root / "skills/gamma/SKILL.md")
    proc, findings = check_cli(root)  # the subprocess timeout is the hang guard
    assert not [f for f in findings if "pipe.md" in f["path"] and f["code"] not in ("IO003", "IO002")]


def test_unreadable_files_are_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """EACCES on read. As root, chmod 000 does not stop reads, so the refusal is injected at `open`
    (discover's own name for it); as any other user, the real chmod is used as well."""
    root = small_tree(tmp_path)
    target = str(root / BETA)
    if os.geteuid() != 0:
        os.chmod(target, 0)
    else:
        real_open = open

        def refusing_open(path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
            if os.fspath(path) == target:
                raise PermissionError(errno.EACCES, "Permission denied", target)
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(discover, "open", refusing_open, raising=False)
    try:
        ix = SkillIndex.from_roots([root])
    finally:
        os.chmod(target, 0o644)
    [f] = findings_of(ix, target, "IO003")
    assert "Permission denied" in f.message
    assert str(root / ALPHA) in ix.docs


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and lists folders whatever their mode")
def test_an_unlistable_folder_is_a_finding(tmp_path: Path) -> None:
    root = small_tree(tmp_path)
    os.chmod(root / "skills/beta", 0)
    try:
        ix = SkillIndex.from_roots([root])
    finally:
        os.chmod(root / "skills/beta", 0o755)
    assert [f.code for f in findings_of(ix, root / "skills/beta")] == ["IO003"]


class Listing(list):
    """What os.scandir returns, already read: iterable and usable in `with`."""

    def __enter__(self) -> Listing:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def close(self) -> None:
        pass


def test_files_vanishing_between_listing_and_reading_are_not_a_crash(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk lists a folder, then the file (and a whole folder) is deleted before it is read."""
    root = small_tree(tmp_path, {"skills/gamma/SKILL.md": skill_text("gamma"),
                                 "skills/gamma/deep/more.md": "# More\n"})
    real_scandir = os.scandir
    doomed = {str(root / "skills/alpha"): root / NOTES, str(root / "skills"): root / "skills/gamma"}

    def scandir_then_delete(path):  # noqa: ANN001, ANN202
        if isinstance(path, int):  # shutil.rmtree lists by file descriptor
            return real_scandir(path)
        entries = list(real_scandir(path))
        victim = doomed.pop(os.fspath(path), None)
        if victim is not None:
            if victim.is_dir():
                shutil.rmtree(victim)
            else:
                victim.unlink()
        return Listing(entries)

    monkeypatch.setattr(discover.os, "scandir", scandir_then_delete)
    ix = SkillIndex.from_roots([root])
    monkeypatch.undo()
    assert not doomed, "the walk listed both folders"
    assert str(root / ALPHA) in ix.docs and str(root / BETA) in ix.docs
    for f in check_all(ix):
        assert f.code != "IO003" or "No such file" in f.message
    # once the watcher reports the deletions, the index is the same as a cold one
    apply_changes(ix, [Change("deleted", str(root / NOTES)), Change("deleted", str(root / "skills/gamma"),
                                                                    is_dir=True)])
    assert signature(ix) == signature(SkillIndex.from_roots([root]))


def test_a_file_vanishing_before_the_watcher_reads_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = small_tree(tmp_path)
    ix = SkillIndex.from_roots([root])
    new = root / "skills/alpha/fresh.md"
    new.write_text("# Fresh\n", encoding="utf-8")
    real_stat = os.stat
    gone: list[str] = []

    def stat_then_gone(path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        result = real_stat(path, *args, **kwargs)
        if not gone and not isinstance(path, int) and os.fspath(path) == str(new):
            gone.append(str(new))
            os.unlink(new)
        return result

    monkeypatch.setattr(discover.os, "stat", stat_then_gone)
    apply_changes(ix, [Change("created", str(new))])
    monkeypatch.undo()
    assert gone, "the watcher read the new file"
    apply_changes(ix, [Change("deleted", str(new))])
    assert signature(ix) == signature(SkillIndex.from_roots([root]))


def test_a_removed_symlink_takes_its_finding_with_it(tmp_path: Path, outside: Path) -> None:
    root = small_tree(tmp_path)
    link = root / "skills/alpha/secret.md"
    link.symlink_to(outside / "secret.md")
    ix = SkillIndex.from_roots([root])
    assert [f.code for f in findings_of(ix, link)] == ["IO004"]
    link.unlink()
    apply_changes(ix, [Change("deleted", str(link))])
    assert findings_of(ix, link) == []
    assert signature(ix) == signature(SkillIndex.from_roots([root]))


@pytest.mark.parametrize("how", ["watcher", "editor"])
def test_a_symlink_replaced_by_a_real_file_loses_its_finding(tmp_path: Path, outside: Path, how: str) -> None:
    """A file becomes a link out (the watcher sees it), then a real file again (an editor saves it)."""
    root = small_tree(tmp_path)
    notes = root / NOTES
    ix = SkillIndex.from_roots([root])
    notes.unlink()
    notes.symlink_to(outside / "secret.md")
    apply_changes(ix, [Change("modified", str(notes))])
    assert [f.code for f in findings_of(ix, notes)] == ["IO004"]
    notes.unlink()
    notes.write_text("# Notes\n\nA real file again.\n", encoding="utf-8")
    if how == "watcher":
        apply_changes(ix, [Change("created", str(notes))])
    else:
        ix.update(str(notes), notes.read_text(encoding="utf-8"))
    assert findings_of(ix, notes, "IO004") == []
    assert signature(ix) == signature(SkillIndex.from_roots([root]))
