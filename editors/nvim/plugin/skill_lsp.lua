-- Loaded at startup once editors/nvim is on the runtimepath (lazy.nvim `dir`, or `set rtp+=`).
-- Registers :SkillRoute and enables the server for Markdown inside skill trees. Set
-- `vim.g.skill_lsp_autoenable = false` before this runs to enable it yourself (setup()).

if vim.g.loaded_skill_lsp then
  return
end
vim.g.loaded_skill_lsp = true

if vim.fn.has('nvim-0.11') == 0 then
  vim.notify_once('skill_lsp needs Neovim 0.11 or newer (vim.lsp.config)', vim.log.levels.WARN)
  return
end

require('skill_lsp')._register()

if vim.g.skill_lsp_autoenable ~= false then
  -- Cheap: only registers a FileType autocmd; the server starts on the first skill-tree buffer.
  vim.lsp.enable('skill_lsp')
end
