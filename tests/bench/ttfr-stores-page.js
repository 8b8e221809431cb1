// In-page half of `make bench-ttfr-stores` (driven by ttfr-stores.mjs): one
// way of reading a stored 100k-item bundle back on a warm visit, timed in a
// fresh page (so the wasm and the JS run the code a real warm visit runs,
// not code optimized by earlier rounds). `?op=store` writes the bundle into
// every store first; `?op=<method>` reads it back and, with `push=1`, also
// moves it into wasm memory the way load() does (BundleBuffer: the copy and
// the section CRCs).

const q = new URLSearchParams(location.search);
const op = q.get('op') ?? '';
const model = q.get('model') ?? '';
const push = q.get('push') === '1';
/** With `slice=N`, each chunk goes into wasm memory N bytes per call (V8 swaps in optimized code only at a call). */
const slice = Number(q.get('slice') ?? 0);
const primeMode = q.get('prime') ?? '';
const NAME = 'vitrine-stores-bench';

/** @returns {Promise<IDBDatabase>} */
function idb() {
  return new Promise((ok, fail) => {
    const r = indexedDB.open(NAME, 1);
    r.onupgradeneeded = () => r.result.createObjectStore('b');
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
  });
}
const req = (/** @type {IDBRequest} */ r) => new Promise((ok, fail) => ((r.onsuccess = () => ok(r.result)), (r.onerror = () => fail(r.error))));

async function store() {
  const bytes = new Uint8Array(await (await fetch(model, { cache: 'no-store' })).arrayBuffer());
  const blob = new Blob([bytes], { type: 'application/octet-stream' });
  const cache = await caches.open(NAME);
  await cache.put('/stored.vtr', new Response(blob, { headers: { 'content-length': String(bytes.length) } }));
  // The same bytes as two entries: the prefix the first recommend() needs
  // (header .. BIAS) and the rest, for `cache-core` / `cache-split`.
  const core = coreLength(bytes);
  await cache.put('/stored-core.vtr', new Response(bytes.slice(0, core), { headers: { 'content-length': String(core) } }));
  await cache.put('/stored-rest.vtr', new Response(bytes.slice(core), { headers: { 'content-length': String(bytes.length - core) } }));
  const db = await idb();
  await new Promise((ok, fail) => {
    const t = db.transaction('b', 'readwrite');
    t.objectStore('b').put(blob, 'bundle');
    t.oncomplete = ok;
    t.onerror = () => fail(t.error);
  });
  const dir = await navigator.storage.getDirectory();
  const fh = await dir.getFileHandle('stored.vtr', { create: true });
  const w = await fh.createWritable();
  await w.write(bytes);
  await w.close();
  return { bytes: bytes.length };
}

/** End of the BIAS section (kind 7): the bytes the first recommend() needs. */
function coreLength(/** @type {Uint8Array} */ b) {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let end = 0;
  for (let i = 0; i < dv.getUint32(16, true); i++) {
    const e = 64 + 32 * i;
    const kind = dv.getUint32(e, true);
    if (kind <= 7) end = Math.max(end, Number(dv.getBigUint64(e + 8, true) + dv.getBigUint64(e + 16, true)));
  }
  return end;
}

/** When the cache's lookup answered (performance.now()), for ops that have one. */
let lookedUp = null;
const hit = (/** @type {any} */ r) => {
  lookedUp = performance.now();
  return r;
};

/**
 * Read chunks (stream methods) or one buffer; `sink` takes each piece.
 * @param {(c: Uint8Array) => void} sink
 */
async function read(sink) {
  const drain = async (/** @type {ReadableStream<Uint8Array>} */ s) => {
    const r = s.getReader();
    for (;;) {
      const { done, value } = await r.read();
      if (done) return;
      sink(value);
    }
  };
  switch (op) {
    case 'cache-stream':
      return drain(/** @type {any} */ (hit(await (await caches.open(NAME)).match('/stored.vtr'))?.body));
    case 'cache-stream-1rt':
      // One round trip to the browser process instead of open + match.
      return drain(/** @type {any} */ (hit(await caches.match('/stored.vtr', { cacheName: NAME }))?.body));
    case 'cache-core':
      return drain(/** @type {any} */ (hit(await caches.match('/stored-core.vtr', { cacheName: NAME }))?.body));
    case 'cache-split': {
      // Both parts at once: the rest's chunks are set aside while the core streams.
      const [a, b] = await Promise.all(['/stored-core.vtr', '/stored-rest.vtr'].map((u) => caches.match(u, { cacheName: NAME })));
      hit(a);
      const rest = [];
      const restDone = (async () => {
        const r = /** @type {any} */ (b).body.getReader();
        for (;;) {
          const { done, value } = await r.read();
          if (done) return;
          rest.push(value);
        }
      })();
      await drain(/** @type {any} */ (a).body);
      globalThis.coreAt = performance.now();
      await restDone;
      for (const c of rest) sink(c);
      return;
    }
    case 'cache-arraybuffer':
      return sink(new Uint8Array(await /** @type {Response} */ (await (await caches.open(NAME)).match('/stored.vtr')).arrayBuffer()));
    case 'idb-blob-arraybuffer': {
      const blob = hit(await req((await idb()).transaction('b').objectStore('b').get('bundle')));
      return sink(new Uint8Array(await blob.arrayBuffer()));
    }
    case 'idb-blob-stream': {
      const blob = hit(await req((await idb()).transaction('b').objectStore('b').get('bundle')));
      return drain(blob.stream());
    }
    case 'opfs-file-arraybuffer': {
      const f = hit(await (await (await navigator.storage.getDirectory()).getFileHandle('stored.vtr')).getFile());
      return sink(new Uint8Array(await f.arrayBuffer()));
    }
    case 'opfs-file-stream': {
      const f = hit(await (await (await navigator.storage.getDirectory()).getFileHandle('stored.vtr')).getFile());
      return drain(f.stream());
    }
    case 'opfs-sync-worker': {
      // createSyncAccessHandle exists only in dedicated workers: the bytes
      // come back as a transferred ArrayBuffer (no copy on the way).
      const src = `onmessage = async () => {
        const fh = await (await navigator.storage.getDirectory()).getFileHandle('stored.vtr');
        const h = await fh.createSyncAccessHandle();
        const buf = new ArrayBuffer(h.getSize());
        h.read(new Uint8Array(buf), { at: 0 });
        h.close();
        postMessage(buf, [buf]);
      };`;
      const w = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
      const buf = await new Promise((ok, fail) => {
        w.onmessage = (e) => ok(e.data);
        w.onerror = (e) => fail(new Error(e.message));
        w.postMessage(0);
      });
      w.terminate();
      return sink(new Uint8Array(buf));
    }
    default:
      throw new Error(`unknown op ${op}`);
  }
}

try {
  if (op === 'store') {
    globalThis.result = await store();
  } else {
    let glue;
    if (push) {
      glue = await import('/wasm/relaxed/vitrine_core.js');
      await glue.default({ module_or_path: '/wasm/relaxed/vitrine_core_bg.wasm' });
    }
    // The glue's modules are loaded before a real load() starts: here too.
    const primeMod = push && primeMode === 'glue' ? await import('/lib/source.js') : null;
    const calMod = push && primeMode === '32' ? await import('/lib/calibrate.js') : null;
    const total = Number(q.get('bytes'));
    const t0 = performance.now();
    let n = 0;
    let chunks = 0;
    const buf = push ? new glue.BundleBuffer(total) : null;
    // `prime`: what runs on the engine while the bytes arrive, as load()
    // does: 'glue' the current glue's prime(), '32' the one of before (one
    // pass over a 32-row catalogue), absent nothing.
    let readDone = false;
    const primeStats = { ms: /** @type {number | null} */ (null) };
    let primed = Promise.resolve();
    if (push && primeMode === 'glue') {
      primed = /** @type {any} */ (primeMod).prime(glue, true, () => readDone, primeStats);
    } else if (push && primeMode === '32') {
      primed = (async () => {
        await new Promise((ok) => setTimeout(ok, 0));
        if (readDone) return;
        const bytes = /** @type {any} */ (calMod).calibrationBundle(32, 64);
        let t = performance.now();
        const b = new glue.BundleBuffer(bytes.length);
        b.push(bytes);
        const m = glue.Model.fromBufferCached(b);
        primeStats.ms = performance.now() - t;
        await new Promise((ok) => setTimeout(ok, 0));
        if (!readDone) {
          t = performance.now();
          m.recommend(new Float32Array(64).fill(0.1), { k: 10 });
          primeStats.ms += performance.now() - t;
        }
        m.free();
        b.free();
      })();
    }
    await read((c) => {
      n += c.byteLength;
      chunks++;
      if (buf && slice > 0) for (let o = 0; o < c.byteLength; o += slice) buf.push(c.subarray(o, Math.min(c.byteLength, o + slice)));
      else if (buf) buf.push(c);
    });
    const t1 = performance.now();
    readDone = true;
    await primed;
    // cache-core reads the prefix only: what reading less would cost.
    const whole = op !== 'cache-core';
    if (whole && n !== total) throw new Error(`read ${n} of ${total} bytes`);
    let validate = null;
    let query = null;
    if (buf && !whole) buf.free();
    else if (buf) {
      const t2 = performance.now();
      const m = glue.Model.fromBufferCached(buf);
      const t3 = performance.now();
      validate = t3 - t2;
      const u = new Float32Array(m.dim);
      for (let i = 0; i < u.length; i++) u[i] = Math.sin(i + 1);
      m.recommend(u, { k: 10 });
      query = performance.now() - t3;
      m.free();
    }
    globalThis.result = { ms: t1 - t0, chunks, validate, query, prime: primeStats.ms, lookup: lookedUp === null ? null : lookedUp - t0, core: globalThis.coreAt ? globalThis.coreAt - t0 : null };
  }
} catch (e) {
  globalThis.result = { error: String(e?.stack ?? e) };
}
