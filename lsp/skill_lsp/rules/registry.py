"""Every rule: a stable code, a default severity, a one-line summary, and why with a bad/good example.

Codes are a contract: never reuse or renumber one. Families: FM front matter and names, LK paths and
anchors, RT routes, BG budgets, MD Markdown structure, RB routability, PL plugin manifests,
IO files that cannot be read.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Severity

E, W, I, H = Severity.ERROR, Severity.WARNING, Severity.INFORMATION, Severity.HINT  # noqa: E741 - short columns below
DOCS_URL = "https://github.com/skill-lsp/skill-lsp/blob/main/docs/rules.md#"  # docs/rules.md in this repo


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str
    why: str
    bad: str
    good: str

    @property
    def url(self) -> str:
        return DOCS_URL + self.code.lower()


RULES: tuple[Rule, ...] = (
    Rule("FM001", "missing-front-matter", E, "SKILL.md has no YAML front matter",
         "Agents discover a skill by its front matter; without it the skill has no name or description.",
         "# My skill\n", "---\nname: my-skill\ndescription: Use when ...\n---\n# My skill\n"),
    Rule("FM002", "invalid-yaml", E, "front matter YAML does not parse",
         "Claude Code loads a skill whose YAML fails with empty metadata, silently.",
         "description: Use when: the build fails\n", 'description: "Use when: the build fails"\n'),
    Rule("FM003", "missing-name", E, "front matter has no `name`",
         "The name is how routers and users invoke the skill.", "description: Use when ...\n",
         "name: my-skill\ndescription: Use when ...\n"),
    Rule("FM004", "invalid-name", E, "name is not lowercase letters, digits and single hyphens (max 64)",
         "The spec allows only this form; other names fail to load on some agents.",
         "name: My_Skill\n", "name: my-skill\n"),
    Rule("FM005", "name-folder-mismatch", W, "name differs from its folder",
         "The spec asks the name to equal the folder; plugins sometimes differ on purpose, so a warning.",
         "skills/pdf-tools/SKILL.md with name: pdf\n", "skills/pdf/SKILL.md with name: pdf\n"),
    Rule("FM006", "missing-description", E, "front matter has no `description`",
         "The description is all an agent reads before deciding to load the skill.",
         "name: my-skill\n", "name: my-skill\ndescription: Use when ...\n"),
    Rule("FM007", "description-no-trigger", W, "description does not say when to use the skill",
         "Agents pick skills from the description; a 'Use when ...' clause is what they match against.",
         "description: Helpers for PDFs.\n", "description: Use when filling or merging PDF forms.\n"),
    Rule("FM008", "description-too-long", E, "description is longer than the limit (1024 characters)",
         "The spec caps descriptions at 1024 characters; longer ones are cut or refused.",
         "description: <1,500 characters>\n", "description: <one or two sentences>\n"),
    Rule("FM009", "unknown-key", W, "front-matter key is not in the key policy",
         "Unknown keys are ignored by agents, usually a typo of a real key.",
         "descripton: Use when ...\n", "description: Use when ...\n"),
    Rule("FM010", "bad-value-type", E, "front-matter value has the wrong type",
         "A name or description that is not a string is dropped by agents.",
         "name: [a, b]\n", "name: a\n"),
    Rule("FM011", "lowercase-skill-file", W, "skill file is not named exactly SKILL.md",
         "Agents look for SKILL.md; `skill.md` is found on macOS but not on Linux.",
         "my-skill/skill.md\n", "my-skill/SKILL.md\n"),
    Rule("FM012", "listing-too-long", I, "description plus when_to_use exceed Claude Code's listing cap",
         "Claude Code cuts description plus when_to_use at 1,536 characters in its skill listing.",
         "description: <1,200 chars>\nwhen_to_use: <600 chars>\n", "description: <short>\n"),
    Rule("FM013", "duplicate-name", E, "two skills share a name in one scope",
         "A router or user naming it reaches one of them by chance.",
         "a/SKILL.md and b/SKILL.md both name: helper\n", "distinct names\n"),
    Rule("FM014", "empty-description", E, "description is empty",
         "An empty description gives the agent nothing to route on.", 'description: ""\n',
         "description: Use when ...\n"),
    Rule("LK001", "broken-link", E, "relative link points to a file that does not exist",
         "The agent follows the link and finds nothing.", "[x](skills/sheet.md)\n", "[x](sheet.md)\n"),
    Rule("LK002", "path-case-mismatch", E, "link matches a file only with other letter case",
         "Works on macOS, breaks on Linux and in CI.", "[x](Sheet.md)\n", "[x](sheet.md)\n"),
    Rule("LK003", "broken-anchor", W, "#anchor matches no heading of the target",
         "The link lands at the top of the file instead of the section meant.",
         "[x](sheet.md#setup-step)\n", "[x](sheet.md#setup)\n"),
    Rule("LK004", "link-outside-root", W, "link leaves the skill tree",
         "Installed skills are copied without what lies outside their tree.",
         "[x](../../../outside.md)\n", "[x](sheet.md)\n"),
    Rule("RT001", "dead-route", E, "name in a routing position resolves to nothing",
         "A router sends the agent to a skill or sheet that does not exist.",
         "| Symptom | Skill |\n| slow queries | query-tunning |\n",
         "| Symptom | Skill |\n| slow queries | query-tuning |\n"),
    Rule("RT002", "unknown-plugin", E, "qualified reference names a plugin or command that does not exist",
         "A `plugin:skill` or `/command` reference to a pack that is not installed cannot be followed.",
         "see `data-packs:loader`\n", "see `data-pack:loader`\n"),
    Rule("RT003", "ambiguous-name", W, "bare name matches several skills or sheets",
         "The agent may load the wrong one; qualify it as plugin/skill.",
         "Route to: helper\n", "Route to: tools/helper\n"),
    Rule("RT004", "orphan-sheet", W, "sheet is referred to by nothing",
         "A sheet no skill links is never loaded.", "extra.md beside SKILL.md, never named\n",
         "SKILL.md links [extra](extra.md)\n"),
    Rule("RT005", "unreachable-skill", I, "skill is not reachable from any router of its plugin",
         "In a routed pack, a skill no router names is found only by its description.",
         "plugin with using-x router that never names skill y\n", "using-x routes to y\n"),
    Rule("RT006", "routing-cycle", W, "routers route to each other in a cycle",
         "An agent following routes can loop without reaching a leaf skill.",
         "a routes to b, b routes to a\n", "a routes to b, b routes to leaves\n"),
    Rule("RT007", "unknown-name-near-miss", W, "name looks like a typo of an existing skill or sheet",
         "Names in prose that are one edit away from a real name are usually a stale reference.",
         "see `gradient-isolaton`\n", "see `gradient-isolation`\n"),
    Rule("BG001", "body-too-long", W, "body exceeds the line budget (500 lines)",
         "The spec asks SKILL.md bodies to stay under 500 lines; move detail to sheets.",
         "a 900-line SKILL.md\n", "a 200-line SKILL.md linking sheets\n"),
    Rule("BG002", "body-too-many-tokens", W, "body exceeds the token budget (about 5,000 tokens)",
         "Loaded skills cost context; large bodies crowd out the task.",
         "a 40 KB SKILL.md\n", "a short SKILL.md linking sheets\n"),
    Rule("BG003", "body-over-word-budget", W, "body exceeds the configured word budget",
         "Packs that set a word budget keep routers cheap to load.",
         "wordBudget = 500 and a 900-word body\n", "a 400-word body\n"),
    Rule("MD001", "fence-closed-early", E, "a nested code fence closes the outer block early",
         "The rest of the example renders as prose and its code as headings and lists.",
         "```markdown\n```python\nx\n```\n```\n", "````markdown\n```python\nx\n```\n````\n"),
    Rule("RB001", "route-disagrees", I, "router would send a routing-table phrase to a different target",
         "The table and the descriptions disagree: an agent reading descriptions goes elsewhere.",
         "| slow joins | caching | (while query-tuning's description covers joins)\n",
         "| slow joins | query-tuning |\n"),
    Rule("RB002", "descriptions-collide", I, "two skills' descriptions are too close to tell apart",
         "An agent choosing by description picks one at random.",
         "two skills: 'Use when writing tests'\n", "'Use when writing unit tests' / 'Use when writing load tests'\n"),
    Rule("PL001", "manifest-invalid", E, "plugin or marketplace manifest is not valid JSON or lacks a field",
         "Claude Code refuses a plugin whose manifest does not parse or has no name.",
         '{"name": "x",}\n', '{"name": "x"}\n'),
    Rule("PL002", "manifest-missing-path", E, "manifest names a path that does not exist",
         "The plugin installs without the skills, commands or hooks it declares.",
         '"skills": ["./skills/gone"]\n', '"skills": ["./skills/present"]\n'),
    Rule("PL003", "duplicate-plugin", E, "two plugins share a name",
         "Only one of them can be installed.", "two plugin.json with name: tools\n", "distinct names\n"),
    Rule("PL004", "manifest-bad-name", W, "plugin name is not kebab-case",
         "Claude Code expects plugin names in kebab-case.", '"name": "My Tools"\n', '"name": "my-tools"\n'),
    Rule("IO001", "file-too-large", W, "file is over the size limit and was not parsed",
         "Huge files are refused to keep the server responsive.", "a 50 MB SKILL.md\n", "a small one\n"),
    Rule("IO002", "not-text", W, "file is binary or not valid UTF-8",
         "Agents read skills as UTF-8 text.", "a Latin-1 encoded sheet\n", "UTF-8\n"),
    Rule("IO003", "unreadable", W, "file or folder could not be read",
         "Permissions or a file that vanished during the scan.", "chmod 000 SKILL.md\n", "readable\n"),
    Rule("IO004", "symlink-not-followed", I, "symlink leaves the root or loops; not followed",
         "We never read outside the roots we were given.", "link -> /etc\n", "files inside the tree\n"),
)

BY_CODE: dict[str, Rule] = {r.code: r for r in RULES}
