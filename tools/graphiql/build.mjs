// Bundles GraphiQL, React (production builds) and Monaco's workers into
// src/http/graphiql/assets, which the server embeds: nothing is fetched at run time, and
// `cargo build` needs no npm. Also writes the licences of every bundled package.
//
//   cd tools/graphiql && npm ci && npm run build
import { readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "../../src/http/graphiql/assets");
rmSync(out, { recursive: true, force: true });

const common = {
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2022",
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
  define: { "process.env.NODE_ENV": '"production"' },
  // Monaco's icon font, inlined: the page loads no other file for it.
  loader: { ".ttf": "dataurl" },
};
const page = await esbuild.build({
  ...common,
  entryPoints: { graphiql: join(here, "src/main.jsx") },
  jsx: "automatic",
  outdir: out,
});
const workers = await esbuild.build({
  ...common,
  entryPoints: {
    "editor.worker": "monaco-editor/esm/vs/editor/editor.worker.js",
    "json.worker": "monaco-editor/esm/vs/language/json/json.worker.js",
    "graphql.worker": "monaco-graphql/esm/graphql.worker.js",
  },
  outdir: out,
});

// Every package a bundled file came from, with its licence text.
const packages = new Map();
for (const input of [page, workers].flatMap((result) => Object.keys(result.metafile.inputs))) {
  const match = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (match) packages.set(match[1], join(here, "node_modules", match[1]));
}
const notices = [...packages.entries()]
  .sort(([a], [b]) => a.localeCompare(b))
  .map(([name, path]) => {
    const manifest = JSON.parse(readFileSync(join(path, "package.json"), "utf8"));
    const file = readdirSync(path).find((entry) => /^(licen[cs]e|copying)/i.test(entry));
    const text = file ? readFileSync(join(path, file), "utf8").trim() : `License: ${manifest.license}`;
    return `${name}@${manifest.version} (${manifest.license})\n\n${text}\n`;
  });
writeFileSync(
  join(out, "THIRD_PARTY_LICENSES.txt"),
  `Packages bundled into the GraphiQL assets, built by tools/graphiql/build.mjs.\n\n${notices.join("\n" + "-".repeat(78) + "\n\n")}`,
);
const sizes = readdirSync(out).map((file) => `${file} ${(readFileSync(join(out, file)).length / 1024).toFixed(0)} KiB`);
console.log(`${packages.size} packages bundled:\n  ${sizes.join("\n  ")}`);
