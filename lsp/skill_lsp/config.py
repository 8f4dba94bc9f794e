"""Settings: `[tool.skill-lsp]` in pyproject.toml or `.skill-lsp.toml`, overridden by the client.

Bad settings never stop the tool: each one is reported and its default kept.
"""

from __future__ import annotations

import os
import tomllib
from typing import Any

import attrs
import cattrs

from .frontmatter import Limits
from .model import Severity

SEVERITY_NAMES = {
    "error": Severity.ERROR, "warning": Severity.WARNING, "warn": Severity.WARNING,
    "information": Severity.INFORMATION, "info": Severity.INFORMATION, "hint": Severity.HINT,
}
KEY_POLICIES = ("claude-code", "portable")
DEFAULT_USE_WHEN = (
    r"\buse (?:this skill |it |this )?(?:when|whenever|for|to|if|before|after|during|on)\b|"
    r"\bwhen (?:you|the user|users|a user|claude|working|asked|building|creating|writing)\b|"
    r"\btriggers? (?:on|when|for)\b|\binvoke (?:when|for)\b|\bapply when\b|\bfor (?:when|tasks|use)\b"
)


@attrs.define
class Settings:
    severity: dict[str, str] = attrs.field(factory=dict)  # CODE -> error|warning|information|hint|off
    disable: list[str] = attrs.field(factory=list)
    ignore: list[str] = attrs.field(factory=list)
    key_policy: str = "claude-code"
    use_when_pattern: str = DEFAULT_USE_WHEN
    word_budget: int | None = None
    line_budget: int = 500
    token_budget: int = 5000
    description_limit: int = 1024
    listing_limit: int = 1536
    max_file_bytes: int = 2_000_000
    debounce_ms: int = 150
    # RB checks ask the router where each routing phrase would go: worth it while writing a
    # router, too slow and too chatty for every CI run, so they are opt-in.
    routability: bool = False
    yaml_max_depth: int = 32
    yaml_max_nodes: int = 20_000
    front_matter_max_chars: int = 64_000

    def limits(self) -> Limits:
        return Limits(self.yaml_max_depth, self.yaml_max_nodes, self.front_matter_max_chars)

    def severity_of(self, code: str, default: Severity) -> Severity | None:
        """The severity to report `code` with, or None when the rule is off."""
        if code in self.disable:
            return None
        level = self.severity.get(code)
        if level is None:
            return default
        if level == "off":
            return None
        return SEVERITY_NAMES.get(level, default)


attrs.resolve_types(Settings)
_conv = cattrs.Converter()
_ALIASES = {
    "keyPolicy": "key_policy", "key-policy": "key_policy", "wordBudget": "word_budget",
    "word-budget": "word_budget", "lineBudget": "line_budget", "line-budget": "line_budget",
    "tokenBudget": "token_budget", "token-budget": "token_budget", "useWhenPattern": "use_when_pattern",
    "use-when-pattern": "use_when_pattern", "descriptionLimit": "description_limit",
    "description-limit": "description_limit", "maxFileBytes": "max_file_bytes",
    "max-file-bytes": "max_file_bytes", "debounceMs": "debounce_ms", "debounce-ms": "debounce_ms",
    "listingLimit": "listing_limit", "listing-limit": "listing_limit",
    "yamlMaxDepth": "yaml_max_depth", "yamlMaxNodes": "yaml_max_nodes",
    "frontMatterMaxChars": "front_matter_max_chars",
}


def settings_from(raw: dict[str, Any] | None, base: Settings | None = None) -> tuple[Settings, list[str]]:
    """Merge `raw` over `base`; return the settings and one message per value that was refused."""
    base = base or Settings()
    if not raw:
        return base, []
    errors: list[str] = []
    values = attrs.asdict(base)
    fields = {f.name: f for f in attrs.fields(Settings)}
    for key, value in raw.items():
        name = _ALIASES.get(key, key.replace("-", "_"))
        if name not in fields:
            if key not in ("trace", "server"):
                errors.append(f"unknown setting `{key}` ignored")
            continue
        try:
            values[name] = _conv.structure(value, fields[name].type)
        except Exception as exc:  # cattrs raises several kinds
            errors.append(f"setting `{key}` has a bad value ({value!r}): {type(exc).__name__}")
    settings = Settings(**values)
    if settings.key_policy not in KEY_POLICIES:
        errors.append(f"keyPolicy must be one of {', '.join(KEY_POLICIES)}; using claude-code")
        settings.key_policy = "claude-code"
    for code, level in list(settings.severity.items()):
        if level != "off" and level not in SEVERITY_NAMES:
            errors.append(f"severity of {code} must be error, warning, information, hint or off")
            del settings.severity[code]
    return settings, errors


def load_settings(root: str, base: Settings | None = None) -> tuple[Settings, list[str]]:
    """Settings of one root from `.skill-lsp.toml` or `[tool.skill-lsp]` in `pyproject.toml`."""
    for name in (".skill-lsp.toml", "pyproject.toml"):
        path = os.path.join(root, name)
        if not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            return base or Settings(), [f"{name}: {exc}"]
        section = data if name == ".skill-lsp.toml" else data.get("tool", {}).get("skill-lsp")
        if section is None:
            continue
        settings, errors = settings_from(section, base)
        return settings, [f"{name}: {e}" for e in errors]
    return base or Settings(), []
