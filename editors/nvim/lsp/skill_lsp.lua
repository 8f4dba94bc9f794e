-- Neovim 0.11+ config for skill-lsp, picked up by name from the runtimepath:
--   vim.lsp.config('skill_lsp', { ... })  -- optional overrides
--   vim.lsp.enable('skill_lsp')
-- This file deliberately requires nothing from lua/skill_lsp so it can also be copied alone
-- into ~/.config/nvim/lsp/.

local uv = vim.uv

--- @param path string
--- @return uv.fs_stat.result?
local function stat(path)
  return uv.fs_stat(path)
end

--- @param path string
local function is_dir(path)
  local s = stat(path)
  return s ~= nil and s.type == 'directory'
end

--- @param path string
local function is_file(path)
  local s = stat(path)
  return s ~= nil and s.type == 'file'
end

--- True when `path` lies strictly inside `dir`.
--- @param path string
--- @param dir string
local function inside(path, dir)
  return path:sub(1, #dir + 1) == dir .. '/'
end

-- Ranks of the folder kinds a skill tree can start at. A higher rank is a wider, better root:
-- a marketplace holds plugins, a plugin holds skills, a `skills/` folder holds skill folders.
local RANK_SKILL_DIR = 1 -- a folder holding SKILL.md (a lone skill)
local RANK_SKILLS_PARENT = 2 -- a folder whose `skills/` (or `.claude/skills` ...) holds the buffer
local RANK_PLUGIN = 3 -- a folder with `.claude-plugin/`
local RANK_MARKETPLACE = 4 -- a folder whose `plugins/` holds the buffer, or with marketplace.json

--- Rank `dir` as the root of the skill tree that holds `file` (0: not a root).
--- @param dir string
--- @param file string absolute, normalized path of the buffer
--- @param start string the buffer's own folder
--- @return integer
local function rank(dir, file, start)
  -- Markers only count when the buffer lies under them (or is a top-level doc of that folder):
  -- an unrelated `plugins/` or `skills/` folder higher up must not swallow a whole home tree.
  local top_level = dir == start
  if is_file(dir .. '/.claude-plugin/marketplace.json') then
    return RANK_MARKETPLACE
  end
  if is_dir(dir .. '/plugins') and (top_level or inside(file, dir .. '/plugins')) then
    return RANK_MARKETPLACE
  end
  if is_dir(dir .. '/.claude-plugin') then
    return RANK_PLUGIN
  end
  if is_dir(dir .. '/skills') and (top_level or inside(file, dir .. '/skills')) then
    return RANK_SKILLS_PARENT
  end
  if is_file(dir .. '/SKILL.md') then
    return RANK_SKILL_DIR
  end
  return 0
end

--- The root of the skill tree holding `file`, or nil when `file` is not in one.
--- Walks upward from the file; stops at the repository boundary (`.git`), at a marketplace,
--- and never climbs to the home folder or `/` (serving a whole home folder is never meant).
--- @param file string
--- @return string?
local function skill_tree_root(file)
  file = vim.fs.normalize(vim.fn.fnamemodify(file, ':p'))
  local start = vim.fs.dirname(file)
  local home = vim.fs.normalize(uv.os_homedir() or '')
  local best, best_rank = nil, 0
  local dirs = { start }
  for parent in vim.fs.parents(start) do
    dirs[#dirs + 1] = parent
  end
  for _, dir in ipairs(dirs) do
    if dir == home or dir == '/' then
      break
    end
    local r = rank(dir, file, start)
    if r > best_rank then
      best, best_rank = dir, r
    end
    if r == RANK_MARKETPLACE or vim.uv.fs_stat(dir .. '/.git') then
      break
    end
  end
  return best
end

--- @type vim.lsp.Config
return {
  cmd = { 'skill-lsp', 'serve' },
  filetypes = { 'markdown' },
  -- File explorers (oil.nvim, snacks.nvim, nvim-tree with nvim-lsp-file-operations) ask the
  -- server for the link edits before they rename or move a file; Neovim itself does not declare
  -- that it can, and the server offers it only to clients that do.
  capabilities = { workspace = { fileOperations = { willRename = true } } },

  --- Attach only to Markdown inside a skill tree; other Markdown buffers get no client.
  --- @param bufnr integer
  --- @param on_dir fun(root_dir?: string)
  root_dir = function(bufnr, on_dir)
    local name = vim.api.nvim_buf_get_name(bufnr)
    if name == '' or vim.bo[bufnr].buftype ~= '' then
      return
    end
    local root = skill_tree_root(name)
    if root then
      on_dir(root)
    end
  end,

  -- Answered to the server's workspace/configuration requests (section "skillLsp").
  -- Keys: severity = { RT001 = 'error'|'warning'|'information'|'hint'|'off', ... },
  -- wordBudget = integer|nil, keyPolicy = 'claude-code'|'portable', ignore = { glob, ... }.
  settings = { skillLsp = vim.empty_dict() },
  init_options = vim.empty_dict(),

  --- Send the settings at startup too, so the first diagnostics already honour them.
  --- @param params lsp.InitializeParams
  --- @param config vim.lsp.ClientConfig
  before_init = function(params, config)
    config.settings = config.settings or {}
    local settings = config.settings.skillLsp or {}
    -- An empty Lua table encodes as a JSON array; the server expects objects.
    if next(settings) == nil then
      config.settings.skillLsp = vim.empty_dict()
    end
    local merged = vim.tbl_deep_extend('force', {}, settings, config.init_options or {})
    params.initializationOptions = next(merged) and merged or vim.empty_dict()
  end,

  -- The command of the server's code lenses ("3 references · routed from using-kitchen"): the
  -- references into the quickfix list. Lenses are asked for on attach and as the buffer changes.
  commands = {
    ['skill-lsp.showReferences'] = function(command, ctx)
      local client = vim.lsp.get_client_by_id(ctx.client_id)
      local locations = (command.arguments or {})[3] or {}
      local items = vim.lsp.util.locations_to_items(locations, client and client.offset_encoding or 'utf-16')
      vim.fn.setqflist({}, ' ', { title = command.title, items = items })
      vim.cmd('botright copen')
    end,
  },

  --- @param client vim.lsp.Client
  --- @param bufnr integer
  on_attach = function(client, bufnr)
    if not client:supports_method('textDocument/codeLens') then
      return
    end
    vim.lsp.codelens.refresh({ bufnr = bufnr })
    vim.api.nvim_create_autocmd({ 'BufEnter', 'InsertLeave', 'TextChanged' }, {
      buffer = bufnr,
      group = vim.api.nvim_create_augroup('skill_lsp_codelens_' .. bufnr, { clear = true }),
      callback = function()
        vim.lsp.codelens.refresh({ bufnr = bufnr })
      end,
    })
  end,

  handlers = {
    -- Indexing progress; re-broadcast as `User SkillLspStatus` for statuslines.
    ['skills/status'] = function(_, result, ctx)
      vim.api.nvim_exec_autocmds('User', {
        pattern = 'SkillLspStatus',
        modeline = false,
        data = { client_id = ctx.client_id, status = result },
      })
    end,
  },
}
