// Builds the one self-contained page: the worker and the page script bundled
// by esbuild, inlined with the stylesheet and the bundled libraries' licences,
// under a Content-Security-Policy that allows exactly these inline blocks,
// workers from blob: URLs and WebAssembly, and no network at all.
// Deterministic: the same sources and lock file give the same bytes.
import { createHash } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "custody", "ops", "verifier_page", "verify-bundle.html");
const common = { bundle: true, write: false, minify: true, legalComments: "none", target: ["es2022"], charset: "utf8" };

const worker = await esbuild.build({ ...common, entryPoints: [join(here, "src", "worker.js")], format: "iife" });
const workerSource = worker.outputFiles[0].text;
const page = await esbuild.build({
  ...common,
  entryPoints: [join(here, "src", "main.js")],
  format: "iife",
  define: { WORKER_SOURCE: JSON.stringify(workerSource) },
});
const script = page.outputFiles[0].text.trim();
const style = readFileSync(join(here, "src", "style.css"), "utf8").trim();
for (const [what, text] of [["script", script], ["style", style]]) {
  if (/<\/(script|style)|<!--/i.test(text)) throw new Error(`the ${what} holds a sequence that would end its element`);
}

const escapeHtml = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const pkg = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));
const licenses = Object.keys(pkg.dependencies)
  .sort()
  .map((name) => {
    const meta = JSON.parse(readFileSync(join(here, "node_modules", name, "package.json"), "utf8"));
    const text = readFileSync(join(here, "node_modules", name, "LICENSE"), "utf8").trim();
    return `<h3>${escapeHtml(name)} ${escapeHtml(meta.version)} (${escapeHtml(meta.license)})</h3>\n<pre class="licence">${escapeHtml(text)}</pre>`;
  })
  .join("\n");

const hash = (text) => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;
const csp = [
  "default-src 'none'",
  `script-src ${hash(script)} 'wasm-unsafe-eval'`,
  `style-src ${hash(style)}`,
  "worker-src blob:",
  "connect-src 'none'",
  "img-src 'none'",
  "font-src 'none'",
  "media-src 'none'",
  "object-src 'none'",
  "frame-src 'none'",
  "manifest-src 'none'",
  "form-action 'none'",
  "base-uri 'none'",
].join("; ");

const template = readFileSync(join(here, "src", "page.html"), "utf8");
const html = template
  .replace("__CSP__", () => csp)
  .replace("__STYLE__", () => style)
  .replace("__LICENSES__", () => licenses)
  .replace("__SCRIPT__", () => script);
writeFileSync(`${out}.tmp`, html);
renameSync(`${out}.tmp`, out);
console.log(`${createHash("sha256").update(html).digest("hex")}  ${out} (${html.length} bytes)`);
