// Shapes of skill-lsp's custom messages (DESIGN section 5, a contract shared with the server).
// Plain types only, so the tests can import this file without VS Code.

export const ROUTE_REQUEST = "skills/route";
export const LIST_REQUEST = "skills/list";
export const RESOLVE_REQUEST = "skills/resolve";
export const STATUS_NOTIFICATION = "skills/status";

export type TargetKind = "skill" | "sheet";

export interface RouteParams {
  query: string;
  limit?: number;
  root?: string;
}

export interface RouteResult {
  id: string;
  name: string;
  kind: TargetKind;
  uri: string;
  score: number;
  description: string;
  /** Ids from a top router down to this target; the target itself is last. */
  route: string[];
  why?: string;
}

export interface RouteResponse {
  results: RouteResult[];
  confident?: boolean;
}

export interface StatusParams {
  state: "indexing" | "ready";
  skills: number;
  sheets: number;
  roots: number;
}

/** The command of the server's code lenses, with (uri, position, locations) as LSP values: the
 * extension shows them with VS Code's references peek. */
export const SHOW_REFERENCES = "skill-lsp.showReferences";
