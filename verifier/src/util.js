// Small pure helpers shared by the checks: bytes, hex, strict base64, SHA-256
// of bytes held in memory, Ed25519, and RFC 8785 canonical JSON.
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lenientUtf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

export const encode = (text) => utf8.encode(text);

/** UTF-8 text, or null when the bytes are not valid UTF-8 (Python's strict decode). */
export function decodeStrict(bytes) {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/** UTF-8 text with invalid sequences replaced (Python's errors="replace"). */
export const decodeLenient = (bytes) => lenientUtf8.decode(bytes);

/** Are these bytes strict UTF-8? Checked in slices, so that a large file (a manifest of
 * a million lines) is never decoded into one string to find out. */
export function isStrictUtf8(bytes) {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const SLICE = 4 * 1024 * 1024;
  try {
    for (let at = 0; at < bytes.length; at += SLICE) decoder.decode(bytes.subarray(at, at + SLICE), { stream: true });
    decoder.decode();
    return true;
  } catch {
    return false;
  }
}

export function hex(bytes) {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function equalBytes(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** SHA-256 of bytes in memory (tag files, Merkle nodes): raw digest. */
export const sha256Raw = (bytes) => sha256(bytes);
export const sha256Hex = (bytes) => hex(sha256(bytes));

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Python's base64.b64decode(s, validate=True): strict alphabet and padding;
 * returns null where Python raises binascii.Error. */
export function b64decode(text) {
  if (typeof text !== "string" || !B64.test(text) || text.length % 4 !== 0) return null;
  let bin;
  try {
    bin = atob(text);
  } catch {
    return null;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function b64encode(bytes) {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Ed25519 (RFC 8032, strict: no ZIP-215 leniency, as OpenSSL) over exact bytes. */
export function ed25519Valid(publicKey, signature, message) {
  if (!publicKey || publicKey.length !== 32 || !signature || signature.length !== 64) return false;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/** SHA-256 fingerprint of a raw 32-byte Ed25519 key (docs/keys.md). */
export const fingerprintOf = (raw) => sha256Hex(raw);

const PEM_BEGIN = "-----BEGIN PUBLIC KEY-----";
const PEM_END = "-----END PUBLIC KEY-----";
const ED25519_SPKI = Uint8Array.from([
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
]);

/** A custody .pub file or plain PEM: {name, fingerprint, raw}, or {error}
 * with custody's KeyFileError message when it holds no Ed25519 key. */
export function readPublicKeyFile(bytes) {
  const text = decodeLenient(bytes);
  const start = text.indexOf(PEM_BEGIN);
  if (start < 0) return { error: "not a PEM public key file" };
  const end = text.indexOf(PEM_END, start);
  if (end < 0) return { error: "damaged public key file" };
  const body = text.slice(start + PEM_BEGIN.length, end).replace(/[\r\n\t ]/g, "");
  const der = b64decode(body);
  if (!der || der.length < 2 || der[0] !== 0x30) return { error: "damaged public key file" };
  if (der.length !== 44 || !equalBytes(der.subarray(0, 12), ED25519_SPKI)) {
    return { error: "not an Ed25519 public key (unknown key type)" };
  }
  const raw = der.slice(12);
  let name = null;
  for (const line of text.slice(0, start).split(/\r\n|\r|\n/)) {
    if (line.startsWith("Name:")) name = line.slice(5).trim();
  }
  const fingerprint = fingerprintOf(raw);
  return { name: name || fingerprint.slice(0, 16), fingerprint, raw };
}

/** The key, or null (for the key the user chooses on the page). */
export function parsePublicKeyFile(bytes) {
  const info = readPublicKeyFile(bytes);
  return info.error === undefined ? info : null;
}

/** The public key file custody writes for a key (keys.public_key_file_bytes). */
export function publicKeyFileBytes(name, raw) {
  const fp = fingerprintOf(raw);
  const pem = `${PEM_BEGIN}\n${b64encode(concat(ED25519_SPKI, raw))}\n${PEM_END}\n`;
  return encode(`custody public key (Ed25519)\nName: ${name}\nFingerprint: ${fp.match(/.{4}/g).join(" ")}\n${pem}`);
}

/** JSON text parsed, or undefined when it is not JSON. */
export function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The RFC 8785 (JCS) serialisation of a parsed JSON value. JSON.stringify's
 * string and number forms are the ones JCS specifies; keys are sorted by
 * UTF-16 code units, as JCS requires. Returns null for values JCS cannot
 * encode (non-finite numbers). */
export function canonicalJson(value) {
  if (value === null || typeof value === "boolean" || typeof value === "string") {
    return JSON.stringify(value);
  }
  if (typeof value === "number") {
    return Number.isFinite(value) ? JSON.stringify(value) : null;
  }
  if (Array.isArray(value)) {
    const parts = [];
    for (const v of value) {
      const s = canonicalJson(v);
      if (s === null) return null;
      parts.push(s);
    }
    return `[${parts.join(",")}]`;
  }
  const parts = [];
  for (const key of Object.keys(value).sort()) {
    const s = canonicalJson(value[key]);
    if (s === null) return null;
    parts.push(`${JSON.stringify(key)}:${s}`);
  }
  return `{${parts.join(",")}}`;
}

/** True when `bytes` are exactly the canonical form of `value`. */
export const isCanonical = (value, bytes) => {
  const c = canonicalJson(value);
  return c !== null && equalBytes(encode(c), bytes);
};

export const isPlainObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
export const isCount = (v) => typeof v === "number" && Number.isSafeInteger(v);

/** Python's str() of a JSON value, for the few places custody applies it. */
export function pyStr(v) {
  if (typeof v === "string") return v;
  if (v === null) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number") return String(v);
  // A list or object: Python's repr, which custody then fails to parse; a
  // marker that no parser accepts keeps the same outcome.
  return "\u0000<not a string>";
}

/** Python's bytes sort of str by UTF-8: code point order (UTF-16 sort differs for astral). */
export function compareUtf8(a, b) {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done === y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0);
    const cy = y.value.codePointAt(0);
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

/** Python's sorted() over str: code point order. */
export const sortedPy = (items) => [...items].sort(compareUtf8);
