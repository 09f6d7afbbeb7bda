// RFC 3161 timestamp tokens in custody/timestamps/*.tsr: the page checks each
// token's message imprint (SHA-256 of custody/statement.sig, the signature it
// timestamps) and reads its time. It does NOT check the TSA's signature or
// certificate chain: the report says so, and `custody verify` or `openssl ts
// -verify` does it.
import { SIGNATURE, TIMESTAMPS_DIR } from "./layout.js";
import { hex, sha256Hex } from "./util.js";

export const TIMESTAMP_PROBLEM = "bad_timestamp";
const SHA256_OID = "608648016503040201";
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

/** TimeStampResp or bare TimeStampToken -> {hashOid, imprint, genTime}. */
export function readToken(bytes) {
  let top = element(bytes, 0);
  if (top.tag !== 0x30) throw new DerError("not a DER SEQUENCE");
  let parts = children(bytes, top);
  if (parts[0]?.tag === 0x30) {
    // TimeStampResp: status, then the token.
    if (!parts[1]) throw new DerError("the response holds no token (the TSA refused)");
    top = parts[1];
    parts = children(bytes, top);
  }
  if (parts[0]?.tag !== 0x06 || hex(content(bytes, parts[0])) !== SIGNED_DATA_OID) throw new DerError("not CMS SignedData");
  const signedData = children(bytes, children(bytes, parts[1])[0]);
  const encap = children(bytes, signedData[2]);
  if (hex(content(bytes, encap[0])) !== TSTINFO_OID) throw new DerError("not a TSTInfo");
  const octets = children(bytes, encap[1])[0];
  const tst = content(bytes, octets);
  const info = children(tst, element(tst, 0));
  const imprint = children(tst, info[2]);
  const alg = children(tst, imprint[0]);
  const genTime = new TextDecoder().decode(content(tst, info[4]));
  return { hashOid: hex(content(tst, alg[0])), imprint: hex(content(tst, imprint[1])), genTime };
}

export function checkTimestamps(scan, problems, notes) {
  const out = [];
  const sig = scan.tagBytes.get(SIGNATURE);
  for (const [path, data] of scan.tagBytes) {
    if (!path.startsWith(`${TIMESTAMPS_DIR}/`) || !path.endsWith(".tsr")) continue;
    let token;
    try {
      token = readToken(data);
    } catch (e) {
      const detail = `not an RFC 3161 timestamp token (${e instanceof DerError ? e.message : "malformed"})`;
      problems.push({ kind: TIMESTAMP_PROBLEM, path, detail });
      out.push({ path, imprint_valid: false, time: null });
      continue;
    }
    const expected = sig !== undefined ? sha256Hex(sig) : null;
    const ok = token.hashOid === SHA256_OID && token.imprint === expected;
    if (!ok) {
      problems.push({ kind: TIMESTAMP_PROBLEM, path, detail: "the token does not timestamp this bundle's custody/statement.sig" });
    }
    out.push({ path, imprint_valid: ok, time: token.genTime });
  }
  if (out.length) {
    notes.push(
      "not checked here: the timestamp authority's signature and certificate chain; check with custody verify or openssl ts -verify",
    );
  }
  return out;
}
