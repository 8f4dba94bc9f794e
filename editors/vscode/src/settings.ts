// The settings the server reads (initializationOptions and the `skillLsp` configuration
// section), and how the server command is found. Pure functions over plain values, so the
// tests need no VS Code.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const SECTION = "skillLsp";
export const DEFAULT_SERVER_PATH = "skill-lsp";

export type Severity = "error" | "warning" | "information" | "hint" | "off";

export interface ServerSettings {
  severity: Record<string, Severity>;
  wordBudget: number | null;
  keyPolicy: "claude-code" | "portable";
  ignore: string[];
  trace: { server: "off" | "messages" | "verbose" };
}

/** Anything with `get(key)`: vscode.WorkspaceConfiguration in the extension, a map in tests. */
export interface SettingsSource {
  get<T>(key: string): T | undefined;
}

export function serverSettings(config: SettingsSource): ServerSettings {
  return {
    severity: config.get<Record<string, Severity>>("severity") ?? {},
    wordBudget: config.get<number | null>("wordBudget") ?? null,
    keyPolicy: config.get<"claude-code" | "portable">("keyPolicy") ?? "claude-code",
    ignore: config.get<string[]>("ignore") ?? [],
    trace: { server: config.get<"off" | "messages" | "verbose">("trace.server") ?? "off" },
  };
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): boolean {
  const exts = process.platform === "win32" ? (env.PATHEXT ?? ".EXE;.CMD").split(";") : [""];
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      if (isExecutable(path.join(dir, name + ext))) return true;
    }
  }
  return false;
}

function venvServer(folder: string): string {
  return process.platform === "win32"
    ? path.join(folder, ".venv", "Scripts", "skill-lsp.exe")
    : path.join(folder, ".venv", "bin", "skill-lsp");
}

/**
 * The executable to spawn. `~` and `${workspaceFolder}` are expanded in the configured path.
 * With the default name, when it is not on PATH, a trusted workspace's own virtual
 * environment is tried: Python projects install the server there, and VS Code's PATH does not
 * include it. Untrusted workspaces never get to choose what runs.
 */
export function resolveServerCommand(
  configured: string | undefined,
  workspaceFolders: readonly string[],
  trusted: boolean,
  env: NodeJS.ProcessEnv = process.env,
): string {
  let command = (configured ?? "").trim() || DEFAULT_SERVER_PATH;
  if (command === "~" || command.startsWith("~/")) command = path.join(os.homedir(), command.slice(1));
  if (command.includes("${workspaceFolder}") && workspaceFolders.length > 0) {
    command = command.split("${workspaceFolder}").join(workspaceFolders[0]);
  }
  if (command === DEFAULT_SERVER_PATH && trusted && !onPath(command, env)) {
    const found = workspaceFolders.map(venvServer).find(isExecutable);
    if (found) return found;
  }
  return command;
}
