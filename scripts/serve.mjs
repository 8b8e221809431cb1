#!/usr/bin/env node
// Small static server for the demo, the browser tests and the benchmark.
//
// Mounts (first match wins):
//   /pkg/          → pkg/            (npm package layout, incl. pkg/wasm/)
//   /wasm/         → pkg/wasm/       (so www/vitrine.js finds ./wasm/… next to itself)
//   /models/       → --models DIR    (bundles; default .cache/demo)
//   /node_modules/ → node_modules/   (only with --node-modules: the benchmark's tfjs)
//   extra mounts   → --mount /prefix/=DIR (repeatable)
//   /              → www/
//
// Every file is sent with its exact Content-Length, a strong ETag (size and
// modification time) and `Cache-Control: no-cache`: a browser may keep a
// copy but must revalidate it on every use (a rebuilt wasm is never served
// stale), and a request whose `If-None-Match` names the current ETag gets
// 304 with no body (the model cache's revalidation, docs/web.md). Prefixes
// in `immutable` are sent as a CDN sends content-hashed assets
// (`max-age=31536000, immutable`: the benchmark's warm visits). For tests:
// `?chunked=1` omits Content-Length (the client's unknown-length path),
// `?slow=1` paces the body in 64 KiB writes (a real multi-chunk download)
// and `?noetag=1` sends no ETag (a server without validators).

import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve, join, extname, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.vtr': 'application/octet-stream',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

/**
 * @param {{ port?: number, host?: string, models?: string, nodeModules?: boolean,
 *           mounts?: Record<string, string>, quiet?: boolean, immutable?: string[],
 *           onRequest?: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void,
 *           headers?: Record<string, string> }} [opts] `headers`: sent with every
 *           response (e.g. COOP/COEP, to test a cross-origin isolated page)
 * @returns {Promise<{ server: import('node:http').Server, url: string, port: number, close: () => Promise<void> }>}
 */
export async function startServer(opts = {}) {
  const host = opts.host ?? '127.0.0.1';
  /** @type {[string, string][]} */
  const mounts = [];
  for (const [prefix, dir] of Object.entries(opts.mounts ?? {})) mounts.push([prefix, resolve(dir)]);
  mounts.push(['/pkg/', join(ROOT, 'pkg')]);
  mounts.push(['/wasm/', join(ROOT, 'pkg', 'wasm')]);
  mounts.push(['/models/', resolve(opts.models ?? join(ROOT, '.cache', 'demo'))]);
  if (opts.nodeModules) mounts.push(['/node_modules/', join(ROOT, 'node_modules')]);
  mounts.push(['/', join(ROOT, 'www')]);

  const immutable = opts.immutable ?? [];
  const server = createServer(async (req, res) => {
    // Tests watch requests as they arrive (res.statusCode once written).
    opts.onRequest?.(req, res);
    const send = (status, body, headers = {}) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...opts.headers, ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n', { Allow: 'GET, HEAD' });
    let url;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return send(400, 'bad request\n');
    }
    let pathname;
    try {
      pathname = decodeURIComponent(url.pathname);
    } catch {
      return send(400, 'bad path encoding\n');
    }
    if (pathname.includes('\0')) return send(400, 'bad path\n');
    // The storefront demo is the landing page.
    if (pathname === '/') return send(302, '', { Location: '/demo/shopper.html' });
    const mount = mounts.find(([prefix]) => pathname.startsWith(prefix) || pathname + '/' === prefix);
    if (!mount) return send(404, 'not found\n');
    const [prefix, dir] = mount;
    if (pathname + '/' === prefix) return send(301, '', { Location: prefix + url.search });
    let file = resolve(dir, '.' + sep + pathname.slice(prefix.length));
    if (file !== dir && !file.startsWith(dir + sep)) return send(403, 'forbidden\n');
    let st;
    try {
      st = await stat(file);
      if (st.isDirectory()) {
        if (!pathname.endsWith('/')) return send(301, '', { Location: pathname + '/' + url.search });
        file = join(file, 'index.html');
        st = await stat(file);
      }
    } catch {
      // Browsers ask for a favicon on every first visit: not an error worth a console line.
      if (pathname === '/favicon.ico') return send(204, '');
      return send(404, 'not found\n');
    }
    if (!st.isFile()) return send(404, 'not found\n');
    /** @type {Record<string, string | number>} */
    const headers = {
      'Content-Type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Cache-Control': immutable.some((p) => pathname.startsWith(p)) ? 'public, max-age=31536000, immutable' : 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      ...opts.headers,
    };
    const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
    if (url.searchParams.get('noetag') !== '1') {
      headers.ETag = etag;
      if (matchesEtag(req.headers['if-none-match'], etag)) {
        const { 'Content-Type': _t, ...rest } = headers;
        res.writeHead(304, rest);
        return res.end();
      }
    }
    if (url.searchParams.get('chunked') !== '1') headers['Content-Length'] = st.size;
    res.writeHead(200, headers);
    if (req.method === 'HEAD') return res.end();
    if (url.searchParams.get('slow') === '1') {
      // Paced 64 KiB writes, so that clients see a real multi-chunk download
      // even over loopback (tests of progress and chunked writes).
      const stream = createReadStream(file, { highWaterMark: 64 * 1024 });
      try {
        for await (const chunk of stream) {
          if (!res.write(chunk)) await new Promise((ok) => res.once('drain', ok));
          await new Promise((ok) => setTimeout(ok, 2));
        }
        res.end();
      } catch {
        res.destroy();
      }
      return;
    }
    const stream = createReadStream(file, { highWaterMark: 256 * 1024 });
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  });
  server.keepAliveTimeout = 1000;
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, host, () => ok(undefined));
  });
  const addr = /** @type {import('node:net').AddressInfo} */ (server.address());
  const base = `http://${host}:${addr.port}`;
  if (!opts.quiet) {
    console.log(`vitrine: serving on ${base}/`);
    for (const [p, d] of mounts) console.log(`  ${p.padEnd(15)} → ${d}`);
    console.log(`demo: ${base}/demo/  (Ctrl-C to stop)`);
  }
  return {
    server,
    url: base,
    port: addr.port,
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections?.();
        server.close(() => ok(undefined));
      }),
  };
}

/**
 * Whether an If-None-Match header names `etag` (RFC 9110 13.1.2: weak
 * comparison, a list, or `*`).
 * @param {string | string[] | undefined} header @param {string} etag
 */
export function matchesEtag(header, etag) {
  if (header === undefined) return false;
  const list = (Array.isArray(header) ? header.join(',') : header).split(',').map((s) => s.trim());
  return list.some((tag) => tag === '*' || tag.replace(/^W\//, '') === etag);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  /** @type {Parameters<typeof startServer>[0]} */
  const opts = { port: Number(process.env.PORT ?? 8080), mounts: {} };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const next = () => {
      const v = args[++i];
      if (v === undefined) {
        console.error(`serve.mjs: ${a} needs a value`);
        process.exit(2);
      }
      return v;
    };
    if (a === '--port') opts.port = Number(next());
    else if (a === '--host') opts.host = next();
    else if (a === '--models') opts.models = next();
    else if (a === '--node-modules') opts.nodeModules = true;
    else if (a === '--mount') {
      const [prefix, dir] = next().split('=');
      if (!prefix?.startsWith('/') || !prefix.endsWith('/') || !dir) {
        console.error('serve.mjs: --mount wants /prefix/=DIR');
        process.exit(2);
      }
      opts.mounts[prefix] = dir;
    } else {
      console.error(`usage: node scripts/serve.mjs [--port N] [--host H] [--models DIR] [--node-modules] [--mount /p/=DIR]`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    console.error(`serve.mjs: bad port ${opts.port}`);
    process.exit(2);
  }
  // A taken port is common (another demo, another dev server): say so in one
  // line and take the next free one rather than printing a stack trace.
  const wanted = opts.port;
  for (let port = wanted; ; port++) {
    try {
      if (port !== wanted) opts.port = port;
      await startServer(opts);
      break;
    } catch (e) {
      const code = /** @type {any} */ (e)?.code;
      if ((code === 'EADDRINUSE' || code === 'EACCES') && wanted !== 0 && port < wanted + 20 && port < 65535) {
        console.error(`serve.mjs: port ${port} on ${opts.host ?? '127.0.0.1'} is ${code === 'EADDRINUSE' ? 'taken' : 'not allowed'}; trying ${port + 1} (PORT=N make demo picks one)`);
        continue;
      }
      console.error(`serve.mjs: cannot listen on ${opts.host ?? '127.0.0.1'}:${port}: ${/** @type {any} */ (e)?.message ?? e}; choose another with PORT=N`);
      process.exit(1);
    }
  }
}
