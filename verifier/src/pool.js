// One hashing Worker per core, fed from a queue; the page stays responsive
// because no byte is hashed on its thread.
/* global WORKER_SOURCE */

export class HashPool {
  constructor(size, onBytes) {
    const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
    this.workers = [];
    this.idle = [];
    this.queue = [];
    this.pending = new Map();
    this.onBytes = onBytes;
    this.nextId = 1;
    for (let i = 0; i < size; i++) {
      const w = new Worker(url);
      w.onmessage = (event) => this.message(w, event.data);
      w.onerror = (event) => this.crash(w, event);
      this.workers.push(w);
      this.idle.push(w);
    }
    this.url = url;
  }

  /** Hash a job: resolves {sha256, size, bytes} or {error}. */
  hash(job) {
    return new Promise((resolve) => {
      const id = this.nextId++;
      this.queue.push({ ...job, id });
      this.pending.set(id, { resolve, worker: null, reported: 0 });
      this.pump();
    });
  }

  pump() {
    while (this.idle.length && this.queue.length) {
      const w = this.idle.pop();
      const job = this.queue.shift();
      this.pending.get(job.id).worker = w;
      w.busy = job.id;
      w.postMessage(job);
    }
  }

  message(w, data) {
    const entry = this.pending.get(data.id);
    if (!entry) return;
    if (data.progress !== undefined) {
      entry.reported += data.progress;
      this.onBytes(data.progress);
      return;
    }
    this.pending.delete(data.id);
    if (data.size !== undefined) this.onBytes(data.size - entry.reported);
    w.busy = null;
    this.idle.push(w);
    entry.resolve(data);
    this.pump();
  }

  crash(w, event) {
    event.preventDefault();
    const id = w.busy;
    const entry = id ? this.pending.get(id) : null;
    if (entry) {
      this.pending.delete(id);
      entry.resolve({ id, error: `read error (${event.message || "worker failed"})` });
    }
    w.busy = null;
    this.idle.push(w);
    this.pump();
  }

  close() {
    for (const w of this.workers) w.terminate();
    URL.revokeObjectURL(this.url);
  }
}
