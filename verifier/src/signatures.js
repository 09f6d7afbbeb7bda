// The public-key signature schemes a TSA may sign a token with, as custody
// accepts them (tsa/token.py): RSA PKCS#1 v1.5 and RSA-PSS (RFC 8017, with
// BigInt: WebCrypto is asynchronous and cannot take PSS with any salt length),
// ECDSA on the NIST curves (@noble/curves). Each returns true or false.
import { p256, p384, p521 } from "@noble/curves/nist.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import { DerError, children, content, element, expect } from "./cms.js";
import { equalBytes, hex } from "./util.js";

const CURVES = { "2a8648ce3d030107": p256, "2b81040022": p384, "2b81040023": p521 };
// DigestInfo prefixes of EMSA-PKCS1-v1_5 (RFC 8017 9.2, note 1).
const DIGEST_INFO = new Map([
  [sha256, "3031300d060960864801650304020105000420"],
  [sha384, "3041300d060960864801650304020205000430"],
  [sha512, "3051300d060960864801650304020305000440"],
]);


const fromHex = (text) => Uint8Array.from(text.match(/../g), (pair) => Number.parseInt(pair, 16));

const bigOf = (bytes) => (bytes.length ? BigInt(`0x${hex(bytes)}`) : 0n);

function bytesOf(value, length) {
  const text = value.toString(16).padStart(length * 2, "0");
  if (text.length > length * 2) return null;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function modPow(base, exponent, modulus) {
  let result = 1n;
  let b = base % modulus;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
  }
  return result;
}

/** The RSA public operation on `signature`: {em (k bytes), bits (of n)} or null. */
function rsaOpen(publicKey, signature) {
  const seq = children(publicKey, expect(element(publicKey, 0), 0x30, "RSAPublicKey"));
  const n = bigOf(content(publicKey, expect(seq[0], 0x02, "modulus")));
  const e = bigOf(content(publicKey, expect(seq[1], 0x02, "publicExponent")));
  if (n <= 1n || e <= 0n) throw new DerError("bad RSA key");
  const bits = n.toString(2).length;
  const k = Math.ceil(bits / 8);
  const s = bigOf(signature);
  if (signature.length !== k || s >= n) return null;
  return { em: bytesOf(modPow(s, e, n), k), bits };
}

export function rsaPkcs1Valid(publicKey, signature, message, hash) {
  const opened = rsaOpen(publicKey, signature);
  if (opened === null) return false;
  const t = Uint8Array.of(...fromHex(DIGEST_INFO.get(hash)), ...hash(message));
  const expected = new Uint8Array(opened.em.length);
  const padding = expected.length - t.length - 3;
  if (padding < 8) return false;
  expected[1] = 1;
  expected.fill(0xff, 2, 2 + padding);
  expected.set(t, 3 + padding);
  return equalBytes(opened.em, expected);
}

function mgf1(hash, seed, length) {
  const out = new Uint8Array(length);
  for (let counter = 0, at = 0; at < length; counter++) {
    const block = hash(Uint8Array.of(...seed, counter >>> 24, (counter >>> 16) & 255, (counter >>> 8) & 255, counter & 255));
    out.set(block.subarray(0, Math.min(block.length, length - at)), at);
    at += block.length;
  }
  return out;
}

/** EMSA-PSS-VERIFY (RFC 8017 9.1.2), MGF1 with the same hash, any salt length. */
export function rsaPssValid(publicKey, signature, message, hash) {
  const opened = rsaOpen(publicKey, signature);
  if (opened === null) return false;
  const emBits = opened.bits - 1;
  const emLen = Math.ceil(emBits / 8);
  const lead = opened.em.length - emLen;
  if (lead && opened.em[0] !== 0) return false;
  const em = opened.em.subarray(lead);
  const hLen = hash.outputLen;
  if (emLen < hLen + 2 || em[emLen - 1] !== 0xbc) return false;
  const maskedDb = em.subarray(0, emLen - hLen - 1);
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const topMask = 0xff >>> (8 * emLen - emBits);
  if (maskedDb[0] & ~topMask & 0xff) return false;
  const db = mgf1(hash, h, maskedDb.length).map((m, i) => m ^ maskedDb[i]);
  db[0] &= topMask;
  const one = db.findIndex((b) => b !== 0);
  if (one < 0 || db[one] !== 1) return false;
  const salt = db.subarray(one + 1);
  return equalBytes(hash(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, ...hash(message), ...salt)), h);
}

export function ecdsaValid(cert, signature, message, hash) {
  const curve = CURVES[cert.curveOid];
  if (curve === undefined) return null;
  try {
    return curve.verify(signature, hash(message), cert.publicKey, { prehash: false, lowS: false, format: "der" });
  } catch {
    return false;
  }
}

/** tsa/token.py `_signature_problem`: null when `cert`'s key signed this content. */
