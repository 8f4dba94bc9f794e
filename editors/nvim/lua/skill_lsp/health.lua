-- :checkhealth skill_lsp

local M = {}

local health = vim.health

local function check_nvim()
  local v = vim.version()
  local text = ('Neovim %d.%d.%d'):format(v.major, v.minor, v.patch)
  if vim.fn.has('nvim-0.11') == 1 then
    health.ok(text)
  else
    health.error(text .. ' is too old', { 'skill_lsp uses vim.lsp.config, new in Neovim 0.11' })
  end
end

--- @return string[]? cmd
local function check_executable()
  local config = vim.lsp.config.skill_lsp
  if not config then
    health.error('no config named skill_lsp', { 'Add editors/nvim to the runtimepath' })
    return nil
  end
  local cmd = config.cmd
  if type(cmd) == 'function' then
    health.info('cmd is a function (custom transport); executable not checked')
    return nil
  end
  if type(cmd) ~= 'table' or not cmd[1] then
    health.error('cmd is not set', { "require('skill_lsp').setup({ cmd = { 'skill-lsp', 'serve' } })" })
    return nil
  end
  local exe = vim.fn.exepath(cmd[1])
  if exe == '' then
    health.error(('%s is not executable'):format(cmd[1]), {
      'pip install skill-lsp (or pipx install skill-lsp)',
      "or point at it: require('skill_lsp').setup({ cmd = { '/path/to/skill-lsp', 'serve' } })",
    })
    return nil
  end
  health.ok(('executable: %s (cmd: %s)'):format(exe, table.concat(cmd, ' ')))
  return { exe }
end

--- @param exe string
local function check_version(exe)
  local ok, result = pcall(function()
    return vim.system({ exe, '--version' }, { text = true }):wait(15000)
  end)
  if not ok then
    health.error(('%s --version could not run: %s'):format(exe, result))
  elseif result.code ~= 0 then
    local detail = vim.trim((result.stderr or '') .. (result.stdout or ''))
    health.error(('%s --version exited with %s'):format(exe, tostring(result.code)), { detail })
  else
    health.ok('server: ' .. vim.trim(result.stdout ~= '' and result.stdout or result.stderr))
  end
end

local function check_clients()
  if not vim.lsp.is_enabled('skill_lsp') then
    health.warn('skill_lsp is not enabled', {
      "require('skill_lsp').setup() or vim.lsp.enable('skill_lsp')",
    })
  end
  local clients = vim.lsp.get_clients({ name = 'skill_lsp' })
  if #clients == 0 then
    health.warn('no skill_lsp client is running', {
      'Open SKILL.md (or any Markdown file) inside a folder with .claude-plugin/, plugins/, skills/ or SKILL.md',
    })
    return
  end
  for _, client in ipairs(clients) do
    local bufs = vim.tbl_keys(client.attached_buffers)
    local status = require('skill_lsp').status(client.id)
    local status_text = status
        and (' — %s, %d skills, %d sheets'):format(status.state, status.skills or 0, status.sheets or 0)
      or ''
    health.ok(
      ('client %d attached to %d buffer(s), root %s%s'):format(
        client.id,
        #bufs,
        client.root_dir or '(none)',
        status_text
      )
    )
  end
end

function M.check()
  health.start('skill_lsp')
  check_nvim()
  local exe = check_executable()
  if exe then
    check_version(exe[1])
  end
  check_clients()
end

return M
