// What the extension shows and sends, for answers the server gives: status bar text, Quick Pick
// entries, the settings payload and which server command runs. No VS Code needed.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import type { RouteResult } from "../src/protocol";
import { formatRoute, routeItems, routePlaceholder } from "../src/routeItems";
import { resolveServerCommand, serverSettings } from "../src/settings";
import { statusFromServer } from "../src/status";

describe("status bar", () => {
  it("spins while indexing and counts skills when ready", () => {
    const indexing = statusFromServer({ state: "indexing", skills: 3, sheets: 0, roots: 1 });
    assert.equal(indexing.text, "$(sync~spin) skills: indexing");
    const ready = statusFromServer({ state: "ready", skills: 57, sheets: 1, roots: 2 });
    assert.equal(ready.text, "$(book) skills: 57");
    assert.match(ready.tooltip, /57 skills and 1 sheet in 2 roots/);
  });
});

describe("route Quick Pick", () => {
  const sheet: RouteResult = {
    id: "yzmir/using-dyn/continual.md",
    name: "continual",
    kind: "sheet",
    uri: "file:///x/continual.md",
    score: 0.8,
    description: "Forgetting old tasks",
    route: ["yzmir/using-dyn", "yzmir/using-dyn/continual.md"],
  };

  it("shows name, description and the route a router would take", () => {
    const [item] = routeItems([sheet]);
    assert.equal(item.label, "$(file) continual");
    assert.equal(item.description, "Forgetting old tasks");
    assert.equal(item.detail, "yzmir/using-dyn/continual.md · via yzmir: using-dyn → using-dyn/continual.md");
  });

  it("keeps plugin prefixes when a route crosses plugins, and shows the id alone without a route", () => {
    assert.equal(formatRoute(["a/router", "b/target"]), "a/router → b/target");
    assert.equal(formatRoute(["lonely"]), "lonely");
    const [item] = routeItems([{ ...sheet, route: [] }]);
    assert.equal(item.detail, "yzmir/using-dyn/continual.md");
  });

  it("says when the router is not confident", () => {
    assert.equal(routePlaceholder(3, true), "Pick one of 3 targets to open");
    assert.equal(routePlaceholder(1, false), "No confident match. Pick one of 1 target to open");
  });
});

describe("settings sent to the server", () => {
  it("fills defaults for unset keys and passes set ones through", () => {
    const values: Record<string, unknown> = { severity: { FM007: "off" }, wordBudget: 800, "trace.server": "verbose" };
    const settings = serverSettings({ get: <T>(key: string) => values[key] as T | undefined });
    assert.deepEqual(settings, {
      severity: { FM007: "off" },
      wordBudget: 800,
      keyPolicy: "claude-code",
      ignore: [],
      trace: { server: "verbose" },
    });
  });
});

describe("server command", () => {
  function workspaceWithVenv(): string {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), "skill-lsp-ws-"));
    const bin = path.join(folder, ".venv", "bin");
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, "skill-lsp"), "#!/bin/sh\n", { mode: 0o755 });
    return folder;
  }

  it("uses a trusted workspace's .venv when skill-lsp is not on PATH", () => {
    const folder = workspaceWithVenv();
    const env = { PATH: "/nonexistent" };
    assert.equal(resolveServerCommand("skill-lsp", [folder], true, env), path.join(folder, ".venv", "bin", "skill-lsp"));
    assert.equal(resolveServerCommand("skill-lsp", [folder], false, env), "skill-lsp");
  });

  it("expands ${workspaceFolder} and ~ in a configured path", () => {
    assert.equal(resolveServerCommand("${workspaceFolder}/bin/srv", ["/ws"], true), "/ws/bin/srv");
    assert.equal(resolveServerCommand("~/bin/srv", [], true), path.join(os.homedir(), "bin/srv"));
    assert.equal(resolveServerCommand("  ", [], true, { PATH: "" }), "skill-lsp");
  });
});
