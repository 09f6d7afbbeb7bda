// The whole reply must be strict DER in the shape RFC 3161, RFC 5652 and
// RFC 5280 give it, as custody's parser (rfc3161-client, the Rust asn1 crate)
// requires before it looks at anything: minimal lengths and integers, valid
// object identifiers, booleans, times and strings, SET OF members in DER order
// (the certificate set is an IMPLICIT [0], left unchecked: custody sorts it on
// a copy, as it lies outside the TSA's signature), and every field where its
// structure puts it. A reply
// that is not is invalid on the page as in custody, so that the page never
// says VERIFIED over a token custody cannot even read.
import { DerError } from "./cms.js";

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
const MAX_MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** One element at `at` with a minimal DER header: {tag, at, start, end}. */
function tlv(bytes, at, end) {
  if (at + 2 > end) throw new DerError("truncated");
  const tag = bytes[at];
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tag");
  const first = bytes[at + 1];
  let len = first;
  let start = at + 2;
  if (first === 0x80) throw new DerError("indefinite length");
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n > 4 || start + n > end) throw new DerError("bad length");
    if (bytes[start] === 0) throw new DerError("non-minimal length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + bytes[start + i];
    if (len < 0x80) throw new DerError("non-minimal length");
    start += n;
  }
  if (start + len > end) throw new DerError("truncated");
  return { tag, at, start, end: start + len };
}

function items(bytes, el) {
  if (!(el.tag & 0x20)) throw new DerError("not constructed");
  const out = [];
  for (let at = el.start; at < el.end; ) {
    const c = tlv(bytes, at, el.end);
    out.push(c);
    at = c.end;
  }
  return out;
}

/** Where values lie that custody's parser keeps whole (names', attributes'). */
let opaque = new Set();

function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Universal-type rules for every element under `el` (not inside OCTET or BIT STRINGs). */
function checkTree(bytes, el) {
  const body = bytes.subarray(el.start, el.end);
  switch (el.tag) {
    case 0x01:
      if (body.length !== 1 || (body[0] !== 0 && body[0] !== 0xff)) throw new DerError("bad BOOLEAN");
      return;
    case 0x02:
      if (!body.length || (body.length > 1 && ((body[0] === 0 && body[1] < 0x80) || (body[0] === 0xff && body[1] >= 0x80)))) {
        throw new DerError("bad INTEGER");
      }
      return;
    case 0x03:
      if (!body.length || body[0] > 7 || (body.length === 1 && body[0]) || (body.length > 1 && body[body.length - 1] & ((1 << body[0]) - 1))) {
        throw new DerError("bad BIT STRING");
      }
      return;
    case 0x05:
      if (body.length) throw new DerError("bad NULL");
      return;
    case 0x06:
      if (!body.length || body[body.length - 1] & 0x80) throw new DerError("bad OID");
      for (let i = 0; i < body.length; i++) if (body[i] === 0x80 && (i === 0 || !(body[i - 1] & 0x80))) throw new DerError("bad OID");
      return;
    case 0x12:
      if (!/^[0-9 ]*$/.test(String.fromCharCode(...body))) throw new DerError("bad NumericString");
      return;
    case 0x13:
      if (!PRINTABLE.test(String.fromCharCode(...body))) throw new DerError("bad PrintableString");
      return;
    case 0x16:
      if (body.some((b) => b > 0x7f)) throw new DerError("bad IA5String");
      return;
    case 0x17:
      checkTime(String.fromCharCode(...body), false);
      return;
    case 0x18:
      checkTime(String.fromCharCode(...body), true);
      return;
    default:
  }
  // Only SEQUENCE, SET and the context-tagged fields [0] to [3] of these
  // structures are taken apart; anything else constructed, and the values of
  // names and attributes, are opaque to custody's parser too.
  if (opaque.has(el.at) || !(el.tag === 0x30 || el.tag === 0x31 || (el.tag >= 0xa0 && el.tag <= 0xa3))) return;
  const kids = items(bytes, el);
  for (const kid of kids) checkTree(bytes, kid);
  if (el.tag === 0x31) {
    for (let i = 1; i < kids.length; i++) {
      const a = bytes.subarray(kids[i - 1].at, kids[i - 1].end);
      const b = bytes.subarray(kids[i].at, kids[i].end);
      if (compareBytes(a, b) > 0) throw new DerError("SET OF not in DER order");
    }
  }
}

function checkTime(text, generalized) {
  const m = generalized ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\.\d*[1-9])?Z$/.exec(text) : /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) throw new DerError("bad time");
  const [month, day, hour, minute, second] = m.slice(2, 7).map(Number);
  if (month < 1 || month > 12 || day < 1 || day > MAX_MONTH_DAYS[month - 1] || hour > 23 || minute > 59 || second > 59) throw new DerError("bad time");
}

// --- the shapes ------------------------------------------------------------

function need(el, tag, what) {
  if (el === undefined || el.tag !== tag) throw new DerError(`${what} expected`);
  return el;
}

/** A sequence of fields: take(tag) for the next one, optional(tag) if present, done() at the end. */
function fields(bytes, el, what) {
  const kids = items(bytes, need(el, el.tag, what));
  let i = 0;
  return {
    take: (tag, name) => need(kids[i++], tag, name),
    optional: (tag) => (kids[i]?.tag === tag ? kids[i++] : null),
    done: () => {
      if (i !== kids.length) throw new DerError(`extra data in ${what}`);
    },
  };
}

const oidHex = (bytes, el) => Array.from(bytes.subarray(el.start, el.end), (b) => b.toString(16).padStart(2, "0")).join("");
const NO_PARAMS = new Set(["2a8648ce3d040302", "2a8648ce3d040303", "2a8648ce3d040304", "2b6570"]);
const NULL_OR_NONE = new Set([
  "608648016503040201",
  "608648016503040202",
  "608648016503040203",
  "2a864886f70d010101",
  "2a864886f70d01010b",
  "2a864886f70d01010c",
  "2a864886f70d01010d",
]);

function algorithm(bytes, el, what) {
  const f = fields(bytes, need(el, 0x30, what), what);
  const oid = oidHex(bytes, f.take(0x06, "algorithm"));
  const kids = items(bytes, el);
  if (kids.length > 2) throw new DerError(`extra data in ${what}`);
  const params = kids[1];
  if (NO_PARAMS.has(oid) && params) throw new DerError(`parameters in ${what}`);
  if (NULL_OR_NONE.has(oid) && params && params.tag !== 0x05) throw new DerError(`bad parameters in ${what}`);
  if (oid === "2a8648ce3d0201" && params?.tag !== 0x06) throw new DerError("bad curve");
  if (oid === "2a864886f70d01010a" && params) pssParameters(bytes, params);
}

function pssParameters(bytes, el) {
  const f = fields(bytes, need(el, 0x30, "RSASSA-PSS-params"), "RSASSA-PSS-params");
  const hash = f.optional(0xa0);
  if (hash) algorithm(bytes, items(bytes, hash)[0], "hashAlgorithm");
  const mgf = f.optional(0xa1);
  if (mgf) {
    const g = fields(bytes, need(items(bytes, mgf)[0], 0x30, "maskGenAlgorithm"), "maskGenAlgorithm");
    g.take(0x06, "MGF");
    algorithm(bytes, g.take(0x30, "MGF hash"), "MGF hash");
    g.done();
  }
  for (const tag of [0xa2, 0xa3]) {
    const n = f.optional(tag);
    if (n) need(items(bytes, n)[0], 0x02, "PSS integer");
  }
  f.done();
}

function name(bytes, el, what) {
  for (const rdn of items(bytes, need(el, 0x30, what))) {
    const set = items(bytes, need(rdn, 0x31, "RelativeDistinguishedName"));
    if (!set.length) throw new DerError("empty RDN");
    for (const atv of set) {
      const f = fields(bytes, need(atv, 0x30, "AttributeTypeAndValue"), "AttributeTypeAndValue");
      f.take(0x06, "attribute type");
      const pair = items(bytes, atv);
      if (pair.length !== 2) throw new DerError("bad AttributeTypeAndValue");
      opaque.add(pair[1].at);
    }
  }
}

function time(el) {
  if (el === undefined || (el.tag !== 0x17 && el.tag !== 0x18)) throw new DerError("Time expected");
}

function certificate(bytes, el) {
  const c = fields(bytes, need(el, 0x30, "Certificate"), "Certificate");
  const tbs = fields(bytes, c.take(0x30, "TBSCertificate"), "TBSCertificate");
  const version = tbs.optional(0xa0);
  if (version) {
    const v = items(bytes, version);
    const value = need(v[0], 0x02, "version");
    if (v.length !== 1 || value.end - value.start !== 1 || bytes[value.start] > 2) throw new DerError("bad version");
  }
  tbs.take(0x02, "serialNumber");
  algorithm(bytes, tbs.take(0x30, "signature"), "signature");
  name(bytes, tbs.take(0x30, "issuer"), "issuer");
  const validity = items(bytes, tbs.take(0x30, "validity"));
  if (validity.length !== 2) throw new DerError("bad validity");
  validity.forEach(time);
  name(bytes, tbs.take(0x30, "subject"), "subject");
  const spki = fields(bytes, tbs.take(0x30, "subjectPublicKeyInfo"), "subjectPublicKeyInfo");
  algorithm(bytes, spki.take(0x30, "algorithm"), "algorithm");
  spki.take(0x03, "subjectPublicKey");
  spki.done();
  tbs.optional(0x81);
  tbs.optional(0x82);
  const extensions = tbs.optional(0xa3);
  if (extensions) {
    const list = items(bytes, extensions);
    if (list.length !== 1) throw new DerError("bad extensions");
    for (const ext of items(bytes, need(list[0], 0x30, "Extensions"))) {
      const e = fields(bytes, need(ext, 0x30, "Extension"), "Extension");
      e.take(0x06, "extnID");
      const critical = e.optional(0x01);
      if (critical && bytes[critical.start] !== 0xff) throw new DerError("DEFAULT FALSE encoded");
      e.take(0x04, "extnValue");
      e.done();
    }
  }
  tbs.done();
  algorithm(bytes, c.take(0x30, "signatureAlgorithm"), "signatureAlgorithm");
  c.take(0x03, "signatureValue");
  c.done();
}

function attributes(bytes, el) {
  for (const attr of items(bytes, el)) {
    const a = fields(bytes, need(attr, 0x30, "Attribute"), "Attribute");
    a.take(0x06, "attrType");
    for (const value of items(bytes, a.take(0x31, "attrValues"))) opaque.add(value.at);
    a.done();
  }
}

/** A CMS version number: custody's parser reads it as a byte (0 to 255). */
function smallVersion(bytes, el, what) {
  const v = bytes.subarray(el.start, el.end);
  if (v[0] & 0x80 || v.length > 2 || (v.length === 2 && v[0] !== 0)) throw new DerError(`bad ${what} version`);
}

function signerInfo(bytes, el) {
  const s = fields(bytes, need(el, 0x30, "SignerInfo"), "SignerInfo");
  smallVersion(bytes, s.take(0x02, "version"), "SignerInfo");
  const sid = items(bytes, el)[1];
  s.optional(0x30) ?? s.take(0x80, "SignerIdentifier");
  if (sid.tag === 0x30) {
    const ias = fields(bytes, sid, "IssuerAndSerialNumber");
    name(bytes, ias.take(0x30, "issuer"), "issuer");
    ias.take(0x02, "serialNumber");
    ias.done();
  }
  algorithm(bytes, s.take(0x30, "digestAlgorithm"), "digestAlgorithm");
  const signed = s.optional(0xa0);
  if (signed) attributes(bytes, signed);
  algorithm(bytes, s.take(0x30, "signatureAlgorithm"), "signatureAlgorithm");
  s.take(0x04, "signature");
  const unsigned = s.optional(0xa1);
  if (unsigned) attributes(bytes, unsigned);
  s.done();
}

function tstInfo(tst) {
  const top = tlv(tst, 0, tst.length);
  if (top.end !== tst.length) throw new DerError("trailing bytes after the TSTInfo");
  checkTree(tst, top);
  const t = fields(tst, need(top, 0x30, "TSTInfo"), "TSTInfo");
  const version = t.take(0x02, "version");
  if (version.end - version.start !== 1 || tst[version.start] !== 1) throw new DerError("TSTInfo version is not 1");
  t.take(0x06, "policy");
  const imprint = fields(tst, t.take(0x30, "messageImprint"), "messageImprint");
  algorithm(tst, imprint.take(0x30, "hashAlgorithm"), "hashAlgorithm");
  imprint.take(0x04, "hashedMessage");
  imprint.done();
  t.take(0x02, "serialNumber");
  t.take(0x18, "genTime");
  const accuracy = t.optional(0x30);
  if (accuracy) {
    const a = fields(tst, accuracy, "Accuracy");
    a.optional(0x02);
    a.optional(0x80);
    a.optional(0x81);
    a.done();
  }
  t.optional(0x01);
  t.optional(0x02);
  t.optional(0xa0);
  t.optional(0xa1);
  t.done();
}

/** Throws DerError unless `bytes` is a strict DER TimeStampResp in its RFC shape. */
export function checkStrictReply(bytes) {
  opaque = new Set();
  const top = tlv(bytes, 0, bytes.length);
  if (top.end !== bytes.length) throw new DerError("trailing bytes after the TimeStampResp");
  const resp = fields(bytes, need(top, 0x30, "TimeStampResp"), "TimeStampResp");
  const status = fields(bytes, resp.take(0x30, "PKIStatusInfo"), "PKIStatusInfo");
  status.take(0x02, "status");
  status.optional(0x30);
  status.optional(0x03);
  status.done();
  const token = resp.optional(0x30);
  resp.done();
  if (token === null) {
    checkTree(bytes, top);
    return;
  }
  const ci = fields(bytes, token, "ContentInfo");
  ci.take(0x06, "contentType");
  const wrapper = items(bytes, ci.take(0xa0, "content"));
  ci.done();
  if (wrapper.length !== 1) throw new DerError("bad SignedData wrapper");
  const sd = fields(bytes, need(wrapper[0], 0x30, "SignedData"), "SignedData");
  smallVersion(bytes, sd.take(0x02, "version"), "SignedData");
  const digests = sd.take(0x31, "digestAlgorithms");
  for (const alg of items(bytes, digests)) algorithm(bytes, alg, "digestAlgorithm");
  const encap = fields(bytes, sd.take(0x30, "encapContentInfo"), "encapContentInfo");
  encap.take(0x06, "eContentType");
  const econtent = items(bytes, encap.take(0xa0, "eContent"));
  encap.done();
  if (econtent.length !== 1) throw new DerError("bad eContent");
  const octets = need(econtent[0], 0x04, "eContent");
  const certs = sd.optional(0xa0);
  if (certs) for (const cert of items(bytes, certs)) certificate(bytes, cert);
  sd.optional(0xa1);
  const signers = sd.take(0x31, "signerInfos");
  for (const signer of items(bytes, signers)) signerInfo(bytes, signer);
  sd.done();
  checkTree(bytes, top);
  tstInfo(bytes.subarray(octets.start, octets.end));
}
