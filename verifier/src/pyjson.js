// Python's json: custody writes custody/ledger-proof.json with
// json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n" and
// accepts only that spelling (docs/format.md). To say whether a file is that
// spelling, it is parsed as Python's json.loads parses (integers apart from
// floats, NaN and Infinity accepted, the last of duplicate keys kept) and
// written back as json.dumps writes.
import { compareUtf8 } from "./util.js";

class PyJsonError extends Error {}

/** Parse JSON text as Python does: {t: "int"|"float"|"str"|..., v}. Throws PyJsonError. */
export function pyLoads(text) {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const fail = () => {
    throw new PyJsonError(`bad JSON at ${i}`);
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const map = new Map();
      ws();
      if (text[i] === "}") {
        i++;
        return { t: "obj", v: map };
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        const k = string();
        ws();
        if (text[i] !== ":") fail();
        i++;
        map.set(k, value());
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return { t: "obj", v: map };
        }
        fail();
      }
    }
    if (c === "[") {
      i++;
      const list = [];
      ws();
      if (text[i] === "]") {
        i++;
        return { t: "list", v: list };
      }
      for (;;) {
        list.push(value());
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return { t: "list", v: list };
        }
        fail();
      }
    }
    if (c === '"') return { t: "str", v: string() };
    for (const [word, node] of [
      ["null", { t: "null" }],
      ["true", { t: "bool", v: true }],
      ["false", { t: "bool", v: false }],
      ["NaN", { t: "float", v: NaN }],
      ["Infinity", { t: "float", v: Infinity }],
      ["-Infinity", { t: "float", v: -Infinity }],
    ]) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return node;
      }
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/.exec(text.slice(i, i + 4000));
    if (!m) fail();
    i += m[0].length;
    if (m[2] === undefined && m[3] === undefined) return { t: "int", v: BigInt(m[0]) };
    return { t: "float", v: Number(m[0]) };
  };
  const string = () => {
    i++;
    let out = "";
    for (;;) {
      const c = text[i];
      if (c === undefined) fail();
      if (c === '"') {
        i++;
        return out;
      }
      if (c < " ") fail();
      if (c === "\\") {
        const e = text[i + 1];
        const simple = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
        if (e in simple) {
          out += simple[e];
          i += 2;
          continue;
        }
        if (e !== "u") fail();
        const hex = text.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail();
        out += String.fromCharCode(parseInt(hex, 16));
        i += 6;
        continue;
      }
      out += c;
      i++;
    }
  };
  const v = value();
  ws();
  if (i !== text.length) fail();
  return v;
}

function pyFloat(x) {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  // repr(): the shortest round-trip digits, fixed for 1e-4 <= |x| < 1e16.
  const [mantissa, expText] = x.toExponential().split("e");
  const exp = Number(expText);
  const digits = mantissa.replace("-", "").replace(".", "");
  const sign = x < 0 || Object.is(x, -0) ? "-" : "";
  if (exp >= -5 + 1 && exp < 16) {
    if (exp >= 0) {
      const whole = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
      const frac = digits.slice(exp + 1) || "0";
      return `${sign}${whole}.${frac}`;
    }
    return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
}

const ESC = { '"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f" };
const pyString = (s) =>
  `"${s.replace(/["\\\x00-\x1f]/g, (c) => ESC[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)}"`;

/** json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False). */
export function pyDumpsIndent2(node, level = 0) {
  const pad = "  ".repeat(level + 1);
  const end = "  ".repeat(level);
  switch (node.t) {
    case "null":
      return "null";
    case "bool":
      return node.v ? "true" : "false";
    case "int":
      return node.v.toString();
    case "float":
      return pyFloat(node.v);
    case "str":
      return pyString(node.v);
    case "list":
      if (!node.v.length) return "[]";
      return `[\n${node.v.map((x) => pad + pyDumpsIndent2(x, level + 1)).join(",\n")}\n${end}]`;
    default: {
      if (!node.v.size) return "{}";
      const keys = [...node.v.keys()].sort(compareUtf8);
      return `{\n${keys.map((k) => `${pad}${pyString(k)}: ${pyDumpsIndent2(node.v.get(k), level + 1)}`).join(",\n")}\n${end}}`;
    }
  }
}

/** The bytes custody would write for this JSON text's document, or null
 * when Python could not write them back (a lone surrogate). */
export function proofDocBytes(text) {
  let node;
  try {
    node = pyLoads(text);
  } catch {
    return null;
  }
  const out = `${pyDumpsIndent2(node)}\n`;
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(out)) return null;
  return new TextEncoder().encode(out);
}
