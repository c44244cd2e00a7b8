// Bundles the page into dist/ (committed, so the server can serve it at /account in
// development without npm): app.js, app.css, index.html.
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "dist");
rmSync(out, { recursive: true, force: true });
mkdirSync(out);
await esbuild.build({
  entryPoints: { app: join(here, "src/main.ts") },
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2022",
  legalComments: "none",
  outdir: out,
  logLevel: "warning",
});
copyFileSync(join(here, "src/app.css"), join(out, "app.css"));
copyFileSync(join(here, "src/index.html"), join(out, "index.html"));
