// A disclosure package's verdict on the page: the same sentence and summary as
// `custody verify PACKAGE`. Everything is put on the page with textContent.
const groups = (fp) => (fp ? fp.match(/.{1,4}/g).join(" ") : "");

export function showPackage(r, out, el, row, keyLabel) {
  out.append(el("h2", { id: "verdict", class: r.verified ? "ok" : "bad" }, r.verified ? "VERIFIED DISCLOSURE" : "NOT VERIFIED"));
  out.append(el("p", { id: "disclosure-summary" }, r.summary));
  const d = r.disclosure;
  const who = r.discloser;
  const table = el(
    "table",
    { class: "summary" },
    row("Package", r.package),
    row("Case", r.case),
    row("Exhibit", r.exhibit),
    row("Collected by (signed statement)", r.officer),
    row("Signer fingerprint", groups(r.signer.fingerprint)),
    row("Signature", r.signer.signature_valid ? "valid" : "not valid"),
    row("Trusted", r.signer.trusted ? `yes, as ${r.signer.trusted_as}` : "no: not the key you chose"),
    row("Disclosed to", d.to),
    row("Disclosed by", `${who.name ?? "?"} (${who.signature_valid ? "valid signature" : "signature not valid"}, ${who.trusted ? "trusted" : "not the key you chose"})`),
    row("Disclosed on", d.created),
    row("Officer's note", d.note),
    row("Metadata fields withheld", String(d.withheld_fields)),
    row("Ledger proof", r.ledger ? `valid: entry ${r.ledger.leaf_index} of ${r.ledger.tree_size}, ${r.ledger.origin}` : "none in the package"),
    row("Key you chose", keyLabel ?? "none"),
    row(
      "Disclosure time",
      r.timestamps.length
        ? `not proven here: ${r.timestamps.length} timestamp(s) of the record claim a time; whether they come from a timestamp authority you trust is not checked here (custody verify --tsa-root ROOT.pem)`
        : "not proven: no timestamp of the record (Disclosed on is the officer's own clock)",
    ),
  );
  out.append(table);
  out.append(el("h3", {}, `Problems (${r.problems.length})`));
  if (r.problems.length) {
    const t = el("table", { id: "problems" }, el("tr", {}, el("th", {}, "kind"), el("th", {}, "path"), el("th", {}, "detail")));
    for (const p of r.problems) t.append(el("tr", {}, el("td", {}, p.kind), el("td", {}, p.path ?? ""), el("td", {}, p.detail)));
    out.append(t);
  } else {
    out.append(el("p", {}, "None."));
  }
}
