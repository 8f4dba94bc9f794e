// Bundles the extension and its runtime dependencies (vscode-languageclient and what it pulls in)
// into one file, so the .vsix needs no node_modules and installs offline.
import { build } from "esbuild";

const production = process.argv.includes("--production");

await build({
  entryPoints: ["src/extension.ts"],
  bundle: true,
  outfile: "dist/extension.js",
  external: ["vscode"], // provided by the editor at run time
  format: "cjs",
  platform: "node",
  target: "node18", // VS Code 1.85 ships Electron 25 / Node 18
  sourcemap: !production,
  minify: production,
  logLevel: "warning",
});
