// Hand-over records in custody/chain/ (custody's bundle/chain.py verify_chain):
// each transfer signed by the holder, each receipt by the named receiver.
import { CHAIN_DIR, isChainPath } from "./layout.js";
import {
  b64decode,
  decodeStrict,
  ed25519Valid,
  fingerprintOf,
  isCanonical,
  isPlainObject,
  parseJson,
  sha256Hex,
  sortedPy,
} from "./util.js";

const NAME = /^custody\/chain\/(\d{4})-(transfer|receipt)\.(json|sig)$/;
const problem = (kind, path, detail) => ({ kind, path, detail });
const recordPaths = (seq, kind) => {
  const stem = `${CHAIN_DIR}/${String(seq).padStart(4, "0")}-${kind}`;
  return [`${stem}.json`, `${stem}.sig`];
};

function load(bytes, format) {
  const text = decodeStrict(bytes);
  const obj = text === null ? undefined : parseJson(text);
  if (!isPlainObject(obj) || obj.format !== format) return null;
  return isCanonical(obj, bytes) ? obj : null;
}

function keyOf(p) {
  if (!isPlainObject(p)) return null;
  const raw = b64decode(p.public_key);
  if (raw === null || raw.length !== 32) return null;
  return fingerprintOf(raw) === p.fingerprint ? raw : null;
}

const who = (p) => (isPlainObject(p) ? { name: p.name ?? null, fingerprint: p.fingerprint ?? null } : { name: null, fingerprint: null });
const label = (p) => `${p.name || "key"} (${String(p.fingerprint ?? "None").slice(0, 16)})`;
// Python's `x or {}` on a parsed value: any falsy value becomes {}.
const orEmpty = (v) => (v ? v : {});
const get = (v, k) => (isPlainObject(v) ? v[k] : undefined);

export function verifyChain(tagBytes, statement, statementSha256) {
  const problems = [];
  const files = new Map([...tagBytes].filter(([p]) => isChainPath(p)));
  for (const p of sortedPy(files.keys())) {
    if (!NAME.test(p)) problems.push(problem("bad_custody_record", p, "not a custody chain file name"));
  }
  let holder = statement.key_fingerprint ?? null;
  const timeline = [
    {
      event: "ingest",
      time: statement.created ?? null,
      by: { name: statement.officer ?? null, fingerprint: holder },
      signature_valid: true,
    },
  ];
  let previous = null;
  let sequence = 1;
  let openHandover = null;
  for (;;) {
    const [tJson, tSig] = recordPaths(sequence, "transfer");
    const [rJson, rSig] = recordPaths(sequence, "receipt");
    if (!files.has(tJson)) {
      if (files.has(rJson)) problems.push(problem("broken_custody_chain", rJson, "receipt without a transfer"));
      break;
    }
    const tdata = files.get(tJson);
    const t = load(tdata, "custody/transfer/v1");
    if (t === null) {
      problems.push(problem("bad_custody_record", tJson, "not a canonical transfer record"));
      break;
    }
    const senderKey = keyOf(orEmpty(t.from));
    const tOk = senderKey !== null && ed25519Valid(senderKey, files.get(tSig) ?? new Uint8Array(), tdata);
    if (!tOk) problems.push(problem("bad_custody_signature", tJson, "hand-over signature does not verify (forged or edited)"));
    if (t.bundle_id !== statement.bundle_id || t.statement_sha256 !== statementSha256) {
      problems.push(problem("broken_custody_chain", tJson, "hand-over is for another bundle"));
    }
    if (t.sequence !== sequence || (t.previous === undefined ? null : t.previous) !== previous) {
      problems.push(problem("broken_custody_chain", tJson, "hand-over does not follow the previous one"));
    }
    const senderFp = get(orEmpty(t.from), "fingerprint") ?? null;
    if (senderFp !== holder) {
      problems.push(problem("broken_custody_chain", tJson, `handed over by ${senderFp}, but the holder was ${holder}`));
    }
    const receiver = orEmpty(t.to);
    timeline.push({
      event: "transfer",
      time: t.time ?? null,
      by: who(t.from),
      to: who(receiver),
      reason: t.reason ?? null,
      signature_valid: tOk,
    });
    const tsha = sha256Hex(tdata);
    if (!files.has(rJson)) {
      // An open hand-over, not damage (custody's bundle/chain.py open_handover).
      openHandover = {
        sequence,
        record: tJson,
        from: who(t.from),
        to: who(receiver),
        time: t.time ?? null,
        reason: t.reason ?? null,
        transfer_sha256: tsha,
      };
      break;
    }
    const rdata = files.get(rJson);
    const r = load(rdata, "custody/receipt/v1");
    if (r === null) {
      problems.push(problem("bad_custody_record", rJson, "not a canonical receipt"));
      break;
    }
    const receiverKey = keyOf(orEmpty(r.by));
    const rOk = receiverKey !== null && ed25519Valid(receiverKey, files.get(rSig) ?? new Uint8Array(), rdata);
    if (!rOk) problems.push(problem("bad_custody_signature", rJson, "receipt signature does not verify (forged or edited)"));
    if (r.transfer_sha256 !== tsha || r.sequence !== sequence) {
      problems.push(problem("broken_custody_chain", rJson, "receipt countersigns a different hand-over"));
    }
    const byFp = get(orEmpty(r.by), "fingerprint") ?? null;
    const named = get(receiver, "fingerprint") ?? null;
    if (byFp !== named) {
      problems.push(problem("broken_custody_chain", rJson, `received by ${byFp}, not by the named receiver ${named}`));
    }
    timeline.push({ event: "receive", time: r.time ?? null, by: who(r.by), signature_valid: rOk });
    holder = byFp;
    previous = sha256Hex(rdata);
    sequence += 1;
  }
  const known = new Set();
  for (let s = 1; s <= sequence; s++) {
    for (const k of ["transfer", "receipt"]) for (const p of recordPaths(s, k)) known.add(p);
  }
  for (const p of sortedPy(files.keys())) {
    if (NAME.test(p) && !known.has(p)) problems.push(problem("broken_custody_chain", p, "does not follow the chain"));
  }
  return { timeline, problems, holder, openHandover };
}

// The words every verdict uses for an open hand-over (custody's open_handover_words).
export function openHandoverWords(open) {
  return `handed to ${label(orEmpty(open.to))} at ${open.time ?? "None"}, receipt not yet brought back`;
}
