// The zip reader that reads the central directory in slices (verifier/src/zip.js)
// against the reader that read it whole (zip_oracle.js, the page before): on every
// zip among the shared vectors, and on generated zips, honest and damaged, read
// with slices so small that records straddle them, the same members (every field)
// or the same refusal, word for word.
//   node --test verifier/test/
import assert from "node:assert/strict";
import { existsSync, openAsBlob, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { collisionKey, collisionKeySlowly, crc32 } from "../src/readings.js";
import { listZip } from "../src/zip.js";
import { listZip as oracleListZip } from "./zip_oracle.js";

const here = dirname(fileURLToPath(import.meta.url));
const vectors = resolve(join(here, "..", "..", "tests", "vectors"));

/** A reproducible stream of numbers (mulberry32). */
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

const utf8 = new TextEncoder();
const u16 = (v) => [v & 0xff, (v >>> 8) & 0xff];
const u32 = (v) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const u64 = (v) => [...u32(v % 2 ** 32), ...u32(Math.floor(v / 2 ** 32))];

/** A stored zip of `members` [{name: bytes, data: bytes, flags, mode, zip64, unicodePath}]. */
function makeZip(members) {
  const out = [];
  const central = [];
  let at = 0;
  for (const m of members) {
    const crc = crc32(m.data);
    let extra = [];
    let size32 = m.data.length;
    let offset32 = at;
    if (m.zip64) {
      extra = [...u16(1), ...u16(24), ...u64(m.data.length), ...u64(m.data.length), ...u64(at)];
      size32 = 0xffffffff;
      offset32 = 0xffffffff;
    }
    if (m.unicodePath) extra = [...extra, ...u16(0x7075), ...u16(5 + m.name.length), 1, ...u32(crc32(m.name)), ...m.name];
    const localExtra = m.zip64 ? [...u16(1), ...u16(16), ...u64(m.data.length), ...u64(m.data.length)] : [];
    if (m.unicodePath) localExtra.push(...u16(0x7075), ...u16(5 + m.name.length), 1, ...u32(crc32(m.name)), ...m.name);
    const local = [
      ...u32(0x04034b50), ...u16(m.zip64 ? 45 : 20), ...u16(m.flags), ...u16(0), ...u16(0), ...u16(0),
      ...u32(crc), ...u32(size32), ...u32(size32), ...u16(m.name.length), ...u16(localExtra.length),
      ...m.name, ...localExtra,
    ];
    out.push(Uint8Array.from(local), m.data);
    central.push(
      Uint8Array.from([
        ...u32(0x02014b50), ...u16(0x031e), ...u16(m.zip64 ? 45 : 20), ...u16(m.flags), ...u16(0), ...u16(0), ...u16(0),
        ...u32(crc), ...u32(size32), ...u32(size32), ...u16(m.name.length), ...u16(extra.length), ...u16(0),
        ...u16(0), ...u16(0), ...u32(m.mode * 65536), ...u32(offset32), ...m.name, ...extra,
      ]),
    );
    at += local.length + m.data.length;
  }
  const cdSize = central.reduce((n, c) => n + c.length, 0);
  const end = Uint8Array.from([
    ...u32(0x06054b50), ...u16(0), ...u16(0), ...u16(members.length), ...u16(members.length),
    ...u32(cdSize), ...u32(at), ...u16(0),
  ]);
  return new Blob([...out, ...central, end]);
}

const PIECES = ["data", "custody", "a", "A", "B", "name", "dir", "ÄÖ", "é", "файл", "x.txt", "..", ".", "", " ", "CON", "name.", "\\"];

function randomZip(rnd) {
  const count = 1 + Math.floor(rnd() * 400);
  const odd = rnd() < 0.4 ? 0.01 : 0; // half the zips have no member a reader refuses
  const members = [];
  for (let k = 0; k < count; k++) {
    const depth = 1 + Math.floor(rnd() * 3);
    const parts = [];
    for (let d = 0; d < depth; d++) parts.push(PIECES[Math.floor(rnd() * PIECES.length)] + (rnd() < 1 - odd ? String(k) : ""));
    let name = utf8.encode(parts.join("/") + (rnd() < 0.05 ? "/" : ""));
    let flags = rnd() < 0.5 ? 0x800 : 0;
    if (rnd() < odd) name = Uint8Array.from([...name, 0x80 + Math.floor(rnd() * 0x40)]); // not UTF-8 alone
    if (rnd() < odd) flags |= 0x40; // a flag extractors treat differently
    const data = Uint8Array.from({ length: Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256));
    const mode = rnd() < 0.05 ? 0o120777 : rnd() < 0.5 ? 0o100644 : 0;
    members.push({ name, data, flags, mode, zip64: rnd() < 0.1, unicodePath: rnd() < 0.05 });
    if (rnd() < odd && k > 0) members.push({ ...members[Math.floor(rnd() * k)] }); // a duplicate
  }
  return makeZip(members);
}

/** Flip a few bytes of a zip, in its central directory mostly. */
async function damage(blob, rnd) {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  const flips = 1 + Math.floor(rnd() * 3);
  for (let f = 0; f < flips; f++) {
    const at = rnd() < 0.8 ? bytes.length - 1 - Math.floor(rnd() * Math.min(bytes.length, 4000)) : Math.floor(rnd() * bytes.length);
    bytes[at] = Math.floor(rnd() * 256);
  }
  return new Blob([bytes]);
}

async function outcome(read, blob) {
  try {
    const members = await read(blob);
    const list = Array.isArray(members) ? members : Array.from({ length: members.length }, (_, i) => members.get(i));
    return {
      members: list.map((m) => ({ ...m, rawName: Array.from(m.rawName) })),
    };
  } catch (e) {
    return { error: `${e.constructor.name}: ${e.message}` };
  }
}

async function same(blob, slice, what) {
  const expected = await outcome(oracleListZip, blob);
  const got = await outcome((b) => listZip(b, { slice }), blob);
  assert.deepEqual(got, expected, what);
  return expected;
}

test("the zips among the shared vectors read the same", async () => {
  const zips = readdirSync(vectors, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => join(vectors, e.name, "bundle.zip"))
    .filter((p) => existsSync(p));
  assert.ok(zips.length > 0);
  for (const path of zips) {
    const blob = await openAsBlob(path);
    for (const slice of [1, 47, 1024 * 1024]) await same(blob, slice, `${path}, slices of ${slice}`);
  }
});

test("generated zips, honest and damaged, read the same with any slice", async () => {
  const rnd = random(26);
  let refused = 0;
  let read = 0;
  for (let k = 0; k < 60; k++) {
    const honest = randomZip(rnd);
    const slice = [1, 46, 100, 4096][k % 4];
    for (const blob of [honest, await damage(honest, rnd), await damage(honest, rnd)]) {
      const result = await same(blob, slice, `zip ${k}, slices of ${slice}`);
      if (result.error) refused += 1;
      else read += 1;
    }
  }
  // Both outcomes are exercised.
  assert.ok(refused > 20 && read > 15, `${read} read, ${refused} refused`);
});

test("collision keys: the quick path for plain names gives the full rewriting's key", () => {
  const rnd = random(3);
  const alphabet = ["a", "Z", "0", "/", ".", " ", "\\", "ß", "ﬁ", "é", "İ", "~", "-", "_", "\u00a0", "\u{1F600}"];
  for (let k = 0; k < 20000; k++) {
    const length = Math.floor(rnd() * 12);
    const name = Array.from({ length }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join("");
    assert.equal(collisionKey(name), collisionKeySlowly(name), JSON.stringify(name));
  }
});
