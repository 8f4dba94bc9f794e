"""skill-lsp: a language server, linter and router for agent skill trees."""

__version__ = "0.1.0"
