// custody/ledger-proof.json checked offline (custody's ledger/proof.py,
// merkle.py, note.py and entries.py): the entry, its signature, the RFC 9162
// inclusion proof and the C2SP signed checkpoint.
import { describeDifference, PROOF_PATH } from "./layout.js";
import { proofDocBytes, pyLoads } from "./pyjson.js";
import {
  b64decode,
  b64encode,
  concat,
  decodeStrict,
  ed25519Valid,
  encode,
  equalBytes,
  fingerprintOf,
  isCanonical,
  isPlainObject,
  parseJson,
  pyStr,
  sha256Raw,
} from "./util.js";

const PROOF_FORMAT = "custody/ledger-proof/v1";
const ENTRY_FORMAT = "custody/ledger-entry/v1";
const EM_DASH = "\u2014";
const MAX_NOTE_BYTES = 1 << 20;

export const leafHash = (entry) => sha256Raw(concat(Uint8Array.of(0), entry));
export const nodeHash = (left, right) => sha256Raw(concat(Uint8Array.of(1), left, right));

/** RFC 9162 §2.1.3.2 (merkle.verify_inclusion). Sizes up to 2^53. */
export function verifyInclusion(leaf, index, size, path, root) {
  if (!(index >= 0 && index < size) || path.some((p) => p.length !== 32)) return false;
  let fn = BigInt(index);
  let sn = BigInt(size) - 1n;
  let r = leaf;
  for (const p of path) {
    if (sn === 0n) return false;
    if (fn & 1n || fn === sn) {
      r = nodeHash(p, r);
      if (!(fn & 1n)) {
        while (!(fn & 1n) && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equalBytes(r, root);
}

class EntryError extends Error {}

/** ledger/entries.py parse_entry. Throws EntryError. */
export function parseEntry(bytes) {
  const text = decodeStrict(bytes);
  const obj = text === null ? undefined : parseJson(text);
  if (obj === undefined) throw new EntryError("not JSON");
  if (!isPlainObject(obj) || obj.format !== ENTRY_FORMAT) throw new EntryError("not a custody ledger entry");
  if (!isCanonical(obj, bytes)) throw new EntryError("not in canonical form");
  const actor = obj.actor;
  const missing = (what) => new EntryError(`missing or malformed field (${what})`);
  if (!isPlainObject(actor)) throw missing("actor");
  for (const k of ["public_key", "name", "fingerprint"]) if (!(k in actor)) throw missing(k);
  for (const k of ["index", "prev", "time", "action", "subject"]) if (!(k in obj)) throw missing(k);
  const raw = b64decode(actor.public_key);
  if (raw === null || raw.length !== 32) throw missing("public_key");
  const index = pyInt(obj.index);
  if (index === null) throw missing("index");
  if (!isPlainObject(obj.subject)) throw missing("subject");
  const parsed = {
    index,
    time: pyStr(obj.time),
    action: pyStr(obj.action),
    actorName: pyStr(actor.name),
    actorFingerprint: pyStr(actor.fingerprint),
    actorKey: raw,
    subject: obj.subject,
  };
  if (fingerprintOf(raw) !== parsed.actorFingerprint) {
    throw new EntryError("actor fingerprint does not match actor public key");
  }
  return parsed;
}

/** Python's int() of a JSON value, or null where it raises. */
function pyInt(v) {
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "number" && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === "string" && /^\s*[+-]?\d+(_\d+)*\s*$/.test(v)) return Number(v.replace(/_/g, ""));
  return null;
}

class NoteError extends Error {}

/** ledger/note.py parse_checkpoint. Throws NoteError. */
export function parseCheckpoint(bytes) {
  if (bytes.length > MAX_NOTE_BYTES) throw new NoteError("checkpoint is too large");
  const all = decodeStrict(bytes);
  if (all === null) throw new NoteError("checkpoint is not UTF-8");
  if (/[\x00-\x09\x0b-\x1f]/.test(all)) throw new NoteError("checkpoint contains control characters");
  const split = all.lastIndexOf("\n\n");
  if (split < 0) throw new NoteError("checkpoint has no signature block");
  const body = all.slice(0, split + 1);
  const sigBlock = all.slice(split + 2);
  const lines = body.split("\n").slice(0, -1);
  if (lines.length < 3 || lines.some((l) => !l)) {
    throw new NoteError("checkpoint text needs origin, size and root hash lines");
  }
  const [origin, sizeText, rootText] = lines;
  if (!/^(0|[1-9][0-9]{0,18})$/.test(sizeText)) throw new NoteError("checkpoint tree size is not a decimal number");
  const root = b64decode(rootText);
  if (root === null) throw new NoteError("checkpoint root hash is not base64");
  if (root.length !== 32 || b64encode(root) !== rootText) {
    throw new NoteError("checkpoint root hash is not 32 bytes of canonical base64");
  }
  if (!sigBlock.endsWith("\n")) throw new NoteError("checkpoint signature block does not end with a newline");
  const signatures = [];
  for (const line of sigBlock.slice(0, -1).split("\n")) {
    const m = new RegExp(`^${EM_DASH} (\\S+) ([A-Za-z0-9+/=]+)$`, "u").exec(line);
    if (!m) throw new NoteError("malformed checkpoint signature line");
    const blob = b64decode(m[2]);
    if (blob === null) throw new NoteError("checkpoint signature is not base64");
    if (blob.length < 5) throw new NoteError("checkpoint signature is too short");
    signatures.push({ name: m[1], keyId: blob.subarray(0, 4), sig: blob.subarray(4) });
  }
  if (!signatures.length) throw new NoteError("checkpoint is not signed");
  return { origin, size: BigInt(sizeText), root, text: encode(body), signatures };
}

const keyId = (name, raw) => sha256Raw(concat(encode(name), Uint8Array.of(0x0a, 0x01), raw)).subarray(0, 4);

export function checkpointSignedBy(cp, raw) {
  const kid = keyId(cp.origin, raw);
  for (const s of cp.signatures) {
    if (s.name === cp.origin && equalBytes(s.keyId, kid)) return ed25519Valid(raw, s.sig, cp.text);
  }
  return false;
}

const isPyInt = (v) => typeof v === "number" && Number.isInteger(v);

/** ledger/proof.py check_proof: {problems, origin, leafIndex, treeSize, checkpoint, details}. */
export function checkProof(data, { statementSha256, bundleId, signerKey }) {
  const bad = (detail) => ({ kind: "bad_ledger_proof", path: PROOF_PATH, detail });
  const fail = (detail) => ({ problems: [bad(detail)], details: {} });
  const text = decodeStrict(data);
  const doc = text === null ? undefined : parseJson(text);
  if (doc === undefined) return fail("malformed proof file (JSONDecodeError)");
  if (!isPlainObject(doc) || doc.format !== PROOF_FORMAT) return fail("not a custody ledger proof");
  for (const k of ["entry", "signature", "leaf_index", "tree_size", "inclusion_proof", "checkpoint", "origin"]) {
    if (!(k in doc)) return fail("malformed proof file (KeyError)");
  }
  const entry = encode(pyStr(doc.entry));
  const signature = b64decode(doc.signature);
  if (signature === null) return fail("malformed proof file (binascii.Error)");
  const index = doc.leaf_index;
  const size = doc.tree_size;
  if (!Array.isArray(doc.inclusion_proof) && typeof doc.inclusion_proof !== "string") {
    return fail("malformed proof file (TypeError)");
  }
  const path = [];
  for (const h of doc.inclusion_proof) {
    const b = b64decode(h);
    if (b === null) return fail("malformed proof file (binascii.Error)");
    path.push(b);
  }
  const note = encode(pyStr(doc.checkpoint));
  const origin = pyStr(doc.origin);
  // Python tells 1 from 1.0 and from true; JSON.parse does not.
  let typed = null;
  try {
    typed = pyLoads(text);
  } catch {
    typed = null;
  }
  const isInt = (k) => typed?.t === "obj" && typed.v.get(k)?.t === "int" && isPyInt(doc[k]);
  if (!isInt("leaf_index") || !isInt("tree_size")) return fail("leaf_index and tree_size must be integers");
  const problems = [];
  // The file is not signed as a whole: any spelling but custody's own is named.
  const difference = describeDifference(data, proofDocBytes(text) ?? new Uint8Array());
  if (difference !== null) problems.push({ kind: "bad_tag_format", path: PROOF_PATH, detail: difference });
  let parsed;
  try {
    parsed = parseEntry(entry);
  } catch (e) {
    return fail(`ledger entry: ${e.message}`);
  }
  if (parsed.action !== "ingest") problems.push(bad(`ledger entry records '${parsed.action}', not this bundle's ingest`));
  if (parsed.subject.statement_sha256 !== statementSha256) problems.push(bad("ledger entry is for another statement"));
  if (parsed.subject.bundle_id !== bundleId) problems.push(bad("ledger entry is for another bundle"));
  if (parsed.index !== index) problems.push(bad(`ledger entry says index ${parsed.index}, proof says ${index}`));
  if (!ed25519Valid(parsed.actorKey, signature, entry)) problems.push(bad("ledger entry signature does not verify"));
  if (signerKey !== null && !equalBytes(parsed.actorKey, signerKey)) {
    problems.push(bad("ledger entry was not made by the bundle's signer"));
  }
  let cp;
  try {
    cp = parseCheckpoint(note);
  } catch (e) {
    problems.push(bad(`checkpoint: ${e.message}`));
    return { problems, origin, leafIndex: index, treeSize: size, details: {} };
  }
  if (cp.origin !== origin || cp.size !== BigInt(size)) problems.push(bad("checkpoint is for another ledger or tree size"));
  if (!checkpointSignedBy(cp, parsed.actorKey)) problems.push(bad("checkpoint is not validly signed by the bundle's signer"));
  if (!verifyInclusion(leafHash(entry), index, size, path, cp.root)) {
    problems.push(bad(`inclusion proof does not lead to the checkpoint's root (entry ${index} of ${size})`));
  }
  return {
    problems,
    origin,
    leafIndex: index,
    treeSize: size,
    checkpoint: pyStr(doc.checkpoint),
    details: { entry_time: parsed.time, recorded_by: parsed.actorName },
  };
}
