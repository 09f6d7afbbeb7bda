// Just enough DER to take an RFC 3161 reply apart: a port of tsa/der.py and
// of the parts of a certificate custody reads to find a token's signer. Every
// parser throws DerError on malformed input, never anything else.
import { hex } from "./util.js";

export const TSTINFO_OID = "2a864886f70d0109100104";
const SIGNED_DATA_OID = "2a864886f70d010702";
const SUBJECT_KEY_ID = "551d0e";
const COMMON_NAME = "550403";

export class DerError extends Error {}

/** One DER element at `at`: {tag, at (its header), start (of content), end}. */
export function element(bytes, at, end = bytes.length) {
  if (at + 2 > end) throw new DerError("truncated");
  const tag = bytes[at];
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tags are not expected here");
  let len = bytes[at + 1];
  let start = at + 2;
  if (len === 0x80) throw new DerError("indefinite length (BER, not DER)");
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n > 4 || start + n > end) throw new DerError("bad length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + bytes[start + i];
    start += n;
  }
  if (start + len > end) throw new DerError("truncated");
  return { tag, at, start, end: start + len };
}

export function children(bytes, el) {
  if (!(el.tag & 0x20)) throw new DerError("not a constructed element");
  const out = [];
  for (let at = el.start; at < el.end; ) {
    const c = element(bytes, at, el.end);
    out.push(c);
    at = c.end;
  }
  return out;
}

export function expect(el, tag, what) {
  if (el === undefined) throw new DerError(`${what}: missing`);
  if (el.tag !== tag) throw new DerError(`${what}: unexpected tag 0x${el.tag.toString(16).padStart(2, "0")}`);
  return el;
}

export const content = (bytes, el) => bytes.subarray(el.start, el.end);
const whole = (bytes, el) => bytes.subarray(el.at, el.end);
export const oidOf = (bytes, el, what) => hex(content(bytes, expect(el, 0x06, what)));

function algorithm(bytes, el) {
  const parts = children(bytes, expect(el, 0x30, "AlgorithmIdentifier"));
  return { oid: oidOf(bytes, parts[0], "algorithm"), params: parts[1] ? whole(bytes, parts[1]) : null };
}

/** A DER TimeStampResp -> {status, token: {econtentType, econtent, certificates, signers} | null}. */
export function parseReply(bytes) {
  const top = expect(element(bytes, 0), 0x30, "TimeStampResp");
  if (top.end !== bytes.length) throw new DerError("trailing bytes after the TimeStampResp");
  const parts = children(bytes, top);
  const statusInfo = children(bytes, expect(parts[0], 0x30, "PKIStatusInfo"));
  const statusBytes = content(bytes, expect(statusInfo[0], 0x02, "PKIStatus"));
  if (!statusBytes.length) throw new DerError("empty INTEGER");
  const status = statusBytes[0] & 0x80 ? -1 : statusBytes.reduce((n, b) => n * 256 + b, 0);
  if (parts.length < 2) return { status, token: null };
  const ci = children(bytes, expect(parts[1], 0x30, "ContentInfo"));
  if (ci.length !== 2 || oidOf(bytes, ci[0], "contentType") !== SIGNED_DATA_OID) throw new DerError("the token is not CMS SignedData");
  const explicit = children(bytes, expect(ci[1], 0xa0, "content"));
  if (explicit.length !== 1) throw new DerError("bad SignedData wrapper");
  const sd = children(bytes, expect(explicit[0], 0x30, "SignedData"));
  if (sd.length < 4) throw new DerError("SignedData is too short");
  const encap = children(bytes, expect(sd[2], 0x30, "EncapsulatedContentInfo"));
  if (encap.length !== 2) throw new DerError("no encapsulated content");
  const econtentType = oidOf(bytes, encap[0], "eContentType");
  const wrapped = children(bytes, expect(encap[1], 0xa0, "eContent"));
  if (wrapped.length !== 1) throw new DerError("bad eContent");
  const econtent = content(bytes, expect(wrapped[0], 0x04, "eContent"));
  let rest = sd.slice(3);
  let certificates = [];
  if (rest.length && rest[0].tag === 0xa0) {
    certificates = children(bytes, rest[0]).map((c) => whole(bytes, c));
    rest = rest.slice(1);
  }
  if (rest.length && rest[0].tag === 0xa1) rest = rest.slice(1);
  if (rest.length !== 1) throw new DerError("no signerInfos");
  const signers = children(bytes, expect(rest[0], 0x31, "signers")).map((s) => parseSigner(bytes, s));
  return { status, token: { econtentType, econtent, certificates, signers } };
}

function parseSigner(bytes, el) {
  const parts = children(bytes, expect(el, 0x30, "SignerInfo"));
  if (parts.length < 5) throw new DerError("SignerInfo is too short");
  const signer = { issuer: null, serial: null, keyId: null, signedAttrs: null, attributes: new Map() };
  const sid = parts[1];
  if (sid.tag === 0x30) {
    const ias = children(bytes, sid);
    if (ias.length !== 2) throw new DerError("bad issuerAndSerialNumber");
    signer.issuer = whole(bytes, expect(ias[0], 0x30, "issuer"));
    signer.serial = content(bytes, expect(ias[1], 0x02, "serialNumber"));
  } else if (sid.tag === 0x80) {
    signer.keyId = content(bytes, sid);
  } else {
    throw new DerError("unknown SignerIdentifier");
  }
  signer.digestOid = algorithm(bytes, parts[2]).oid;
  let index = 3;
  if (parts[index].tag === 0xa0) {
    const block = parts[index];
    // What was signed: the attributes re-tagged as a SET (RFC 5652 5.4).
    signer.signedAttrs = Uint8Array.of(0x31, ...bytes.subarray(block.at + 1, block.end));
    for (const attr of children(bytes, block)) {
      const pieces = children(bytes, expect(attr, 0x30, "Attribute"));
      if (pieces.length !== 2) throw new DerError("bad Attribute");
      const oid = oidOf(bytes, pieces[0], "attrType");
      if (signer.attributes.has(oid)) throw new DerError(`a signed attribute appears twice`);
      signer.attributes.set(oid, children(bytes, expect(pieces[1], 0x31, "attrValues")).map((v) => whole(bytes, v)));
    }
    index += 1;
  }
  if (parts.length < index + 2) throw new DerError("SignerInfo is too short");
  signer.signatureOid = algorithm(bytes, parts[index]).oid;
  signer.signature = content(bytes, expect(parts[index + 1], 0x04, "signature"));
  return signer;
}

/** GeneralizedTime "20261125120003.5Z" -> "2026-11-25T12:00:03.500000Z" (as custody prints it). */
function isoTime(text) {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,6}))?Z$/.exec(text);
  if (!m) throw new DerError("genTime is not a UTC GeneralizedTime");
  const frac = m[7] && Number(m[7]) !== 0 ? `.${m[7].padEnd(6, "0")}` : "";
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${frac}Z`;
}

function smallInteger(bytes) {
  if (!bytes.length || bytes[0] & 0x80 || bytes.length > 6) throw new DerError("bad accuracy");
  return bytes.reduce((n, b) => n * 256 + b, 0);
}

/** The TSTInfo: imprint, genTime and the accuracy it states (seconds, or null). */
export function parseTstInfo(tst) {
  const info = children(tst, expect(element(tst, 0), 0x30, "TSTInfo"));
  const imprint = children(tst, expect(info[2], 0x30, "messageImprint"));
  const genTime = isoTime(new TextDecoder().decode(content(tst, expect(info[4], 0x18, "genTime"))));
  let accuracy = null;
  if (info[5]?.tag === 0x30) {
    accuracy = 0;
    for (const part of children(tst, info[5])) {
      const value = smallInteger(content(tst, part));
      if (part.tag === 0x02) accuracy += value;
      else if (part.tag === 0x80) accuracy += value / 1e3;
      else if (part.tag === 0x81) accuracy += value / 1e6;
      else throw new DerError("bad accuracy");
    }
    // Python's timedelta ends at 999,999,999 days: custody finds a token
    // stating more than that unparseable, and so does the page.
    if (accuracy >= 86_400_000_000_000) throw new DerError("accuracy out of range");
  }
  return {
    hashOid: algorithm(tst, imprint[0]).oid,
    imprint: content(tst, expect(imprint[1], 0x04, "hashedMessage")),
    genTime,
    accuracy,
  };
}

/** Just what finding the signer and checking its signature need from a certificate. */
export function parseCertificate(der) {
  const cert = children(der, expect(element(der, 0), 0x30, "Certificate"));
  if (element(der, 0).end !== der.length) throw new DerError("trailing bytes after a certificate");
  let tbs = children(der, expect(cert[0], 0x30, "TBSCertificate"));
  if (tbs[0]?.tag === 0xa0) tbs = tbs.slice(1);
  const spki = children(der, expect(tbs[5], 0x30, "subjectPublicKeyInfo"));
  const keyAlg = children(der, expect(spki[0], 0x30, "algorithm"));
  const bits = content(der, expect(spki[1], 0x03, "subjectPublicKey"));
  return {
    serial: content(der, expect(tbs[0], 0x02, "serialNumber")),
    issuer: whole(der, expect(tbs[2], 0x30, "issuer")),
    // As custody reads them: the subject only for the signer, the key
    // identifier only when the signer is named by one (and then leniently).
    subject: () => subjectName(der, expect(tbs[4], 0x30, "subject")),
    checkIssuer: () => subjectName(der, expect(tbs[2], 0x30, "issuer")),
    keyId: () => subjectKeyId(der, tbs),
    keyOid: oidOf(der, keyAlg[0], "algorithm"),
    curveOid: keyAlg[1]?.tag === 0x06 ? hex(content(der, keyAlg[1])) : null,
    publicKey: bits.subarray(1),
    unusedBits: bits[0],
  };
}

function subjectKeyId(der, tbs) {
  try {
    const extensions = tbs.find((t) => t.tag === 0xa3);
    if (!extensions) return null;
    for (const ext of children(der, expect(children(der, extensions)[0], 0x30, "extensions"))) {
      const fields = children(der, expect(ext, 0x30, "Extension"));
      if (oidOf(der, fields[0], "extnID") === SUBJECT_KEY_ID) {
        const value = content(der, expect(fields[fields.length - 1], 0x04, "extnValue"));
        return content(value, expect(element(value, 0), 0x04, "SubjectKeyIdentifier"));
      }
    }
  } catch (e) {
    if (!(e instanceof DerError)) throw e;
  }
  return null;
}

// The string types custody's X.509 parser reads in a name, and what each
// must hold: UTF8String (valid UTF-8), PrintableString, TeletexString,
// IA5String (ASCII), VisibleString, UniversalString; BIT STRING for unique
// identifiers.
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
const NAME_VALUES = new Map([
  [0x0c, (b) => new TextDecoder("utf-8", { fatal: true }).decode(b)],
  [0x13, (b) => {
    const text = String.fromCharCode(...b);
    if (!PRINTABLE.test(text)) throw new TypeError("bad PrintableString");
    return text;
  }],
  [0x14, (b) => String.fromCharCode(...b)],
  [0x16, (b) => {
    if (b.some((c) => c > 0x7f)) throw new TypeError("bad IA5String");
    return String.fromCharCode(...b);
  }],
  [0x1a, (b) => String.fromCharCode(...b)],
  [0x1c, (b) => String.fromCharCode(...b)],
  [0x03, () => ""],
]);
const UNIQUE_IDENTIFIER = "55042d";

/** A name as custody describes it (its common name), reading every value as
 * custody's parser does: the signer's subject, and the issuer of a
 * certificate whose serial number is the signer's. Throws DerError when it
 * cannot. */
function subjectName(der, name) {
  let common = null;
  for (const rdn of children(der, name)) {
    for (const atv of children(der, expect(rdn, 0x31, "RDN"))) {
      const [type, value] = children(der, expect(atv, 0x30, "AttributeTypeAndValue"));
      const read = value ? NAME_VALUES.get(value.tag) : undefined;
      if (read === undefined) throw new DerError("a name value of an unknown type");
      if (value.tag === 0x03 && oidOf(der, type, "attribute type") !== UNIQUE_IDENTIFIER) {
        throw new DerError("a BIT STRING name value that is not a unique identifier");
      }
      let text;
      try {
        text = read(content(der, value));
      } catch {
        throw new DerError("a name value that is not valid for its type");
      }
      if (common === null && oidOf(der, type, "attribute type") === COMMON_NAME) common = text;
    }
  }
  return common ?? "(a certificate without a common name)";
}

