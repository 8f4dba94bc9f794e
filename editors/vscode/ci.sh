#!/usr/bin/env bash
# Build, package and test the VS Code extension. Called by the repository's CI; exits non-zero
# on the first failure. The end-to-end test needs the server: SKILL_LSP_SERVER, the
# repository's .venv/bin/skill-lsp, or skill-lsp on PATH.
set -euo pipefail
cd "$(dirname "$0")"

npm ci --no-audit --no-fund
npm run compile
npm run package
npm test
