// Spawns the real skill-lsp server and talks LSP to it over stdio, the way vscode-languageclient
// does, so the test exercises the same protocol the extension depends on.
import { ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import {
  ConfigurationRequest,
  createProtocolConnection,
  InitializedNotification,
  InitializeRequest,
  ProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from "vscode-languageserver-protocol/node";

/** The extension's folder (this file runs from out/test/). */
export const EXTENSION_ROOT = path.resolve(__dirname, "..", "..");
export const FIXTURE_ROOT = path.join(EXTENSION_ROOT, "test", "fixture");

/** How long to wait for a message before failing with what did arrive; a hang guard, not a
 * speed assertion. */
const WAIT_LIMIT_MS = 90_000;

/** Server-to-client requests that VS Code acknowledges without data. */
const CLIENT_REQUESTS_ANSWERED_WITH_NULL = [
  "client/registerCapability",
  "client/unregisterCapability",
  "window/workDoneProgress/create",
  "window/showMessageRequest",
  "workspace/diagnostic/refresh",
  "workspace/semanticTokens/refresh",
  "workspace/inlayHint/refresh",
  "workspace/codeLens/refresh",
];

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** SKILL_LSP_SERVER, else the repository's own .venv, else `skill-lsp` on PATH. */
export function findServer(): string {
  const fromEnv = process.env.SKILL_LSP_SERVER;
  if (fromEnv) return fromEnv;
  const venv = path.resolve(EXTENSION_ROOT, "..", "..", ".venv", "bin", "skill-lsp");
  if (isExecutable(venv)) return venv;
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, "skill-lsp"))) return path.join(dir, "skill-lsp");
  }
  throw new Error(
    `No skill-lsp server found: set SKILL_LSP_SERVER, create ${venv} (pip install -e . in a .venv at the repository root), or put skill-lsp on PATH`,
  );
}

export function fileUri(file: string): string {
  return pathToFileURL(file).href;
}

/** Compares URIs by the file they name, since servers may re-encode them. */
export function sameFile(uriA: string, uriB: string): boolean {
  const norm = (u: string) => decodeURIComponent(new URL(u).pathname).replace(/\/+$/, "");
  return norm(uriA) === norm(uriB);
}

export interface Received {
  method: string;
  params: any;
}

export class ServerSession {
  readonly notifications: Received[] = [];
  private readonly waiters = new Set<() => void>();
  private stderr = "";
  private exited: string | undefined;

  private constructor(
    readonly process: ChildProcessWithoutNullStreams,
    readonly connection: ProtocolConnection,
    readonly settings: Record<string, unknown>,
  ) {}

  static start(command: string, args: string[], settings: Record<string, unknown>): ServerSession {
    const child = spawn(command, args, { cwd: FIXTURE_ROOT, stdio: ["pipe", "pipe", "pipe"] });
    const connection = createProtocolConnection(
      new StreamMessageReader(child.stdout),
      new StreamMessageWriter(child.stdin),
    );
    const session = new ServerSession(child, connection, settings);
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      session.stderr = (session.stderr + chunk).slice(-8000);
    });
    child.on("error", (err) => {
      session.exited = `could not run ${command}: ${err.message}`;
      session.wake();
    });
    child.on("exit", (code, signal) => {
      session.exited = `server exited (code ${code}, signal ${signal})`;
      session.wake();
    });

    // What VS Code's client answers for server-to-client requests.
    connection.onRequest(ConfigurationRequest.type, (params) =>
      params.items.map((item) => (item.section === "skillLsp" || !item.section ? settings : null)),
    );
    for (const method of CLIENT_REQUESTS_ANSWERED_WITH_NULL) connection.onRequest(method, () => null);
    connection.onRequest("workspace/workspaceFolders", () => [
      { uri: fileUri(FIXTURE_ROOT), name: path.basename(FIXTURE_ROOT) },
    ]);
    // No notification has a handler of its own, so every one the server sends lands here.
    connection.onUnhandledNotification(({ method, params }) => {
      session.notifications.push({ method, params });
      session.wake();
    });
    connection.listen();
    return session;
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Resolves with the first notification (already received or still to come) that matches. */
  waitFor(description: string, match: (n: Received) => boolean): Promise<Received> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.notifications.find(match);
        if (found) {
          done();
          resolve(found);
        } else if (this.exited) {
          done();
          reject(new Error(`${description}: ${this.exited}\n${this.report()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${description}: nothing matched within ${WAIT_LIMIT_MS / 1000} s\n${this.report()}`));
      }, WAIT_LIMIT_MS);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  report(): string {
    const seen = this.notifications
      .map((n) => `  ${n.method} ${JSON.stringify(n.params).slice(0, 400)}`)
      .slice(-15)
      .join("\n");
    return `notifications received:\n${seen || "  (none)"}\nserver stderr (tail):\n${this.stderr.slice(-3000) || "  (empty)"}`;
  }

  /** Settles with the request's answer, or fails with what went wrong if the server exits or
   * never answers (an exited server would otherwise leave the promise pending forever). */
  request<R>(method: string, params: unknown): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const stopWatching = () => {
        clearTimeout(timer);
        this.waiters.delete(onExit);
      };
      const onExit = () => {
        if (this.exited) {
          stopWatching();
          reject(new Error(`${method}: ${this.exited}\n${this.report()}`));
        }
      };
      const timer = setTimeout(() => {
        stopWatching();
        reject(new Error(`${method}: no answer within ${WAIT_LIMIT_MS / 1000} s\n${this.report()}`));
      }, WAIT_LIMIT_MS);
      this.waiters.add(onExit);
      onExit();
      this.connection.sendRequest<R>(method, params).then(
        (value) => {
          stopWatching();
          resolve(value);
        },
        (err: unknown) => {
          stopWatching();
          reject(err);
        },
      );
    });
  }

  async initialize(rootFolder: string): Promise<any> {
    const result = await this.request<any>(InitializeRequest.method, {
      processId: process.pid,
      clientInfo: { name: "skill-lsp vscode extension test" },
      rootUri: fileUri(rootFolder),
      workspaceFolders: [{ uri: fileUri(rootFolder), name: path.basename(rootFolder) }],
      initializationOptions: this.settings,
      capabilities: {
        general: { positionEncodings: ["utf-16"] },
        workspace: { configuration: true, workspaceFolders: true, didChangeConfiguration: { dynamicRegistration: true } },
        textDocument: {
          synchronization: { didSave: true },
          publishDiagnostics: { relatedInformation: true, codeDescriptionSupport: true, versionSupport: true },
        },
        window: { workDoneProgress: true },
      },
    });
    await this.connection.sendNotification(InitializedNotification.method, {});
    return result;
  }

  async openDocument(file: string): Promise<string> {
    const uri = fileUri(file);
    await this.connection.sendNotification("textDocument/didOpen", {
      textDocument: { uri, languageId: "markdown", version: 1, text: fs.readFileSync(file, "utf8") },
    });
    return uri;
  }

  async stop(): Promise<void> {
    if (!this.exited) {
      const exited = new Promise<void>((resolve) => this.process.once("exit", () => resolve()));
      try {
        await this.connection.sendRequest("shutdown");
        await this.connection.sendNotification("exit");
      } catch {
        // A server that already died has nothing to shut down.
      }
      const killer = setTimeout(() => this.process.kill(), 10_000);
      await exited;
      clearTimeout(killer);
    }
    this.connection.dispose();
  }
}
