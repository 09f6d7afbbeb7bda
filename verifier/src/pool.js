// One hashing Worker per core, fed from a queue; the page stays responsive
// because no byte is hashed on its thread.
/* global WORKER_SOURCE */

// Jobs in flight per worker: small files wait on reads, so a few at once keep
// the reads overlapping and the cores busy.
const IN_FLIGHT = 6;

export class HashPool {
  constructor(size, onBytes) {
    const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
    this.workers = [];
    this.queue = [];
    this.head = 0;
    this.pending = new Map();
    this.onBytes = onBytes;
    this.nextId = 1;
    for (let i = 0; i < size; i++) {
      const w = new Worker(url);
      w.onmessage = (event) => this.message(w, event.data);
      w.onerror = (event) => this.crash(w, event);
      w.busy = new Set();
      this.workers.push(w);
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
    while (this.queue.length) {
      // The least busy worker, if it has room.
      let w = this.workers[0];
      for (const c of this.workers) if (c.busy.size < w.busy.size) w = c;
      if (w.busy.size >= IN_FLIGHT) return;
      const job = this.queue[this.head];
      this.queue[this.head++] = undefined;
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      }
      this.pending.get(job.id).worker = w;
      w.busy.add(job.id);
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
    w.busy.delete(data.id);
    entry.resolve(data);
    this.pump();
  }

  crash(w, event) {
    event.preventDefault();
    for (const id of w.busy) {
      const entry = this.pending.get(id);
      this.pending.delete(id);
      entry?.resolve({ id, error: `read error (${event.message || "worker failed"})` });
    }
    w.busy.clear();
    this.pump();
  }

  close() {
    for (const w of this.workers) w.terminate();
    URL.revokeObjectURL(this.url);
  }
}
