// The bundle's names, manifest lines and bag-info fields (docs/format.md),
// as custody's bundle/layout.py reads them.
import { decodeLenient, decodeStrict } from "./util.js";

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

/** Manifest bytes -> {entries: Map(path -> sha256), errors: [{line, path, detail}]}. */
export function parseManifest(bytes) {
  const entries = new Map();
  const errors = [];
  const text = decodeStrict(bytes);
  if (text === null) return { entries, errors: [{ line: 0, path: null, detail: "not valid UTF-8" }] };
  const lines = text.split("\n");
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  lines.forEach((raw, i) => {
    const number = i + 1;
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const m = MANIFEST_LINE.exec(line);
    if (!m) {
      errors.push({ line: number, path: null, detail: `line ${number} is not 'sha256 path'` });
      return;
    }
    const path = decodeManifestPath(m[2]);
    const reason = unsafePathReason(path);
    if (reason !== null) {
      errors.push({ line: number, path, detail: `line ${number}: ${reason}` });
      return;
    }
    if (entries.has(path)) {
      errors.push({ line: number, path, detail: `line ${number}: listed more than once` });
      return;
    }
    entries.set(path, m[1].toLowerCase());
  });
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
