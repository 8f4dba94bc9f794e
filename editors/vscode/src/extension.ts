// VS Code client for skill-lsp: starts the server for workspaces that hold skills, shows the
// index state in the status bar, and offers "route a task to a skill".
import * as path from "node:path";
import * as vscode from "vscode";
import {
  LanguageClient,
  LanguageClientOptions,
  Location,
  Position,
  RevealOutputChannelOn,
  ServerOptions,
  State,
  TransportKind,
} from "vscode-languageclient/node";
import {
  ROUTE_REQUEST,
  RouteParams,
  RouteResponse,
  SHOW_REFERENCES,
  STATUS_NOTIFICATION,
  StatusParams,
} from "./protocol";
import { RouteItem, routeItems, routePlaceholder } from "./routeItems";
import { resolveServerCommand, SECTION, serverSettings } from "./settings";
import { STATUS_STARTING, STATUS_STOPPED, StatusView, statusFromServer } from "./status";

const CLIENT_ID = SECTION; // languageclient reads `${id}.trace.server`, i.e. skillLsp.trace.server
const ROUTE_LIMIT = 20;

let client: LanguageClient | undefined;
let starting: Promise<void> | undefined;
let output: vscode.OutputChannel;
let statusItem: vscode.StatusBarItem;

function isSkillFile(doc: vscode.TextDocument): boolean {
  return doc.uri.scheme === "file" && path.basename(doc.uri.fsPath) === "SKILL.md";
}

/** Activation on any Markdown file must not start a Python server in every workspace: only
 * start where there are skills. */
async function workspaceHasSkills(): Promise<boolean> {
  if (vscode.workspace.textDocuments.some(isSkillFile)) return true;
  const found = await vscode.workspace.findFiles("**/SKILL.md", "**/node_modules/**", 1);
  return found.length > 0;
}

function showStatus(view: StatusView, command = "skillLsp.route"): void {
  statusItem.text = view.text;
  statusItem.tooltip = view.tooltip;
  statusItem.command = command;
  statusItem.show();
}

function createClient(): LanguageClient {
  const config = vscode.workspace.getConfiguration(SECTION);
  const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
  const command = resolveServerCommand(config.get<string>("server.path"), folders, vscode.workspace.isTrusted);
  const args = config.get<string[]>("server.args") ?? ["serve"];
  output.appendLine(`Starting ${command} ${args.join(" ")}`);

  const serverOptions: ServerOptions = {
    command,
    args,
    transport: TransportKind.stdio,
    options: { cwd: folders[0] },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file", language: "markdown" }],
    initializationOptions: serverSettings(config),
    // Sends workspace/didChangeConfiguration with the whole `skillLsp` section on every change;
    // the server also pulls it with workspace/configuration, which the client answers itself.
    synchronize: { configurationSection: SECTION },
    outputChannel: output,
    traceOutputChannel: output,
    revealOutputChannelOn: RevealOutputChannelOn.Never,
  };
  const created = new LanguageClient(CLIENT_ID, "Skill LSP", serverOptions, clientOptions);

  created.onNotification(STATUS_NOTIFICATION, (status: StatusParams) => showStatus(statusFromServer(status)));
  created.onDidChangeState(({ newState }) => {
    if (newState === State.Starting) showStatus(STATUS_STARTING);
    // A server that never sends skills/status still shows as running.
    else if (newState === State.Running) showStatus({ text: "$(book) skills", tooltip: "skill-lsp is running. Click to route a task to a skill." });
    else showStatus(STATUS_STOPPED, "skillLsp.showOutput");
  });
  return created;
}

async function startClient(): Promise<void> {
  if (client) return;
  if (starting) return starting;
  starting = (async () => {
    const created = createClient();
    try {
      await created.start();
      client = created;
    } catch (err) {
      showStatus(STATUS_STOPPED, "skillLsp.showOutput");
      output.appendLine(`skill-lsp failed to start: ${String(err)}`);
      // Not awaited: a command waiting on startClient must not hang while the message is open.
      void vscode.window
        .showErrorMessage(
          `Skill LSP: could not start the server (${String(err)}). Install it with "pip install skill-lsp" or set "skillLsp.server.path".`,
          "Open Settings",
          "Show Output",
        )
        .then((choice) => {
          if (choice === "Open Settings") {
            void vscode.commands.executeCommand("workbench.action.openSettings", "skillLsp.server");
          } else if (choice === "Show Output") {
            output.show(true);
          }
        });
      await created.dispose().catch(() => undefined);
    }
  })().finally(() => {
    starting = undefined;
  });
  return starting;
}

async function stopClient(): Promise<void> {
  if (starting) await starting;
  const running = client;
  client = undefined;
  if (running) await running.dispose().catch((err) => output.appendLine(`Stopping skill-lsp: ${String(err)}`));
}

async function restartClient(): Promise<void> {
  await stopClient();
  await startClient();
}

async function routeTask(): Promise<void> {
  await startClient();
  if (!client) return; // startClient already told the user why
  const query = await vscode.window.showInputBox({
    title: "Route a task to a skill",
    prompt: "Describe the task; skill-lsp ranks the skills and sheets that fit it.",
    placeHolder: "e.g. the model forgets old tasks after fine-tuning",
    ignoreFocusOut: true,
  });
  if (!query?.trim()) return;

  const params: RouteParams = { query: query.trim(), limit: ROUTE_LIMIT };
  let response: RouteResponse;
  try {
    response = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: "Routing task" },
      () => client!.sendRequest<RouteResponse>(ROUTE_REQUEST, params),
    );
  } catch (err) {
    void vscode.window.showErrorMessage(`Skill LSP: routing failed: ${String(err)}`);
    return;
  }
  const results = response?.results ?? [];
  if (results.length === 0) {
    void vscode.window.showInformationMessage(`Skill LSP: no skill matches "${params.query}".`);
    return;
  }
  const picked = await vscode.window.showQuickPick<RouteItem>(routeItems(results), {
    title: `Route: ${params.query}`,
    placeHolder: routePlaceholder(results.length, response.confident),
    matchOnDescription: true,
    matchOnDetail: true,
  });
  if (!picked) return;
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(picked.result.uri));
  await vscode.window.showTextDocument(doc);
}

/** What a code lens of the server ("3 references · routed from using-kitchen") shows when clicked. */
async function showReferences(uri: string, position: Position, locations: Location[]): Promise<void> {
  if (!client) return;
  const conv = client.protocol2CodeConverter;
  await vscode.commands.executeCommand("editor.action.showReferences", conv.asUri(uri), conv.asPosition(position),
    await conv.asReferences(locations));
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("Skill LSP");
  statusItem = vscode.window.createStatusBarItem("skillLsp.status", vscode.StatusBarAlignment.Left, 0);
  statusItem.name = "Skill LSP";
  context.subscriptions.push(
    output,
    statusItem,
    vscode.commands.registerCommand("skillLsp.restartServer", restartClient),
    vscode.commands.registerCommand("skillLsp.showOutput", () => output.show(true)),
    vscode.commands.registerCommand("skillLsp.route", routeTask),
    vscode.commands.registerCommand(SHOW_REFERENCES, showReferences),
    vscode.workspace.onDidChangeConfiguration((e) => {
      // Rule settings reach the running server through synchronize; a new command needs a new process.
      if (client && e.affectsConfiguration(`${SECTION}.server`)) void restartClient();
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      if (client) void restartClient();
    }),
  );

  if (await workspaceHasSkills()) {
    await startClient();
    return;
  }
  // No skills yet: start as soon as one is created or opened.
  const watcher = vscode.workspace.createFileSystemWatcher("**/SKILL.md", false, true, true);
  const startOnce = () => {
    watcher.dispose();
    opened.dispose();
    void startClient();
  };
  watcher.onDidCreate(startOnce);
  const opened = vscode.workspace.onDidOpenTextDocument((doc) => {
    if (isSkillFile(doc)) startOnce();
  });
  context.subscriptions.push(watcher, opened);
}

export async function deactivate(): Promise<void> {
  await stopClient();
}
