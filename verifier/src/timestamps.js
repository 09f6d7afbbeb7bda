// RFC 3161 timestamp tokens in custody/timestamps/*.tsr: the page checks each
// token's message imprint (SHA-256 of custody/statement.sig, the signature it
// timestamps) and reads its time. It does NOT check the TSA's signature or
// certificate chain: the report says so, and `custody verify` or `openssl ts
// -verify` does it.
import { SIGNATURE, TIMESTAMPS_DIR } from "./layout.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import { equalBytes, hex } from "./util.js";

export const TIMESTAMP_PROBLEM = "bad_timestamp";
const IMPRINT_HASHES = {
  "608648016503040201": sha256,
  "608648016503040202": sha384,
  "608648016503040203": sha512,
};
const TSTINFO_OID = "2a864886f70d0109100104";
const SIGNED_DATA_OID = "2a864886f70d010702";

class DerError extends Error {}

/** One DER element at `at`: {tag, start (of content), end}. */
function element(bytes, at, end = bytes.length) {
  if (at + 2 > end) throw new DerError("truncated");
  const tag = bytes[at];
  let len = bytes[at + 1];
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > end) throw new DerError("bad length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + bytes[start + i];
    start += n;
  }
  if (start + len > end) throw new DerError("truncated");
  return { tag, start, end: start + len };
}

function children(bytes, el) {
  const out = [];
  for (let at = el.start; at < el.end; ) {
    const c = element(bytes, at, el.end);
    out.push(c);
    at = c.end;
  }
  return out;
}

const content = (bytes, el) => bytes.subarray(el.start, el.end);

/** A DER TimeStampResp -> {status, hashOid, imprint, genTime}. Throws DerError. */
export function readReply(bytes) {
  const top = element(bytes, 0);
  if (top.tag !== 0x30 || top.end !== bytes.length) throw new DerError("not one DER SEQUENCE");
  const parts = children(bytes, top);
  if (parts[0]?.tag !== 0x30) throw new DerError("no PKIStatusInfo");
  const statusEl = children(bytes, parts[0])[0];
  if (statusEl?.tag !== 0x02) throw new DerError("no status");
  const status = content(bytes, statusEl).reduce((n, b) => n * 256 + b, 0);
  if (status !== 0 && status !== 1) return { status };
  if (!parts[1]) return { status, noToken: true };
  const token = children(bytes, parts[1]);
  if (token[0]?.tag !== 0x06 || hex(content(bytes, token[0])) !== SIGNED_DATA_OID) throw new DerError("not CMS SignedData");
  const signedData = children(bytes, children(bytes, token[1])[0]);
  const encap = children(bytes, signedData[2]);
  if (hex(content(bytes, encap[0])) !== TSTINFO_OID) return { status, notTstInfo: true };
  const octets = children(bytes, encap[1])[0];
  const tst = content(bytes, octets);
  const info = children(tst, element(tst, 0));
  const imprint = children(tst, info[2]);
  const alg = children(tst, imprint[0]);
  const genTime = new TextDecoder().decode(content(tst, info[4]));
  return { status, hashOid: hex(content(tst, alg[0])), imprint: content(tst, imprint[1]), genTime };
}

const TIMESTAMP_NAME = /^custody\/timestamps\/[1-9][0-9]{0,8}\.tsr$/;

/** bundle/check_time.py as far as it goes without TSA roots: names, the reply's
 * status, and that each token stamps this bundle's custody/statement.sig. */
export function checkTimestamps(scan, problems, notes) {
  const out = [];
  const sig = scan.tagBytes.get(SIGNATURE);
  const bad = (path, detail) => problems.push({ kind: TIMESTAMP_PROBLEM, path, detail });
  const paths = [...scan.tagBytes.keys()].filter((p) => p.startsWith(`${TIMESTAMPS_DIR}/`));
  for (const path of paths) {
    if (!TIMESTAMP_NAME.test(path)) {
      bad(path, "not a timestamp file name (N.tsr)");
      continue;
    }
    let reply;
    try {
      reply = readReply(scan.tagBytes.get(path));
    } catch (e) {
      bad(path, `not a DER RFC 3161 reply (${e instanceof DerError ? e.message : "malformed"})`);
      out.push({ path, imprint_valid: false, time: null });
      continue;
    }
    let problem = null;
    if (reply.status !== 0 && reply.status !== 1) problem = `the TSA did not grant this request (status ${reply.status})`;
    else if (reply.noToken) problem = "the reply carries no token";
    else if (reply.notTstInfo) problem = "the signed content is not a TSTInfo";
    else if (sig === undefined) problem = "no custody/statement.sig for it to stamp";
    else if (!(reply.hashOid in IMPRINT_HASHES)) problem = `unsupported imprint hash ${reply.hashOid}`;
    else if (!equalBytes(IMPRINT_HASHES[reply.hashOid](sig), reply.imprint)) {
      problem = "the token stamps other data, not this bundle's custody/statement.sig";
    }
    if (problem !== null) bad(path, problem);
    out.push({ path, imprint_valid: problem === null, time: reply.genTime ?? null });
  }
  if (out.length) {
    notes.push(
      "not checked here: the timestamp authority's signature and certificate chain; check with custody verify or openssl ts -verify",
    );
  }
  return out;
}
