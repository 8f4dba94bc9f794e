-- skill-lsp for Neovim 0.11+: setup(), :SkillRoute and a status line helper.
-- The server config itself lives in lsp/skill_lsp.lua (found by vim.lsp.config on the rtp).

local M = {}

M.name = 'skill_lsp'

--- Latest `skills/status` per client id (see lsp/skill_lsp.lua's handler).
--- @type table<integer, {state: string, skills: integer, sheets: integer, roots: integer}>
local statuses = {}

--- Configure and enable the server. `opts` are vim.lsp.Config fields merged over the defaults
--- of lsp/skill_lsp.lua, e.g. { cmd = { '/path/skill-lsp', 'serve' },
--- settings = { skillLsp = { severity = { FM007 = 'off' } } } }.
--- @param opts? vim.lsp.Config
function M.setup(opts)
  opts = opts or {}
  vim.validate('opts', opts, 'table')
  if next(opts) ~= nil then
    vim.lsp.config(M.name, opts)
  end
  vim.lsp.enable(M.name)
end

--- One skill_lsp client for the current buffer: the one attached to it, else any running one.
--- @param bufnr? integer
--- @return vim.lsp.Client?
function M.client(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local attached = vim.lsp.get_clients({ name = M.name, bufnr = bufnr })
  if attached[1] then
    return attached[1]
  end
  return vim.lsp.get_clients({ name = M.name })[1]
end

--- Shorten `text` to one line of at most `max` characters.
--- @param text string
--- @param max integer
local function one_line(text, max)
  text = type(text) == 'string' and text:gsub('%s+', ' ') or '' -- JSON null arrives as vim.NIL
  if vim.fn.strchars(text) > max then
    text = vim.fn.strcharpart(text, 0, max - 1) .. '…'
  end
  return text
end

--- How a route result reads in the picker: name — description — route.
--- @param item {name: string, description?: string, kind?: string, route?: string[], id?: string}
--- @return string
function M.format_result(item)
  local route = item.route or {}
  local path = #route > 0 and table.concat(route, ' → ') or (item.id or item.name)
  local description = one_line(item.description, 80)
  if description == '' then
    -- Sheets often have no description; say what the item is instead.
    description = '(' .. (type(item.kind) == 'string' and item.kind or 'no description') .. ')'
  end
  return ('%s — %s — %s'):format(item.name, description, path)
end

--- Open a result's file the way go-to-definition does (jumplist and tagstack entry, so <C-o>
--- returns), which also works when the current buffer has unsaved changes and 'nohidden' is set.
--- @param item {uri: string}
--- @param position_encoding? string
function M.open_result(item, position_encoding)
  local uri = item.uri:gsub('#.*$', '') -- a sheet's uri may carry an anchor
  vim.lsp.util.show_document({ uri = uri }, position_encoding or 'utf-16', { focus = true })
end

--- Ask the server which skills fit `task`, then let the user pick one to open.
--- @param task string
--- @param opts? {limit?: integer, bufnr?: integer}
function M.route(task, opts)
  opts = opts or {}
  task = vim.trim(task or '')
  if task == '' then
    vim.ui.input({ prompt = 'Task: ' }, function(input)
      if input and vim.trim(input) ~= '' then
        M.route(input, opts)
      end
    end)
    return
  end
  local bufnr = opts.bufnr or vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then
    vim.notify(
      'skill-lsp is not running: open a Markdown file of a skill tree first (see :checkhealth skill_lsp)',
      vim.log.levels.WARN
    )
    return
  end
  local params = { query = task, limit = opts.limit or 10 }
  client:request('skills/route', params, function(err, result)
    if err then
      vim.notify('skills/route failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
      return
    end
    local results = (result or {}).results or {}
    if #results == 0 then
      vim.notify('No skill matches: ' .. task, vim.log.levels.INFO)
      return
    end
    local prompt = result.confident == false and 'Skills (low confidence)' or 'Skills'
    vim.ui.select(results, {
      prompt = prompt .. ' for "' .. one_line(task, 40) .. '"',
      kind = 'skill_lsp.route',
      format_item = M.format_result,
    }, function(choice)
      if choice then
        M.open_result(choice, client.offset_encoding)
      end
    end)
  end, bufnr)
end

--- Status line text, e.g. "skills: 42 (indexing)"; empty without a running client.
--- @return string
function M.statusline()
  local client = M.client()
  local status = client and statuses[client.id]
  if not status then
    return ''
  end
  local text = ('skills: %d'):format(status.skills or 0)
  if status.state ~= 'ready' then
    text = text .. ' (' .. tostring(status.state) .. ')'
  end
  return text
end

--- @param client_id integer
function M.status(client_id)
  return statuses[client_id]
end

-- Called once from plugin/skill_lsp.lua.
function M._register()
  local group = vim.api.nvim_create_augroup('skill_lsp', { clear = true })
  vim.api.nvim_create_autocmd('User', {
    group = group,
    pattern = 'SkillLspStatus',
    callback = function(ev)
      statuses[ev.data.client_id] = ev.data.status
      vim.cmd.redrawstatus({ bang = true })
    end,
  })
  vim.api.nvim_create_user_command('SkillRoute', function(cmd)
    M.route(cmd.args)
  end, {
    nargs = '*',
    desc = 'skill-lsp: find the skill for a task and open it',
  })
end

return M
