// The witness's upload page: hash each file on the device (streaming), send it
// with tus 1.0 (tus-js-client) and a SHA-256 checksum on every part, resume
// after a dropped connection, a closed tab or a server restart, then finish and
// show the receipt. The capability is the link's #fragment: never sent in a URL.
import { createSHA256 } from "hash-wasm";
import { Upload, DefaultHttpStack } from "tus-js-client";
import en from "./lang/en.json";
import uk from "./lang/uk.json";

const TEXT = { en, uk };
const CHUNK = 4 * 1024 * 1024;
const READ = 4 * 1024 * 1024;
const $ = (id) => document.getElementById(id);
const token = decodeURIComponent(location.hash.replace(/^#/, ""));
let lang = (navigator.language || "en").toLowerCase().startsWith("uk") ? "uk" : "en";
let opaque = false;
let busy = false;

function t(key, vars = {}) {
  return (TEXT[lang][key] || TEXT.en[key] || key).replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}

function paint() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  $("switch").textContent = t("switch");
  $("switch").lang = lang === "en" ? "uk" : "en";
}

function say(text) {
  $("live").textContent = text;
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { "Custody-Invitation": token, "Tus-Resumable": "1.0.0", ...(options.headers || {}) },
    cache: "no-store",
    credentials: "omit",
    referrerPolicy: "no-referrer",
  });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return { status: response.status, body };
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function base64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

async function hashFile(file, onProgress) {
  const h = await createSHA256();
  h.init();
  for (let at = 0; at < file.size; at += READ) {
    const part = new Uint8Array(await file.slice(at, at + READ).arrayBuffer());
    h.update(part);
    onProgress(Math.min(file.size, at + READ) / file.size);
  }
  return hex(h.digest("binary"));
}

// Every PATCH carries Upload-Checksum: sha256 of exactly the bytes it sends.
class ChecksumStack {
  constructor() {
    this.inner = new DefaultHttpStack();
  }
  createRequest(method, url) {
    const request = this.inner.createRequest(method, url);
    const send = request.send.bind(request);
    request.send = async (body) => {
      if (method === "PATCH" && body instanceof Blob) {
        const h = await createSHA256();
        h.init();
        h.update(new Uint8Array(await body.arrayBuffer()));
        request.setHeader("Upload-Checksum", `sha256 ${base64(h.digest("binary"))}`);
      }
      return send(body);
    };
    return request;
  }
  getName() {
    return "custody-checksum";
  }
}

function item(file) {
  const li = document.createElement("li");
  const label = document.createElement("span");
  const bar = document.createElement("progress");
  bar.max = 100;
  bar.value = 0;
  const id = `p${Math.random().toString(36).slice(2)}`;
  bar.id = id;
  label.id = `${id}l`;
  bar.setAttribute("aria-labelledby", label.id);
  li.append(label, document.createElement("br"), bar);
  $("list").append(li);
  const show = (key, pct) => {
    label.textContent = t(key, { name: file.name, pct: Math.floor(pct * 100), reason: "" });
    bar.value = Math.floor(pct * 100);
  };
  return { li, label, bar, show };
}

function reason(error) {
  const status = error && error.originalResponse ? error.originalResponse.getStatus() : 0;
  if (status === 413) return t("too_large");
  if (status === 507) return t("storage_full");
  if (status === 0) return t("offline");
  return `HTTP ${status}`;
}

async function sendOne(file, tokenId) {
  const row = item(file);
  const sha256 = await hashFile(file, (p) => row.show("status_checking", p));
  let lastSaid = -1;
  for (let attempt = 0; attempt < 2; attempt++) {
    const outcome = await new Promise((resolve) => {
      const upload = new Upload(file, {
        endpoint: "/files",
        chunkSize: CHUNK,
        retryDelays: [0, 1000, 3000, 5000, 10000, 20000, 30000, 60000, 60000, 60000],
        headers: { "Custody-Invitation": token },
        metadata: { filename: file.name, filetype: file.type || "", sha256 },
        httpStack: new ChecksumStack(),
        storeFingerprintForResuming: true,
        removeFingerprintOnSuccess: true,
        fingerprint: async (f) => ["custody", tokenId, f.name, f.type, f.size, f.lastModified].join("/"),
        onProgress: (sent, total) => {
          const pct = total ? sent / total : 1;
          row.show("status_sending", pct);
          const tenth = Math.floor(pct * 10);
          if (tenth !== lastSaid) {
            lastSaid = tenth;
            say(row.label.textContent);
          }
        },
        onSuccess: () => resolve({ ok: true }),
        onError: (error) => resolve({ ok: false, error }),
      });
      upload.findPreviousUploads().then((previous) => {
        if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
        upload.start();
      });
    });
    if (outcome.ok) {
      row.show("status_done", 1);
      say(row.label.textContent);
      return true;
    }
    const status = outcome.error.originalResponse ? outcome.error.originalResponse.getStatus() : 0;
    if (status !== 460) {
      row.label.textContent = t("status_failed", { name: file.name, reason: reason(outcome.error) });
      row.label.classList.add("error");
      say(row.label.textContent);
      return false;
    }
  }
  return false;
}

async function sendAll() {
  if (busy) return;
  const files = Array.from($("files").files || []);
  if (!files.length) {
    say(t("nothing"));
    return;
  }
  busy = true;
  $("send").disabled = true;
  const tokenId = hex(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)))).slice(0, 16);
  let ok = true;
  for (const file of files) ok = (await sendOne(file, tokenId)) && ok;
  busy = false;
  $("send").disabled = false;
  await refresh();
  if (ok) say(t("all_sent"));
}

async function refresh() {
  const { status, body } = await api("/api/status");
  if (status === 403 || status === 404 || !body) {
    $("refusal").textContent = status === 403 && body && body.error !== "this link is not valid" ? t("refused", { reason: body.error }) : t("invalid");
    $("refusal").hidden = false;
    $("upload").hidden = true;
    return null;
  }
  opaque = body.opaque;
  if (body.state === "received" || body.state === "ingested" || body.state === "failed") {
    $("upload").hidden = true;
    waitForReceipt();
    return body;
  }
  if (body.refusal) {
    $("refusal").textContent = t("refused", { reason: body.refusal });
    $("refusal").hidden = false;
    $("upload").hidden = true;
    return body;
  }
  $("upload").hidden = false;
  const complete = body.files.filter((f) => f.sha256).length;
  $("count").textContent = t("received_files", { n: complete });
  $("finish").disabled = busy || complete === 0 || complete !== body.files.length;
  return body;
}

function download(text, name, type, label) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name;
  a.textContent = label;
  $("downloads").append(a);
}

let waiting = false;
async function waitForReceipt() {
  if (waiting) return;
  waiting = true;
  say(t("finishing"));
  $("refusal").hidden = true;
  for (;;) {
    const { body } = await api("/api/receipt");
    if (body && body.state === "failed") {
      $("refusal").textContent = t("failed");
      $("refusal").hidden = false;
      return;
    }
    if (body && body.state === "ingested") {
      $("receipt").hidden = false;
      $("code").textContent = body.code;
      $("downloads").textContent = "";
      if (opaque || !body.receipt) {
        $("keep").textContent = t("receipt_opaque");
      } else {
        $("keep").textContent = t("receipt_keep");
        download(body.receipt, "receipt.json", "application/json", t("download_json"));
        if (body.receipt_html) download(body.receipt_html, "receipt.html", "text/html", t("download_html"));
      }
      say(`${t("receipt_ready")} ${body.code}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function finish() {
  $("finish").disabled = true;
  const { status } = await api("/api/finish", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ names: $("names").checked }),
  });
  if (status === 202) {
    $("upload").hidden = true;
    waitForReceipt();
  } else {
    await refresh();
  }
}

$("switch").addEventListener("click", () => {
  lang = lang === "en" ? "uk" : "en";
  paint();
  if (!$("upload").hidden) refresh();
});
$("send").addEventListener("click", sendAll);
$("finish").addEventListener("click", finish);
paint();
if (!/^[A-Za-z0-9_-]{43}$/.test(token)) {
  $("refusal").textContent = t("invalid");
  $("refusal").hidden = false;
} else {
  refresh();
}
