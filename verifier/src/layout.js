// The bundle's names, manifest lines and bag-info fields (docs/format.md),
// as custody's bundle/layout.py reads them.
import { canonicalJson, compareUtf8, decodeLenient, decodeStrict, equalBytes, isStrictUtf8 } from "./util.js";

export const BAGIT_TXT = "bagit.txt";
export const BAG_INFO = "bag-info.txt";
export const MANIFEST = "manifest-sha256.txt";
export const TAG_MANIFEST = "tagmanifest-sha256.txt";
export const PAYLOAD_DIR = "data";
export const STATEMENT = "custody/statement.json";
export const SIGNATURE = "custody/statement.sig";
export const SIGNER_KEY = "custody/signer.pub";
export const METADATA = "custody/metadata.json";
export const PROOF_PATH = "custody/ledger-proof.json";
export const CHAIN_DIR = "custody/chain";
export const TIMESTAMPS_DIR = "custody/timestamps";
export const TEAM_PROOF = "custody/team-proof.json";
export const REQUIRED_TAG_FILES = [BAGIT_TXT, BAG_INFO, MANIFEST, STATEMENT, SIGNATURE, SIGNER_KEY, METADATA];
/** Tag files larger than this are hashed but not read (custody's cap). */
export const MAX_TAG_FILE_BYTES = 256 * 1024 * 1024;

export const isTagPath = (path) => !path.startsWith(PAYLOAD_DIR + "/");
export const isChainPath = (path) => path.startsWith(CHAIN_DIR + "/");
/** Tag files whose bytes verification reads (all but the payload and the metadata). */
export const wantsBytes = (path) => isTagPath(path) && path !== METADATA;

const DRIVE = /^[A-Za-z]:/;
const CONTROL = /[\x00-\x1f]/;

/** Why a relative path from a bundle or archive is unsafe, or null (fsutil.unsafe_path_reason). */
export function unsafePathReason(path) {
  if (path === "") return "empty path";
  if (path.includes("\x00")) return "NUL character in path";
  if (CONTROL.test(path)) return "control character in path";
  if (path.includes("\\")) return "backslash in path";
  if (path.startsWith("/")) return "absolute path";
  if (path.startsWith("~")) return "path starts with '~'";
  if (DRIVE.test(path)) return "drive letter in path";
  const parts = path.split("/");
  if (parts.includes("..")) return "'..' in path";
  if (parts.slice(0, -1).includes("") || parts.includes(".")) return "empty or '.' component in path";
  return null;
}

const PERCENT = { "25": "%", "0d": "\r", "0a": "\n" };

export function decodeManifestPath(path) {
  if (!path.includes("%")) return path;
  return path.replace(/%(25|0[dD]|0[aA])/g, (_, code) => PERCENT[code.toLowerCase()]);
}

const MANIFEST_LINE = /^([0-9a-fA-F]{64})[ \t]+(.+)$/s;

/** Manifest bytes -> {entries: Map(path -> sha256), errors: [{line, path, detail}]}.
 * Read line by line, never as one string. `entries` may be given: a Map, or a
 * ManifestMap (paths.js) that joins the entries into a scan's table. */
export function parseManifest(bytes, entries = new Map()) {
  const errors = [];
  if (!isStrictUtf8(bytes)) return { entries, errors: [{ line: 0, path: null, detail: "not valid UTF-8" }] };
  const add = entries instanceof Map ? (path, digest) => entries.set(path, digest) : (path, digest) => entries.add(path, digest);
  let number = 0;
  for (let start = 0; start < bytes.length; ) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    const raw = decodeStrict(bytes.subarray(start, end));
    start = end + 1;
    number += 1;
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const m = MANIFEST_LINE.exec(line);
    if (!m) {
      errors.push({ line: number, path: null, detail: `line ${number} is not 'sha256 path'` });
      continue;
    }
    const path = decodeManifestPath(m[2]);
    const reason = unsafePathReason(path);
    if (reason !== null) {
      errors.push({ line: number, path, detail: `line ${number}: ${reason}` });
      continue;
    }
    if (entries.has(path)) {
      errors.push({ line: number, path, detail: `line ${number}: listed more than once` });
      continue;
    }
    add(path, m[1].toLowerCase());
  }
  return { entries, errors };
}

/** Python's str.splitlines() line breaks. */
const SPLITLINES = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/;

/** bag-info.txt as [label, value] pairs, continuation lines joined (layout.parse_bag_info). */
export function parseBagInfo(bytes) {
  const fields = [];
  const text = decodeLenient(bytes);
  const lines = text.split(SPLITLINES);
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  for (const line of lines) {
    if ((line[0] === " " || line[0] === "\t") && fields.length) {
      const [label, value] = fields[fields.length - 1];
      fields[fields.length - 1] = [label, `${value} ${pyStrip(line)}`];
    } else if (line.includes(":")) {
      const at = line.indexOf(":");
      fields.push([pyStrip(line.slice(0, at)), pyStrip(line.slice(at + 1))]);
    }
  }
  return fields;
}

/** Python's str.strip(): Unicode whitespace. */
export const pyStrip = (s) => s.replace(/^[\s\x1c-\x1f\x85]+|[\s\x1c-\x1f\x85]+$/g, "");

/** The dict() of pairs: the last value of a label wins, as in Python. */
export const lastWins = (pairs) => new Map(pairs);

export const BAGIT_TXT_BYTES = new TextEncoder().encode("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n");

export const encodeManifestPath = (path) => path.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");

/** Manifest bytes as custody writes them: sorted by the UTF-8 bytes of the path. */
export function formatManifest(entries) {
  const rows = [...entries].sort((a, b) => compareUtf8(a[0], b[0]));
  return new TextEncoder().encode(rows.map(([p, d]) => `${d}  ${encodeManifestPath(p)}\n`).join(""));
}

// --- tag files are the bytes custody wrote (layout.respelled_text, describe_difference)

const BOM = Uint8Array.of(0xef, 0xbb, 0xbf);
const startsWith = (a, prefix) => prefix.every((b, i) => a[i] === b);

function splitBytes(data, byte) {
  const out = [];
  let start = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === byte) {
      out.push(data.subarray(start, i));
      start = i + 1;
    }
  }
  out.push(data.subarray(start));
  return out;
}

function rstripBlanks(line) {
  let end = line.length;
  while (end > 0 && (line[end - 1] === 0x20 || line[end - 1] === 0x09)) end--;
  return line.subarray(0, end);
}

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const key = (line) => Array.from(line, (b) => String.fromCharCode(b)).join("");

/** `data` with a BOM, CR LF, trailing blanks and a missing final LF undone. */
export function respelledText(data) {
  if (startsWith(data, BOM)) data = data.subarray(3);
  const text = key(data).replace(/\r\n/g, "\n");
  const lines = text.split("\n");
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  const out = lines.map((l) => `${l.replace(/[ \t]+$/, "")}\n`).join("");
  return Uint8Array.from(out, (c) => c.charCodeAt(0));
}

/** How a tag file's bytes differ from what custody writes, or null. */
export function describeDifference(actual, expected) {
  if (same(actual, expected)) return null;
  if (startsWith(actual, BOM)) return "starts with a byte-order mark (custody writes none)";
  const cr = actual.indexOf(0x0d);
  if (cr >= 0 && expected.indexOf(0x0d) < 0) {
    const where = actual.subarray(0, cr).filter((b) => b === 0x0a).length + 1;
    return `line ${where} ends in CR LF (custody writes LF line endings)`;
  }
  if (actual.length + 1 === expected.length && expected[actual.length] === 0x0a && startsWith(expected, actual)) {
    return "last line has no line ending";
  }
  if (!actual.length) return "is empty";
  const got = splitBytes(actual, 0x0a);
  const want = splitBytes(expected, 0x0a);
  for (let i = 0; i < got.length; i++) {
    if (rstripBlanks(got[i]).length !== got[i].length) return `line ${i + 1} ends in white space`;
  }
  const seen = new Map();
  for (let i = 0; i < got.length; i++) {
    const k = key(got[i]);
    if (got[i].length && seen.has(k)) return `line ${i + 1} repeats line ${seen.get(k)}`;
    if (!seen.has(k)) seen.set(k, i + 1);
  }
  const sortedKeys = (lines) => lines.map(key).sort();
  const a = sortedKeys(got);
  const b = sortedKeys(want);
  if (a.length === b.length && a.every((x, i) => x === b[i])) return "lines are not in the order custody writes them";
  for (let i = 0; i < Math.min(got.length, want.length); i++) {
    if (!same(got[i], want[i])) return `line ${i + 1} differs from what custody writes`;
  }
  if (got.length > want.length) return `has ${got.length - want.length} line(s) more than custody writes`;
  return `has ${want.length - got.length} line(s) fewer than custody writes`;
}

// --- custody/names.json: original names of files stored under portable ones (bundle/names.py)

export const NAMES = "custody/names.json";
const NAMES_FORMAT = "custody/names/v1";
const MAX_COMPONENT_BYTES = 255;
const HEX = /^(?:[0-9a-f]{2})+$/;
const exactKeys = (obj, keys) =>
  obj !== null && typeof obj === "object" && !Array.isArray(obj) &&
  Object.keys(obj).length === keys.length && keys.every((k) => Object.hasOwn(obj, k));

/** A byte string (one char per byte) from lowercase hex. */
const hexToBinary = (h) => h.replace(/../g, (b) => String.fromCharCode(parseInt(b, 16)));
const binaryOf = (text) => Array.from(new TextEncoder().encode(text), (b) => String.fromCharCode(b)).join("");

/** names.json bytes -> {originals: Map(stored path -> original as a byte string)} or {error}. */
export function parseNamesFile(bytes) {
  const text = decodeStrict(bytes);
  if (text === null) return { error: "not UTF-8" };
  let obj;
  try {
    obj = JSON.parse(text);
  } catch {
    return { error: "not JSON" };
  }
  if (!exactKeys(obj, ["format", "names"])) return { error: "not an object with exactly 'format' and 'names'" };
  if (obj.format !== NAMES_FORMAT) return { error: `unknown format ${JSON.stringify(obj.format)}` };
  if (!Array.isArray(obj.names)) return { error: "'names' is not a list" };
  const originals = new Map();
  const hexes = new Map();
  for (const [i, entry] of obj.names.entries()) {
    if (!exactKeys(entry, ["original_hex", "path"])) {
      return { error: `entry ${i + 1} is not an object with 'original_hex' and 'path'` };
    }
    const { path, original_hex: hexed } = entry;
    if (typeof path !== "string" || typeof hexed !== "string" || !HEX.test(hexed)) {
      return { error: `entry ${i + 1}: 'path' or 'original_hex' (lowercase hex) malformed` };
    }
    if (originals.has(path)) return { error: `entry ${i + 1}: ${JSON.stringify(path)} is listed more than once` };
    originals.set(path, hexToBinary(hexed));
    hexes.set(path, hexed);
  }
  const rows = [...hexes].sort((a, b) => compareUtf8(a[0], b[0])).map(([path, h]) => ({ original_hex: h, path }));
  const canonical = canonicalJson({ format: NAMES_FORMAT, names: rows });
  if (canonical === null || !equalBytes(new TextEncoder().encode(canonical), bytes)) {
    return { error: "not in the form custody writes (RFC 8785, entries sorted by path)" };
  }
  return { originals };
}

/** names.original_path_reason, on a byte string. */
function originalPathReason(original) {
  if (original.includes("\x00")) return "NUL in original name";
  const parts = original.split("/");
  if (parts.some((p) => p === "" || p === "." || p === "..")) {
    return "original name is absolute, or has an empty, '.' or '..' component";
  }
  if (parts.some((p) => p.length > MAX_COMPONENT_BYTES)) return "original name has a component longer than 255 bytes";
  return null;
}

/** names.check_names_map: [{path, detail}]. */
export function checkNamesMap(originals, manifestPaths) {
  const prefix = PAYLOAD_DIR + "/";
  const problems = [];
  const listed = new Set(manifestPaths);
  for (const [path, original] of originals) {
    if (!listed.has(path) || !path.startsWith(prefix)) {
      problems.push({ path, detail: "names a file the payload manifest does not list" });
    } else if (original === binaryOf(path.slice(prefix.length))) {
      problems.push({ path, detail: "original name is the stored name" });
    }
    const reason = originalPathReason(original);
    if (reason !== null) problems.push({ path, detail: reason });
  }
  const restored = new Map();
  for (const path of [...listed].sort(compareUtf8)) {
    if (!path.startsWith(prefix)) continue;
    const original = originals.get(path) ?? binaryOf(path.slice(prefix.length));
    if (!restored.has(original)) restored.set(original, path);
    else problems.push({ path, detail: `same original name as ${restored.get(original)}` });
  }
  for (const [original, path] of restored) {
    const parts = original.split("/");
    for (let depth = 1; depth < parts.length; depth++) {
      const folder = parts.slice(0, depth).join("/");
      if (restored.has(folder)) {
        problems.push({ path, detail: `original name lies inside ${restored.get(folder)}'s name` });
        break;
      }
    }
  }
  return problems;
}
