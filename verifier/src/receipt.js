// Checking a witness's receipt from the web intake (docs/intake.md): a port of
// intake/receipt.py `check_receipt` for the page, with the keys chosen above.
// Offline: the signature, the trust in the intake key (a key file or a
// fingerprint chosen on this page), the code, the Merkle root, the ledger
// proof, a timestamp's imprint and CMS signature (its time is only claimed
// here, as for bundles), and optionally the files the witness kept.
import { createSHA256 } from "hash-wasm";
import { WORDS } from "./bip39_english.js";
import { checkProof, leafHash, nodeHash } from "./ledger.js";
import { checkToken } from "./timestamps.js";
import { b64decode, decodeStrict, ed25519Valid, encode, fingerprintOf, hex, isCanonical, isPlainObject, parseJson, sha256Raw } from "./util.js";

const RECEIPT_FILE_FORMAT = "custody/intake-receipt-file/v1";
const RECEIPT_FORMAT = "custody/intake-receipt/v1";
const PROOF_FORMAT = "custody/ledger-proof/v1";

/** The four-word code of the signed bytes (intake/codes.py short_code). */
export function shortCode(signed) {
  const d = sha256Raw(signed);
  let n = 0n;
  for (let i = 0; i < 8; i++) n = (n << 8n) | BigInt(d[i]);
  n >>= 64n - 44n;
  const out = [];
  for (let i = 3; i >= 0; i--) out.push(WORDS[Number((n >> BigInt(11 * i)) & 0x7ffn)]);
  return out.join("-");
}

function merkleRoot(leaves) {
  if (leaves.length === 0) return sha256Raw(new Uint8Array());
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(merkleRoot(leaves.slice(0, k)), merkleRoot(leaves.slice(k)));
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Check receipt file bytes against the policy ({keys, fingerprints}) and, when
 * given, the (sha256, size) pairs of the files found. Returns {verified,
 * problems, code, summary, signer, timestamp, ledger, files}; never throws.
 */
export function checkReceipt(bytes, policy, found = null) {
  const problems = [];
  const bad = (kind, detail) => problems.push({ kind, path: "receipt", detail });
  const refuse = (detail) => ({ verified: false, unusable: true, problems: [{ kind: "not_a_receipt", path: "receipt", detail }] });
  const text = decodeStrict(bytes);
  const doc = text === null ? undefined : parseJson(text);
  if (!isPlainObject(doc) || doc.format !== RECEIPT_FILE_FORMAT) return refuse("not a custody intake receipt");
  if (typeof doc.signed !== "string" || typeof doc.signature !== "string") return refuse("malformed receipt");
  const signed = encode(doc.signed);
  const payload = parseJson(doc.signed);
  if (!isPlainObject(payload) || payload.format !== RECEIPT_FORMAT) return refuse("the signed part is not a custody intake receipt");
  const signature = b64decode(doc.signature);
  const raw = isPlainObject(payload.signer) ? b64decode(String(payload.signer.public_key)) : null;
  if (signature === null || raw === null || raw.length !== 32 || !Array.isArray(payload.files)) return refuse("malformed receipt");
  const files = [];
  for (const f of payload.files) {
    if (!isPlainObject(f) || typeof f.sha256 !== "string" || !HEX64.test(f.sha256) || !Number.isSafeInteger(f.size)) {
      return refuse("a file entry is malformed");
    }
    files.push(f);
  }
  if (!isCanonical(payload, signed)) bad("bad_receipt_format", "the signed part is not RFC 8785 canonical JSON");
  const fingerprint = fingerprintOf(raw);
  if (payload.signer.fingerprint !== fingerprint) bad("bad_receipt_format", "the signer's fingerprint is not its key's");
  if (!ed25519Valid(raw, signature, signed)) bad("bad_signature", "the receipt's signature does not verify");
  const code = shortCode(signed);
  const given = String(doc.code ?? "").trim().toLowerCase().replace(/\s+/g, "-");
  if (given !== code) bad("bad_code", "the code is not this receipt's");
  const trusted = policy.keys.some((k) => k.fingerprint === fingerprint) || policy.fingerprints.has(fingerprint);
  if (!trusted) bad("untrusted_signer", `the intake key ${fingerprint.slice(0, 16)}… is not trusted`);
  let timestamp = null;
  if (doc.timestamp !== null && doc.timestamp !== undefined) {
    const token = b64decode(String(doc.timestamp));
    timestamp = token === null ? { status: "invalid", detail: "not base64" } : checkToken(token, signature);
    if (timestamp.status === "invalid") bad("bad_timestamp", timestamp.detail);
  }
  const root = hex(merkleRoot(files.map((f) => leafHash(hexBytes(f.sha256)))));
  if (root !== payload.merkle_root) bad("bad_merkle_root", "the Merkle root is not that of the files listed");
  const total = files.reduce((a, f) => a + f.size, 0);
  if (payload.file_count !== files.length || payload.bytes !== total) {
    bad("bad_receipt_format", "file_count or bytes disagree with the files listed");
  }
  const proofDoc = encode(JSON.stringify({ format: PROOF_FORMAT, ...(isPlainObject(payload.ledger) ? payload.ledger : {}) }));
  const proof = checkProof(proofDoc, { statementSha256: String(payload.statement_sha256), bundleId: String(payload.bundle_id), signerKey: raw });
  for (const p of proof.problems) if (p.kind !== "bad_tag_format") bad("bad_ledger_proof", p.detail);
  let filesResult = null;
  if (found !== null) {
    const want = new Map();
    for (const f of files) want.set(`${f.sha256} ${f.size}`, (want.get(`${f.sha256} ${f.size}`) ?? 0) + 1);
    let matching = 0;
    let extra = 0;
    for (const [sha, size] of found) {
      const key = `${sha} ${size}`;
      if (want.get(key)) {
        want.set(key, want.get(key) - 1);
        matching++;
      } else {
        extra++;
        bad("extra_file", `a file not in the receipt: SHA-256 ${sha} (${size} bytes)`);
      }
    }
    let missing = 0;
    for (const [key, n] of want) {
      if (n > 0) {
        missing += n;
        const [sha, size] = key.split(" ");
        bad("missing_file", `no file with SHA-256 ${sha} (${size} bytes) found`);
      }
    }
    filesResult = { matching, missing, extra };
  }
  return {
    verified: problems.length === 0,
    problems,
    code,
    summary: { case: payload.case, received: payload.received, file_count: files.length, bytes: total, merkle_root: payload.merkle_root, bundle_id: payload.bundle_id },
    signer: { name: payload.signer.name, fingerprint, trusted },
    timestamp,
    ledger: { origin: proof.origin, leaf_index: proof.leafIndex, tree_size: proof.treeSize, included: !proof.problems.some((p) => p.kind !== "bad_tag_format") },
    files: filesResult,
  };
}

function hexBytes(text) {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

async function hashFile(file) {
  const h = await createSHA256();
  h.init();
  const step = 4 * 1024 * 1024;
  for (let at = 0; at < file.size; at += step) h.update(new Uint8Array(await file.slice(at, at + step).arrayBuffer()));
  return [h.digest("hex"), file.size];
}

/** The receipt section of the page, inserted after the bundle step. */
export function setupReceipt(getPolicy) {
  const section = document.createElement("section");
  section.id = "step-receipt";
  const h = document.createElement("h2");
  h.textContent = "Or check a witness's receipt";
  const p1 = document.createElement("p");
  const l1 = document.createElement("label");
  l1.append("Receipt (receipt.json): ");
  const input = document.createElement("input");
  input.type = "file";
  input.id = "receipt-file";
  input.accept = ".json,application/json";
  l1.append(input);
  p1.append(l1);
  const p2 = document.createElement("p");
  const l2 = document.createElement("label");
  l2.append("and, optionally, the files the witness sent: ");
  const files = document.createElement("input");
  files.type = "file";
  files.id = "receipt-files";
  files.multiple = true;
  l2.append(files);
  p2.append(l2);
  const out = document.createElement("div");
  out.id = "receipt-result";
  out.setAttribute("role", "status");
  section.append(h, p1, p2, out);
  document.getElementById("step-bundle").after(section);

  const run = async () => {
    const file = input.files[0];
    if (!file) return;
    out.textContent = "Checking…";
    document.body.dataset.receipt = "running";
    const found = files.files.length ? await Promise.all([...files.files].map(hashFile)) : null;
    const r = checkReceipt(new Uint8Array(await file.arrayBuffer()), getPolicy(), found);
    out.textContent = "";
    const verdict = document.createElement("p");
    verdict.className = r.verified ? "verdict good" : "verdict bad";
    verdict.textContent = r.verified ? "RECEIPT VERIFIED" : "RECEIPT NOT VERIFIED";
    out.append(verdict);
    const lines = [];
    if (!r.unusable) {
      lines.push(`Code: ${r.code}`, `Case: ${r.summary.case}`, `Received: ${r.summary.received}`);
      lines.push(`Files: ${r.summary.file_count} (${r.summary.bytes} bytes), Merkle root ${r.summary.merkle_root}`);
      lines.push(`Signed by: ${r.signer.name} (${r.signer.fingerprint.slice(0, 16)}…), ${r.signer.trusted ? "trusted" : "NOT trusted"}`);
      lines.push(`Ledger: entry ${r.ledger.leaf_index} of ${r.ledger.tree_size}${r.ledger.included ? ", included" : ", NOT proven"}`);
      if (r.timestamp) lines.push(`Timestamp: ${r.timestamp.status}, time claimed by the token ${r.timestamp.gen_time ?? "?"} (not proven here)`);
      if (r.files) lines.push(`Files chosen: ${r.files.matching} matching, ${r.files.missing} missing, ${r.files.extra} not in the receipt`);
    }
    for (const p of r.problems) lines.push(`${p.kind}: ${p.detail}`);
    for (const line of lines) {
      const p = document.createElement("p");
      p.textContent = line;
      out.append(p);
    }
    out.dataset.report = JSON.stringify(r);
    document.body.dataset.receipt = "done";
  };
  input.addEventListener("change", run);
  files.addEventListener("change", run);
}
