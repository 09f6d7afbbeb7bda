// The page: choose a trusted key and a bundle (folder or .zip), scan it with
// the worker pool, judge it with evaluate(), show the verdict. Everything is
// put on the page with textContent: nothing from a bundle becomes markup.
import { openHandoverWords } from "./chain.js";
import { evaluatePackage, isPackage, pathsToRead } from "./disclosure.js";
import { showPackage } from "./disclosure_view.js";
import { evaluate } from "./evaluate.js";
import { leftoversLine } from "./leftovers.js";
import { setupReceipt } from "./receipt.js";
import { NotABundle, scanFolder, scanZip } from "./scan.js";
import { parsePublicKeyFile } from "./util.js";

const $ = (id) => document.getElementById(id);
const state = { policy: { keys: [], fingerprints: new Set(), label: null }, scan: null, running: false };

function el(tag, attrs = {}, ...kids) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const kid of kids) node.append(kid instanceof Node ? kid : document.createTextNode(String(kid ?? "")));
  return node;
}

/** custody's normalise_fingerprint: spaces, colons and a SHA256: prefix ignored. */
function normaliseFingerprint(text) {
  let cleaned = text.trim();
  if (cleaned.toLowerCase().startsWith("sha256:")) cleaned = cleaned.slice(7);
  cleaned = cleaned.replace(/[\s:]/g, "").toLowerCase();
  return /^[0-9a-f]{64}$/.test(cleaned) ? cleaned : null;
}

const groups = (fp) => (fp ? fp.match(/.{1,4}/g).join(" ") : "");

async function readKeyFile(file) {
  const info = parsePublicKeyFile(new Uint8Array(await file.arrayBuffer()));
  if (info === null) {
    state.policy = { keys: [], fingerprints: new Set(), label: null };
    setKeyStatus(`${file.name}: not an Ed25519 public key file`, true);
  } else {
    state.policy = { keys: [info], fingerprints: new Set(), label: `${info.name} (${file.name})` };
    setKeyStatus(`Trusting ${info.name}, fingerprint ${groups(info.fingerprint)}`, false);
  }
  reevaluate();
}

function readFingerprint() {
  const text = $("fingerprint").value;
  if (!text.trim()) {
    if (!state.policy.keys.length) setKeyStatus("No key chosen: a bundle cannot verify without one.", false);
    return;
  }
  const fp = normaliseFingerprint(text);
  if (fp === null) {
    state.policy = { keys: [], fingerprints: new Set(), label: null };
    setKeyStatus("A fingerprint is 64 hexadecimal digits (spaces and colons are ignored).", true);
  } else {
    state.policy = { keys: [], fingerprints: new Set([fp]), label: `fingerprint ${groups(fp)}` };
    setKeyStatus(`Trusting the key with fingerprint ${groups(fp)}`, false);
  }
  reevaluate();
}

function setKeyStatus(text, bad) {
  const s = $("key-status");
  s.textContent = text;
  s.className = bad ? "status bad" : "status";
}

function progress() {
  let total = 0;
  let done = 0;
  let files = 0;
  let filesDone = 0;
  let last = 0;
  const bar = $("progress");
  const text = $("progress-text");
  const paint = (force) => {
    const now = performance.now();
    if (!force && now - last < 100) return;
    last = now;
    bar.max = Math.max(total, 1);
    bar.value = done;
    text.textContent = `${filesDone.toLocaleString()} of ${files.toLocaleString()} files, ${mb(done)} of ${mb(total)}`;
  };
  return {
    onBytes: {
      total: (bytes, count) => {
        total = bytes;
        files = count;
        paint(true);
      },
      add: (bytes) => {
        done += bytes;
        paint(false);
      },
    },
    onProgress: () => {
      filesDone += 1;
      paint(false);
    },
    finish: () => paint(true),
  };
}

const mb = (n) => `${(n / 1e6).toLocaleString(undefined, { maximumFractionDigits: 1 })} MB`;

async function run(kind, source, location) {
  if (state.running) return;
  state.running = true;
  state.scan = null;
  document.body.dataset.state = "running";
  $("result").hidden = true;
  $("error").hidden = true;
  $("working").hidden = false;
  const p = progress();
  const options = {
    location,
    workers: Math.max(1, Math.min(navigator.hardwareConcurrency || 2, 16)),
    onBytes: p.onBytes,
    onProgress: p.onProgress,
  };
  const started = performance.now();
  try {
    state.scan = kind === "zip" ? await scanZip(source, options) : await scanFolder(source, options);
    // A disclosure package whose stripped or redacted copies are checked part by part:
    // read once more, keeping those copies' bytes (disclosure.js).
    const toRead = isPackage(state.scan) ? pathsToRead(state.scan) : new Set();
    if (toRead.size) {
      const again = { ...options, keepBytes: (rel) => toRead.has(rel) };
      state.scan = kind === "zip" ? await scanZip(source, again) : await scanFolder(source, again);
    }
    state.seconds = (performance.now() - started) / 1000;
    p.finish();
    reevaluate();
  } catch (e) {
    const message = e instanceof NotABundle ? e.message : `could not be read (${e.message || e})`;
    window.custodyResult = { error: { kind: "input", path: location, message } };
    $("error").textContent = `${location}: ${message}`;
    $("error").hidden = false;
    document.body.dataset.state = "error";
  } finally {
    $("working").hidden = true;
    state.running = false;
  }
}

function reevaluate() {
  if (state.scan === null) return;
  let report;
  try {
    report = isPackage(state.scan) ? evaluatePackage(state.scan, state.policy) : evaluate(state.scan, state.policy);
  } catch (e) {
    // Never a verdict from a check that did not finish.
    window.custodyResult = { error: { kind: "internal", path: state.scan.location, message: String(e) } };
    $("result").hidden = true;
    $("error").textContent = `${state.scan.location}: the page failed while checking (${e}); check with custody verify`;
    $("error").hidden = false;
    document.body.dataset.state = "error";
    return;
  }
  $("error").hidden = true;
  report.verified_with = "custody verifier page";
  report.seconds = state.seconds;
  window.custodyResult = report;
  show(report);
  document.body.dataset.state = "done";
}

/** One token, saying only what the page checked: never a proven time. */
function timestampLine(t) {
  if (t.status !== "untrusted") return `${t.path}: NOT a valid timestamp of this signature (${t.detail})`;
  const accuracy = t.accuracy_seconds === null ? "" : ` ± ${t.accuracy_seconds} s`;
  return `${t.path}: stamps this signature, signed with a certificate naming itself "${t.tsa}"; it claims the time ${t.gen_time}${accuracy}, which is not proven here: whether that certificate belongs to a timestamp authority you trust is not checked here (custody verify --tsa-root ROOT.pem, or openssl ts -verify)`;
}

function row(label, value) {
  return el("tr", {}, el("th", {}, label), el("td", {}, value ?? "—"));
}

function show(r) {
  const out = $("result");
  out.replaceChildren();
  if (r.kind === "disclosure") {
    showPackage(r, out, el, row, state.policy.label);
    out.hidden = false;
    return;
  }
  const open = r.verified && r.open_handover ? r.open_handover : null;
  const verdict = open ? "VERIFIED — hand-over open" : r.verified ? "VERIFIED" : "NOT VERIFIED";
  out.append(el("h2", { id: "verdict", class: r.verified ? "ok" : "bad" }, verdict));
  if (open) out.append(el("p", { id: "open-handover" }, `Hand-over open: ${openHandoverWords(open)}.`));
  if (r.os_leftovers.length) {
    const list = el("ul", {});
    for (const p of r.os_leftovers) list.append(el("li", {}, `${p.path}: ${p.detail}`));
    out.append(el("div", { id: "os-leftovers" }, el("p", {}, leftoversLine(r.os_leftovers.length)), list));
  }
  out.append(
    el(
      "p",
      {},
      r.verified
        ? "Every file is intact and complete, and the statement is signed by the key you chose."
        : "This bundle does not verify: the problems are listed below.",
    ),
  );
  const summary = el(
    "table",
    { class: "summary" },
    row("Bundle", r.bundle),
    row("Case", r.case),
    row("Exhibit", r.exhibit),
    row("Officer (signed statement)", r.officer),
    row("Created", r.created),
    row(
      "Signing time",
      r.timestamps.length
        ? "not proven here: the timestamps below claim a time, and whether they come from a timestamp authority you trust is not checked here"
        : "not proven: no timestamp in the bundle (Created is the officer's own clock)",
    ),
    row("Bundle fingerprint", r.bundle_fingerprint),
    row("Statement SHA-256", r.statement_sha256),
    row("Signer fingerprint", groups(r.signer.fingerprint)),
    row("Signature", r.signer.signature_valid ? "valid" : "not valid"),
    row("Trusted", r.signer.trusted ? `yes, as ${r.signer.trusted_as}` : "no: not the key you chose"),
    row("Key you chose", state.policy.label ?? "none"),
    row("Files checked", `${r.files_checked.toLocaleString()} (${r.bytes_checked.toLocaleString()} bytes)`),
    row("Ledger proof", r.ledger ? (r.ledger.proof_valid ? `valid: entry ${r.ledger.leaf_index} of ${r.ledger.tree_size}, ${r.ledger.origin}` : "does not check out") : "none in the bundle"),
    row("Checked", `${new Date().toISOString().slice(0, 19)}Z in this browser, offline`),
  );
  out.append(summary);
  out.append(el("h3", {}, `Problems (${r.problems.length})`));
  if (r.problems.length) {
    const table = el("table", { id: "problems" }, el("tr", {}, el("th", {}, "kind"), el("th", {}, "path"), el("th", {}, "detail")));
    for (const p of r.problems) table.append(el("tr", {}, el("td", {}, p.kind), el("td", {}, p.path ?? ""), el("td", {}, p.detail)));
    out.append(table);
  } else {
    out.append(el("p", {}, "None."));
  }
  if (r.custody_chain.length > 1) {
    out.append(el("h3", {}, "Chain of custody"));
    const list = el("ol", {});
    for (const e of r.custody_chain) {
      const to = e.to ? ` to ${e.to.name} (${(e.to.fingerprint ?? "").slice(0, 16)})` : "";
      list.append(el("li", {}, `${e.time ?? "?"} ${e.event} by ${e.by.name} (${(e.by.fingerprint ?? "").slice(0, 16)})${to}${e.reason ? `: ${e.reason}` : ""}${e.signature_valid ? "" : " [signature does not verify]"}`));
    }
    out.append(list);
  }
  if (r.timestamps.length) {
    out.append(el("h3", {}, "Timestamps"));
    const list = el("ul", {});
    for (const t of r.timestamps) list.append(el("li", {}, timestampLine(t)));
    out.append(list);
  }
  out.append(el("h3", {}, "Not checked here"));
  const notes = el("ul", { id: "not-checked" });
  const lines = [...r.warnings];
  lines.push("not checked here: whether your own custody ledger still holds this bundle's entry; check with custody verify");
  if (r.ledger && typeof r.ledger.checkpoint === "string" && r.ledger.checkpoint.split("\n\n").pop().trim().split("\n").length > 1) {
    lines.push("not checked here: the witnesses' cosignatures on the ledger checkpoint; check with custody verify and the witnesses you chose");
  }
  lines.push("not checked here: symbolic links and special files in a folder (a browser does not show them); check with custody verify");
  for (const w of lines) notes.append(el("li", {}, w));
  out.append(notes);
  out.append(el("button", { id: "print", type: "button" }, "Print this summary"));
  $("print-button-slot")?.remove();
  out.hidden = false;
  out.querySelector("#print").addEventListener("click", () => window.print());
}

/** Every file below a dropped folder, with its path relative to that folder. */
async function walkEntry(entry, prefix, out) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    out.push({ path: prefix + entry.name, file });
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (!batch.length) break;
      for (const child of batch) await walkEntry(child, `${prefix}${entry.name}/`, out);
    }
  }
}

function fromPicker(files) {
  // webkitRelativePath is "chosen-folder/inner/path": the chosen folder is the bundle.
  const entries = [];
  let top = null;
  for (const file of files) {
    const rel = file.webkitRelativePath || file.name;
    const cut = rel.indexOf("/");
    top ??= cut >= 0 ? rel.slice(0, cut) : "";
    entries.push({ path: cut >= 0 ? rel.slice(cut + 1) : rel, file });
  }
  return { entries, top };
}

function setup() {
  $("key-file").addEventListener("change", (e) => e.target.files[0] && readKeyFile(e.target.files[0]));
  $("fingerprint").addEventListener("input", readFingerprint);
  $("bundle-folder").addEventListener("change", (e) => {
    const { entries, top } = fromPicker(e.target.files);
    if (entries.length) run("folder", entries, top || "folder");
  });
  $("bundle-zip").addEventListener("change", (e) => {
    const file = e.target.files[0];
    if (file) run("zip", file, file.name);
  });
  const zone = $("drop");
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", async (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    const item = [...e.dataTransfer.items].find((i) => i.kind === "file");
    const entry = item?.webkitGetAsEntry?.();
    if (entry?.isDirectory) {
      const out = [];
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (!batch.length) break;
        for (const child of batch) await walkEntry(child, "", out);
      }
      run("folder", out, entry.name);
    } else if (item) {
      const file = item.getAsFile();
      if (file.name.toLowerCase().endsWith(".pub")) readKeyFile(file);
      else run("zip", file, file.name);
    }
  });
  setupReceipt(() => state.policy);
  document.body.dataset.state = "ready";
}

setup();
