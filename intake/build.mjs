// Builds the witness upload page: the page script (with tus-js-client and
// hash-wasm) bundled by esbuild, inlined with the stylesheet and the bundled
// libraries' licences, under a Content-Security-Policy that allows exactly
// these inline blocks, WebAssembly, and requests to the page's own origin.
// Deterministic: the same sources and lock file give the same bytes.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, "..", "src", "custody", "io", "intake", "page");
const page = await esbuild.build({
  entryPoints: [join(here, "src", "main.js")],
  bundle: true,
  write: false,
  minify: true,
  legalComments: "none",
  target: ["es2020"],
  charset: "utf8",
  format: "iife",
  platform: "browser",
  mainFields: ["browser", "module", "main"],
  metafile: true,
});
const script = page.outputFiles[0].text.trim();
const style = readFileSync(join(here, "src", "style.css"), "utf8").trim();
for (const [what, text] of [["script", script], ["style", style]]) {
  if (/<\/(script|style)|<!--/i.test(text)) throw new Error(`the ${what} holds a sequence that would end its element`);
}

const escapeHtml = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const licenceOf = (name, meta) => {
  for (const file of ["LICENSE", "LICENSE.md", "LICENSE.txt", "License", "license", "LICENCE"]) {
    const path = join(here, "node_modules", name, file);
    if (existsSync(path)) return readFileSync(path, "utf8").trim();
  }
  return `No licence file is shipped in the package; its package.json says: ${meta.license}.`;
};
// Every package whose code is in the bundle (from esbuild's metafile), not only the direct ones.
const bundled = new Set(
  Object.keys(page.metafile.inputs)
    .map((input) => input.match(/^node_modules\/((?:@[^/]+\/)?[^/]+)\//))
    .filter(Boolean)
    .map((m) => m[1]),
);
const licenses = [...bundled]
  .sort()
  .map((name) => {
    const meta = JSON.parse(readFileSync(join(here, "node_modules", name, "package.json"), "utf8"));
    return `<h3>${escapeHtml(name)} ${escapeHtml(meta.version)} (${escapeHtml(String(meta.license))})</h3>\n<pre>${escapeHtml(licenceOf(name, meta))}</pre>`;
  })
  .join("\n");

const hash = (text) => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;
const policy = [
  "default-src 'none'",
  `script-src ${hash(script)} 'wasm-unsafe-eval'`,
  `style-src ${hash(style)}`,
  "connect-src 'self'",
  "img-src 'none'",
  "font-src 'none'",
  "media-src 'none'",
  "object-src 'none'",
  "frame-src 'none'",
  "worker-src 'none'",
  "manifest-src 'none'",
  "form-action 'none'",
  "base-uri 'none'",
];
const template = readFileSync(join(here, "src", "page.html"), "utf8");
const html = template
  .replace("__CSP__", () => policy.join("; "))
  .replace("__STYLE__", () => style)
  .replace("__LICENSES__", () => licenses)
  .replace("__SCRIPT__", () => script);
// The header adds what a <meta> policy cannot say: no framing.
const header = [...policy, "frame-ancestors 'none'"].join("; ") + "\n";
for (const [name, text] of [["intake.html", html], ["intake.csp", header]]) {
  const out = join(outDir, name);
  writeFileSync(`${out}.tmp`, text);
  renameSync(`${out}.tmp`, out);
  console.log(`${createHash("sha256").update(text).digest("hex")}  ${out} (${text.length} bytes)`);
}
