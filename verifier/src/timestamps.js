// RFC 3161 timestamp tokens in custody/timestamps/*.tsr: a port of
// tsa/token.py `check_token` as custody runs it with no TSA root chosen. The
// page checks each token's message imprint (the hash of custody/statement.sig)
// and the CMS signature over its TSTInfo with the certificate the token
// carries, so a token custody calls invalid (`bad_timestamp`) is invalid here
// too. It does NOT check whom that certificate belongs to (the chain to a TSA
// root you trust): anyone can make a certificate that names itself after a
// real TSA. So a token's time is only ever "claimed by the token", never
// proven here, and the page never says "signed no later than"; `custody verify
// --tsa-root` or `openssl ts -verify` proves it. The reply is read as custody's
// parser reads it (der_strict.js), so a token custody cannot read is invalid
// here too (tests/test_timestamp_parity.py).
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import { DerError, TSTINFO_OID, content, element, expect, oidOf, parseCertificate, parseReply, parseTstInfo } from "./cms.js";
import { checkStrictReply } from "./der_strict.js";
import { SIGNATURE, TIMESTAMPS_DIR } from "./layout.js";
import { ecdsaValid, rsaPkcs1Valid, rsaPssValid } from "./signatures.js";
import { ed25519Valid, equalBytes } from "./util.js";

export const TIMESTAMP_PROBLEM = "bad_timestamp";
export const UNTRUSTED = "untrusted";
export const INVALID = "invalid";
const MAX_TOKEN_BYTES = 1024 * 1024;

const HASHES = {
  "608648016503040201": sha256,
  "608648016503040202": sha384,
  "608648016503040203": sha512,
};
const RSA = "2a864886f70d010101";
const RSA_PSS = "2a864886f70d01010a";
const RSA_WITH = { "2a864886f70d01010b": sha256, "2a864886f70d01010c": sha384, "2a864886f70d01010d": sha512 };
const EC_PUBLIC_KEY = "2a8648ce3d0201";
const ECDSA_WITH = { "2a8648ce3d040302": sha256, "2a8648ce3d040303": sha384, "2a8648ce3d040304": sha512 };
const ED25519 = "2b6570";
const ATTR_CONTENT_TYPE = "2a864886f70d010903";
const ATTR_MESSAGE_DIGEST = "2a864886f70d010904";

/** tsa/token.py `_find_signer`, with only the token's own certificates. */
function findSigner(signer, certificates) {
  for (const cert of certificates) {
    if (signer.issuer !== null) {
      if (!equalBytes(cert.serial, signer.serial)) continue;
      cert.checkIssuer(); // custody reads this issuer whole to compare it
      if (equalBytes(cert.issuer, signer.issuer)) return cert;
    } else if (signer.keyId !== null && equalBytes(cert.keyId(), signer.keyId)) {
      return cert;
    }
  }
  return null;
}

/** tsa/token.py `_signature_problem`: null when `cert`'s key signed this content. */
function signatureProblem(signer, econtent, cert) {
  const hash = HASHES[signer.digestOid];
  if (hash === undefined) return `unsupported signature digest ${signer.digestOid}`;
  if (signer.signedAttrs === null) return "the token has no signed attributes";
  let expected;
  try {
    const types = signer.attributes.get(ATTR_CONTENT_TYPE) ?? [];
    const digests = signer.attributes.get(ATTR_MESSAGE_DIGEST) ?? [];
    if (types.length !== 1 || oidOf(types[0], element(types[0], 0), "content type") !== TSTINFO_OID) {
      return "the signed content-type attribute is not TSTInfo";
    }
    if (digests.length !== 1) return "the token has no message-digest attribute";
    const el = expect(element(digests[0], 0), 0x04, "OCTET STRING");
    if (el.end !== digests[0].length) throw new DerError("trailing bytes");
    expected = content(digests[0], el);
  } catch (e) {
    if (e instanceof DerError) return `damaged signed attributes (${e.message})`;
    throw e;
  }
  if (!equalBytes(hash(econtent), expected)) return "the TSTInfo was changed after the TSA signed it";
  const oid = signer.signatureOid;
  const signed = signer.signedAttrs;
  if (cert.unusedBits !== 0) return "the TSA's signature cannot be checked (a damaged public key)";
  let valid;
  try {
    if (cert.keyOid === RSA && (oid === RSA || oid in RSA_WITH)) {
      valid = rsaPkcs1Valid(cert.publicKey, signer.signature, signed, RSA_WITH[oid] ?? hash);
    } else if (cert.keyOid === RSA && oid === RSA_PSS) {
      valid = rsaPssValid(cert.publicKey, signer.signature, signed, hash);
    } else if (cert.keyOid === EC_PUBLIC_KEY && (oid === EC_PUBLIC_KEY || oid in ECDSA_WITH)) {
      valid = ecdsaValid(cert, signer.signature, signed, ECDSA_WITH[oid] ?? hash);
      if (valid === null) return "the TSA's signature cannot be checked (unsupported curve)";
    } else if (cert.keyOid === ED25519 && oid === ED25519) {
      valid = ed25519Valid(cert.publicKey, signer.signature, signed);
    } else {
      return `unsupported signature algorithm ${oid} for the TSA's key`;
    }
  } catch (e) {
    if (e instanceof DerError) return `the TSA's signature cannot be checked (${e.message})`;
    throw e;
  }
  return valid ? null : "the TSA's signature over the token does not verify";
}

/**
 * One token as custody checks it with no TSA root chosen: {status (untrusted
 * or invalid), detail, tsa (the name its certificate claims), gen_time,
 * accuracy_seconds}. Never throws for hostile bytes.
 */
export function checkToken(bytes, message) {
  const out = (status, detail, extra = {}) => ({ status, detail, tsa: null, gen_time: null, accuracy_seconds: null, ...extra });
  if (bytes.length > MAX_TOKEN_BYTES) return out(INVALID, `${bytes.length} bytes: too large for a timestamp reply`);
  let reply;
  let info;
  try {
    reply = parseReply(bytes);
    if (reply.status !== 0 && reply.status !== 1) return out(INVALID, `the TSA did not grant this request (status ${reply.status})`);
    if (reply.token === null) return out(INVALID, "the reply carries no token");
    checkStrictReply(bytes);
    info = parseTstInfo(reply.token.econtent);
  } catch (e) {
    if (e instanceof DerError) return out(INVALID, `not a DER RFC 3161 reply (${e.message})`);
    throw e;
  }
  const time = { gen_time: info.genTime, accuracy_seconds: info.accuracy };
  const { token } = reply;
  if (token.econtentType !== TSTINFO_OID) return out(INVALID, "the signed content is not a TSTInfo", time);
  const hash = HASHES[info.hashOid];
  if (hash === undefined) return out(INVALID, `unsupported imprint hash ${info.hashOid}`, time);
  if (message === undefined) return out(INVALID, "no custody/statement.sig for it to stamp", time);
  if (!equalBytes(hash(message), info.imprint)) {
    return out(INVALID, "the token stamps other data, not this bundle's custody/statement.sig", time);
  }
  const certificates = [];
  for (const der of token.certificates) {
    try {
      certificates.push(parseCertificate(der));
    } catch (e) {
      if (e instanceof DerError) return out(INVALID, `a certificate in the token is damaged (${e.message})`, time);
      throw e;
    }
  }
  if (token.signers.length !== 1) return out(INVALID, `${token.signers.length} signers; a token has exactly one`, time);
  let cert;
  let tsa;
  try {
    cert = findSigner(token.signers[0], certificates);
    if (cert === null) return out(INVALID, "the token carries no certificate for its signer", time);
    tsa = cert.subject();
  } catch (e) {
    if (e instanceof DerError) return out(INVALID, `damaged certificate or structure in the reply (${e.message})`, time);
    throw e;
  }
  const named = { ...time, tsa };
  const problem = signatureProblem(token.signers[0], token.econtent, cert);
  if (problem !== null) return out(INVALID, problem, named);
  return out(
    UNTRUSTED,
    "stamps this signature and is signed by the certificate it carries; whose certificate that is (the chain to a TSA root you trust) is not checked here",
    named,
  );
}

const TIMESTAMP_NAME = /^custody\/timestamps\/[1-9][0-9]{0,8}\.tsr$/;

/** bundle/check_time.py with no TSA root chosen: every token is untrusted or
 * invalid (a bad_timestamp problem); no signing time is ever proven here. */
export function checkTimestamps(scan, problems, notes) {
  const out = [];
  const sig = scan.tagBytes.get(SIGNATURE);
  const paths = [...scan.tagBytes.keys()].filter((p) => p.startsWith(`${TIMESTAMPS_DIR}/`));
  for (const path of paths) {
    if (!TIMESTAMP_NAME.test(path)) {
      problems.push({ kind: TIMESTAMP_PROBLEM, path, detail: "not a timestamp file name (N.tsr)" });
      continue;
    }
    const check = checkToken(scan.tagBytes.get(path), sig);
    if (check.status === INVALID) problems.push({ kind: TIMESTAMP_PROBLEM, path, detail: check.detail });
    out.push({ path, ...check });
  }
  if (out.length) {
    notes.push(
      "not checked here: whether each timestamp comes from a timestamp authority you trust (its certificate chain), so no signing time is proven here; check with custody verify --tsa-root ROOT.pem or openssl ts -verify",
    );
  }
  return out;
}
