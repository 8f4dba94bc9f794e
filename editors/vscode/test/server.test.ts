// End to end: the real skill-lsp server, driven over stdio with the same protocol library the
// extension uses, on the fixture pack in test/fixture/ (plugin `demo`: router `using-demo`
// routing to `alpha` and to the missing `demo/ghost-skill`; `alpha` links its sheet).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type RouteResponse, SHOW_REFERENCES, type StatusParams } from "../src/protocol";
import { routeItems } from "../src/routeItems";
import { statusFromServer } from "../src/status";
import { FIXTURE_ROOT, findServer, sameFile, ServerSession } from "./lspHarness";

const ROUTER = path.join(FIXTURE_ROOT, "demo", "skills", "using-demo", "SKILL.md");
const ALPHA = path.join(FIXTURE_ROOT, "demo", "skills", "alpha", "SKILL.md");

/** The text a diagnostic's range covers (single-line ranges; UTF-16 columns equal JS string
 * indices, which is what we negotiated). */
function rangeText(file: string, range: any): string {
  const lines = fs.readFileSync(file, "utf8").split("\n");
  assert.equal(range.start.line, range.end.line, "a name's range stays on one line");
  return lines[range.start.line].slice(range.start.character, range.end.character);
}

describe("skill-lsp server, driven as the VS Code extension drives it", () => {
  let session: ServerSession;

  before(async () => {
    // The settings the extension sends by default (initializationOptions and skillLsp section).
    session = ServerSession.start(findServer(), ["serve"], {
      severity: {},
      wordBudget: null,
      keyPolicy: "claude-code",
      ignore: [],
      trace: { server: "off" },
    });
    const init = await session.initialize(FIXTURE_ROOT);
    assert.ok(init.capabilities, "initialize answers with server capabilities");
  });

  after(async () => {
    await session?.stop();
  });

  it("flags the router's route to the missing demo/ghost-skill as RT001, and not the route to alpha", async () => {
    const uri = await session.openDocument(ROUTER);
    const published = await session.waitFor("publishDiagnostics with RT001 for the router", (n) =>
      n.method === "textDocument/publishDiagnostics" &&
      sameFile(n.params.uri, uri) &&
      n.params.diagnostics.some((d: any) => d.code === "RT001"),
    );
    const deadRoutes = published.params.diagnostics.filter((d: any) => d.code === "RT001");
    // The squiggle sits on the name (a code span's backticks may be included).
    const names = deadRoutes.map((d: any) => rangeText(ROUTER, d.range).replace(/^`|`$/g, ""));
    assert.deepEqual(names, ["demo/ghost-skill"], session.report());
    const [ghost] = deadRoutes;
    assert.equal(ghost.source, "skill-lsp");
    assert.match(ghost.message, /ghost-skill/);
    // VS Code turns the code into a link to the rule's documentation.
    assert.match(ghost.codeDescription?.href ?? "", /RT001/i);
  });

  it("routes a task phrase to demo/alpha, through the using-demo router", async () => {
    const response = await session.request<RouteResponse>("skills/route", {
      query: "parse csv rows into typed records",
      limit: 5,
    });
    const alpha = response.results.find((r) => r.id === "demo/alpha");
    assert.ok(alpha, `demo/alpha among ${JSON.stringify(response.results.map((r) => r.id))}`);
    assert.equal(alpha.kind, "skill");
    assert.equal(alpha.name, "alpha");
    assert.equal(fileURLToPath(alpha.uri), ALPHA);
    assert.equal(alpha.route.at(-1), "demo/alpha");
    assert.ok(alpha.route.includes("demo/using-demo"), `route ${JSON.stringify(alpha.route)} passes the router`);

    // What the Quick Pick of "Skill LSP: Route a task to a skill" shows for it.
    const item = routeItems(response.results).find((i) => i.result.id === "demo/alpha");
    assert.equal(item?.label, "$(book) alpha");
    assert.equal(item?.description, alpha.description);
    assert.match(item?.detail ?? "", /using-demo → alpha/);
  });

  it("puts a code lens above alpha that counts the router's row and opens VS Code's references peek", async () => {
    const uri = await session.openDocument(ALPHA);
    const lenses = await session.request<any[]>("textDocument/codeLens", { textDocument: { uri } });
    assert.equal(lenses.length, 1, JSON.stringify(lenses));
    const [lens] = lenses;
    assert.deepEqual(lens.range.start, { line: 0, character: 0 });
    assert.equal(lens.command.title, "1 reference · routed from using-demo");
    // the command the extension registers, with what editor.action.showReferences takes
    assert.equal(lens.command.command, SHOW_REFERENCES);
    const [target, position, locations] = lens.command.arguments;
    assert.ok(sameFile(target, uri));
    assert.deepEqual(position, { line: 0, character: 0 });
    assert.equal(locations.length, 1);
    assert.equal(fileURLToPath(locations[0].uri), ROUTER);
    assert.equal(rangeText(ROUTER, locations[0].range).replace(/`/g, ""), "alpha");
  });

  it("reports the finished index in skills/status, which the status bar shows", async () => {
    // The status bar shows the latest notification, so what counts is that one arrives with
    // the whole fixture counted.
    const ready = await session.waitFor("skills/status ready with both skills counted", (n) =>
      n.method === "skills/status" && n.params.state === "ready" && n.params.skills === 2,
    );
    const status = ready.params as StatusParams;
    assert.equal(status.sheets, 1, session.report());
    assert.equal(status.roots, 1, session.report());
    assert.equal(statusFromServer(status).text, "$(book) skills: 2");
  });
});
