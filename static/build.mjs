// Builds the web editor into static/dist/, which the server serves: index.html at `/` and
// `/r/{roomId}`, every file of dist/ under `/assets/` (so index.html uses absolute /assets/ paths).
import { build } from "esbuild";
import { cp, mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await build({
  entryPoints: { app: join(here, "src", "main.js") },
  outdir: dist,
  bundle: true,
  format: "esm",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  minify: true,
  sourcemap: true,
  legalComments: "none",
  logLevel: "warning",
});
await cp(join(here, "index.html"), join(dist, "index.html"));
await cp(join(here, "public"), dist, { recursive: true });
console.log("editor built into static/dist/");
