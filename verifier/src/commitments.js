// disclosure/check_bundle.py and disclosure/leaves.py, ported: the salted
// commitments of a bundle (custody/commitments.jsonl) against its signed
// statement's root and counts, and the file leaves against the manifest.
// Also the RFC 9162 tree (disclosure/tree.py) the disclosure checks use.
import * as L from "./layout.js";
import { leafHash, nodeHash } from "./ledger.js";
import { decodeStrict, hex, isCount, isPlainObject } from "./util.js";

export const COMMITMENTS = "custody/commitments.jsonl";
const problem = (kind, path, detail) => ({ kind, path, detail });

const REQUIRED = {
  file: [["path", "string"], ["sha256", "string"], ["size", "int"]],
  field: [["file", "int"], ["name", "string"]],
  layout: [["file", "int"], ["format", "string"], ["parts", "array"]],
  part: [["file", "int"], ["n", "int"], ["size", "int"], ["sha256", "string"]],
  note: [["value", "string"]],
  members: [["file", "int"], ["first", "int"], ["count", "int"]],
  member: [["file", "int"], ["n", "int"], ["path", "string"], ["sha256", "string"], ["size", "int"]],
};

/** Python's json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=True) for
 * the values leaves hold (strings, integers, objects, arrays, booleans, null). */
export function leafSpelling(value) {
  if (Array.isArray(value)) return `[${value.map(leafSpelling).join(",")}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${keys.map((k) => `${leafSpelling(k)}:${leafSpelling(value[k])}`).join(",")}}`;
  }
  if (typeof value === "string") {
    return JSON.stringify(value).replace(
      /[\u007f-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
  }
  if (typeof value === "number" && !Number.isInteger(value)) throw new Error("float");
  return JSON.stringify(value);
}

/** The text in custody's leaf spelling (compact, keys sorted, ASCII escapes as
 * Python writes them), numbers kept as written: JavaScript reads 2.0 as 2, and
 * Python's float spelling is Python's. Null when the text is not JSON. */
export function respell(text) {
  let i = 0;
  const fail = () => {
    throw new Error("not JSON");
  };
  const value = () => {
    const c = text[i];
    if (c === "{") {
      i++;
      const members = [];
      if (text[i] === "}") {
        i++;
        return "{}";
      }
      for (;;) {
        if (text[i] !== '"') fail();
        const keyStart = i;
        const key = string();
        const keyText = text.slice(keyStart, i);
        if (text[i++] !== ":") fail();
        members.push([JSON.parse(keyText), key, value()]);
        if (text[i] === ",") i++;
        else if (text[i] === "}") {
          i++;
          break;
        } else fail();
      }
      const cp = (a) => [...a].map((ch) => ch.codePointAt(0));
      members.sort((a, b) => {
        const x = cp(a[0]);
        const y = cp(b[0]);
        for (let k = 0; k < Math.min(x.length, y.length); k++) if (x[k] !== y[k]) return x[k] - y[k];
        return x.length - y.length;
      });
      return `{${members.map(([, k, v]) => `${k}:${v}`).join(",")}}`;
    }
    if (c === "[") {
      i++;
      const items = [];
      if (text[i] === "]") {
        i++;
        return "[]";
      }
      for (;;) {
        items.push(value());
        if (text[i] === ",") i++;
        else if (text[i] === "]") {
          i++;
          break;
        } else fail();
      }
      return `[${items.join(",")}]`;
    }
    if (c === '"') return string();
    const m = /^(-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (!m) fail();
    i += m[0].length;
    return m[0];
  };
  const string = () => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    if (i >= text.length) fail();
    i++;
    return leafSpelling(JSON.parse(text.slice(start, i)));
  };
  try {
    const out = value();
    return i === text.length ? out : null;
  } catch {
    return null;
  }
}

/** leaves.parse_leaf: {kind, fields}; throws Error with the reason. */
export function parseLeaf(bytes) {
  for (const b of bytes) if (b > 0x7f) throw new Error("not an ASCII JSON leaf");
  const text = decodeStrict(bytes);
  let obj;
  try {
    obj = JSON.parse(text);
  } catch {
    throw new Error("not an ASCII JSON leaf");
  }
  if (!isPlainObject(obj)) throw new Error("not a JSON object");
  const req = REQUIRED[obj.kind];
  if (req === undefined) throw new Error(`unknown kind ${JSON.stringify(obj.kind)}`);
  if (typeof obj.salt !== "string" || !/^[0-9a-f]{64}$/.test(obj.salt)) {
    throw new Error("salt is not 32 bytes of lowercase hex");
  }
  for (const [name, type] of req) {
    const v = obj[name];
    const ok =
      type === "int" ? isCount(v) : type === "array" ? Array.isArray(v) : typeof v === type;
    if (!ok) throw new Error(`${obj.kind} leaf: field '${name}' missing or of the wrong type`);
  }
  if (obj.kind === "field" && !("value" in obj)) throw new Error("field leaf has no value");
  if (respell(text) !== text) {
    throw new Error("not in custody's spelling (compact, sorted keys, ASCII)");
  }
  return { kind: obj.kind, fields: obj };
}

/** MTH over leaf hashes (merkle.root_from_leaves), iteratively by perfect subtrees. */
export function rootOf(hashes) {
  if (hashes.length === 0) return null;
  const levels = [hashes];
  while (levels[levels.length - 1].length > 1) {
    const below = levels[levels.length - 1];
    const up = [];
    for (let i = 0; i + 1 < below.length; i += 2) up.push(nodeHash(below[i], below[i + 1]));
    levels.push(up);
  }
  const subtree = (start, end) => {
    const size = end - start;
    if ((size & (size - 1)) === 0 && start % size === 0) {
      const level = Math.log2(size);
      return levels[level][start >> level];
    }
    const k = 2 ** Math.floor(Math.log2(size - 1));
    return nodeHash(subtree(start, start + k), subtree(start + k, end));
  };
  return subtree(0, hashes.length);
}

function splitLines(data) {
  const lines = [];
  let start = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0x0a) {
      lines.push(data.subarray(start, i));
      start = i + 1;
    }
  }
  return { lines, rest: data.subarray(start) };
}

/** check_bundle.check_commitments: problems pushed; returns the committed note or null. */
export function checkCommitments(scan, statement, manifest, problems) {
  const com = statement?.commitments;
  if (statement === null || com === undefined || com === null) return null;
  if (!isPlainObject(com) || !isCount(com.leaves) || !isCount(com.files)) {
    problems.push(problem("bad_statement", L.STATEMENT, "commitments malformed"));
    return null;
  }
  const data = scan.tagBytes.get(COMMITMENTS);
  if (data === undefined) {
    if (!scan.files.has(COMMITMENTS)) {
      problems.push(problem("missing", COMMITMENTS, "the commitments the statement signed are missing"));
    }
    return null;
  }
  const { lines, rest } = splitLines(data);
  if (rest.length !== 0) {
    problems.push(problem("statement_mismatch", COMMITMENTS, "last line has no line ending"));
    return null;
  }
  if (lines.length !== com.leaves) {
    problems.push(
      problem("statement_mismatch", COMMITMENTS, `holds ${lines.length} leaves, the statement signed ${com.leaves}`),
    );
    return null;
  }
  const root = rootOf(lines.map(leafHash));
  if (root === null || hex(root) !== com.root) {
    problems.push(problem("statement_mismatch", COMMITMENTS, "does not lead to the root the statement signed"));
    return null;
  }
  const listed = new Map();
  for (let i = 0; i < Math.min(com.files, lines.length); i++) {
    let leaf;
    try {
      leaf = parseLeaf(lines[i]);
    } catch (e) {
      problems.push(problem("statement_mismatch", COMMITMENTS, `leaf ${i}: ${e.message}`));
      return null;
    }
    listed.set(leaf.fields.path, leaf.fields.sha256);
  }
  if (scan.files.has(L.MANIFEST)) {
    let same = listed.size === manifest.size;
    for (const [path, digest] of manifest) if (listed.get(path) !== digest) same = false;
    if (!same) {
      problems.push(problem("statement_mismatch", COMMITMENTS, "the committed files are not the manifest's"));
    }
  }
  const at = com.note_leaf;
  if (isCount(at) && at >= 0 && at < lines.length) {
    try {
      return String(parseLeaf(lines[at]).fields.value);
    } catch {
      problems.push(problem("statement_mismatch", COMMITMENTS, "the note leaf is unreadable"));
    }
  }
  return null;
}
