// Turns a `skills/route` answer into Quick Pick entries. Free of VS Code imports (types only)
// so the tests can feed it the real server's answer.
import type { QuickPickItem } from "vscode";
import type { RouteResult } from "./protocol";

export interface RouteItem extends QuickPickItem {
  result: RouteResult;
}

/** The route as a person reads it: `using-demo → alpha`, with the plugin prefix dropped when
 * every step lives in the same plugin, since it only repeats. */
export function formatRoute(route: readonly string[]): string {
  if (route.length === 0) return "";
  const plugins = new Set(route.map((id) => (id.includes("/") ? id.split("/")[0] : "")));
  const shared = plugins.size === 1 ? [...plugins][0] : "";
  const shown = shared ? route.map((id) => id.slice(shared.length + 1)) : [...route];
  return (shared ? `${shared}: ` : "") + shown.join(" → ");
}

export function routeItems(results: readonly RouteResult[]): RouteItem[] {
  return results.map((result) => {
    const icon = result.kind === "sheet" ? "$(file)" : "$(book)";
    const path = formatRoute(result.route);
    return {
      label: `${icon} ${result.name}`,
      description: result.description,
      detail: path ? `${result.id} · via ${path}` : result.id,
      result,
    };
  });
}

export function routePlaceholder(count: number, confident: boolean | undefined): string {
  if (count === 0) return "No skill matches this task";
  const pick = `Pick one of ${count} target${count === 1 ? "" : "s"} to open`;
  return confident === false ? `No confident match. ${pick}` : pick;
}
