// The flat per-file state (verifier/src/paths.js) against the Maps it replaces:
// generated scans and manifests, honest and damaged, judged both ways by the
// same checks (checkPayload, checkOxum, checkTagManifest), which must name the
// same problems in the same order; and leftovers.candidate against its old
// spelling (by splitting the path).
//   node --test verifier/test/
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkOxum, checkPayload, checkTagManifest } from "../src/evaluate.js";
import * as L from "../src/layout.js";
import { candidate, MACOSX_DIR } from "../src/leftovers.js";
import { FileMap, ManifestMap, payloadTotals } from "../src/paths.js";

function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex64 = (rnd) => Array.from({ length: 64 }, () => "0123456789abcdef"[Math.floor(rnd() * 16)]).join("");
const pick = (rnd, list) => list[Math.floor(rnd() * list.length)];

/** A scan's files and its manifest's bytes, with every kind of difference between them. */
function generated(rnd) {
  const files = [];
  const count = 1 + Math.floor(rnd() * 300);
  for (let k = 0; k < count; k++) {
    const path = rnd() < 0.9 ? `data/${pick(rnd, ["a", "b/c", "Ä", "ü/x"])}/f${k}` : pick(rnd, ["bagit.txt", "custody/x", `custody/chain/${k}`, "tagmanifest-sha256.txt"]);
    files.push([path, { size: Math.floor(rnd() * 1e6), sha256: rnd() < 0.02 ? "not hex" : hex64(rnd) }]);
  }
  const lines = [];
  for (const [path, f] of files) {
    const r = rnd();
    if (r < 0.05) continue; // an extra file
    let digest = r < 0.1 ? hex64(rnd) : f.sha256; // changed
    if (digest === "not hex") digest = hex64(rnd);
    if (rnd() < 0.05) digest = digest.toUpperCase();
    lines.push(`${digest}  ${r < 0.13 ? `${path}-gone` : path}`); // missing (or renamed)
    if (rnd() < 0.02) lines.push(`${hex64(rnd)}  ${path}`); // listed twice
  }
  if (rnd() < 0.2) lines.push("not a line");
  if (rnd() < 0.2) lines.push(`${hex64(rnd)}  ../escape`);
  if (rnd() < 0.2) lines.push(`${hex64(rnd)}  outside/data`);
  if (rnd() < 0.1) lines.push(`${hex64(rnd)}  data/with%0Anewline`);
  for (let k = lines.length - 1; k > 0 && rnd() < 0.3; k--) {
    const j = Math.floor(rnd() * (k + 1));
    [lines[k], lines[j]] = [lines[j], lines[k]];
  }
  let text = lines.join(rnd() < 0.1 ? "\r\n" : "\n") + (rnd() < 0.8 ? "\n" : "");
  let bytes = new TextEncoder().encode(text);
  if (rnd() < 0.05) bytes = Uint8Array.from([...bytes, 0xff]); // not UTF-8
  return { files, bytes };
}

function judged(files, manifestBytes, flat) {
  const scan = {
    location: "x",
    files: flat ? new FileMap() : new Map(),
    tagBytes: new Map([[L.MANIFEST, manifestBytes]]),
    problems: [],
    oddPaths: new Set(),
  };
  for (const [path, f] of files) scan.files.set(path, f);
  const parsed = flat ? L.parseManifest(manifestBytes, new ManifestMap(scan.files.table)) : L.parseManifest(manifestBytes);
  const problems = parsed.errors.map((e) => e.detail);
  const out = [];
  checkPayload(scan, parsed.entries, out);
  checkOxum(scan, new Map([["Payload-Oxum", "1.1"]]), out);
  checkTagManifest(scan, out);
  return {
    problems,
    out,
    entries: [...parsed.entries],
    keys: [...parsed.entries.keys()],
    size: parsed.entries.size,
    has: files.map(([p]) => [parsed.entries.has(p), parsed.entries.get(p), scan.files.has(p), scan.files.get(p)]),
    files: [...scan.files],
    totals: payloadTotals(scan.files, L.isTagPath),
  };
}

test("a flat scan and its joined manifest judge as Maps do", () => {
  const rnd = random(26);
  for (let k = 0; k < 300; k++) {
    const { files, bytes } = generated(rnd);
    assert.deepEqual(judged(files, bytes, true), judged(files, bytes, false), `case ${k}`);
  }
});

test("a view without the files set aside reads as the Map without them", () => {
  const rnd = random(7);
  const flat = new FileMap();
  const map = new Map();
  for (let k = 0; k < 500; k++) {
    const f = { size: k, sha256: hex64(rnd) };
    flat.set(`data/${k}`, f);
    map.set(`data/${k}`, f);
  }
  const gone = new Set(["data/3", "data/70", "data/499", "data/nothing"]);
  const less = flat.less(gone);
  for (const p of gone) map.delete(p);
  assert.equal(less.size, map.size);
  assert.deepEqual([...less], [...map]);
  assert.deepEqual([...less.keys()], [...map.keys()]);
  assert.equal(less.has("data/3"), false);
  assert.equal(less.get("data/70"), undefined);
  assert.deepEqual(less.get("data/4"), map.get("data/4"));
});

test("candidate() answers as splitting the path did", () => {
  const old = (path) => {
    const parts = path.split("/");
    const name = parts[parts.length - 1];
    return (
      name === ".DS_Store" || name === "Thumbs.db" || name === "desktop.ini" || name.startsWith("._") ||
      [".Spotlight-V100", ".Trashes", ".fseventsd"].includes(parts[0]) || parts[0] === MACOSX_DIR
    );
  };
  const bits = ["", "a", ".DS_Store", "Thumbs.db", "desktop.ini", "._", "._x", ".Spotlight-V100", ".Trashes", ".fseventsd", MACOSX_DIR, "x.DS_Store", ".Trashesx"];
  for (const sep of ["", "/"]) {
    for (const a of bits) for (const b of bits) for (const c of bits) {
      const path = [a, b, c].join(sep);
      assert.equal(candidate(path), old(path), JSON.stringify(path));
    }
  }
});
