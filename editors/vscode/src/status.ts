// What the status bar item says, derived from the server's `skills/status` notification and
// the client's own state. Kept free of VS Code imports so the tests can check the wording.
import type { StatusParams } from "./protocol";

export interface StatusView {
  text: string;
  tooltip: string;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

export function statusFromServer(status: StatusParams): StatusView {
  const counts = `${plural(status.skills, "skill")} and ${plural(status.sheets, "sheet")} in ${plural(status.roots, "root")}`;
  if (status.state === "indexing") {
    return {
      text: "$(sync~spin) skills: indexing",
      tooltip: `skill-lsp is indexing (${counts} so far). Click to route a task to a skill.`,
    };
  }
  return {
    text: `$(book) skills: ${status.skills}`,
    tooltip: `skill-lsp: ${counts}. Click to route a task to a skill.`,
  };
}

export const STATUS_STARTING: StatusView = {
  text: "$(sync~spin) skills: starting",
  tooltip: "skill-lsp is starting.",
};

export const STATUS_STOPPED: StatusView = {
  text: "$(error) skills: stopped",
  tooltip: "skill-lsp is not running. Click to show its output; run 'Skill LSP: Restart server' to start it again.",
};
