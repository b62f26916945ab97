// A real HTTP hook server on loopback, shared by the Workers-runtime tests (vitest globalSetup)
// and the end-to-end tests. Every path is /h/<key>/<behaviour>; what each key received is kept
// and served at GET /__log/<key>, so tests can see exactly what Torque sent.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

export interface Received {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string; // base64 (empty with ?log=size)
  size: number;
  at: number;
  /** How many requests for this key were in flight when this one arrived (itself included). */
  inflight: number;
}

const inflight = new Map<string, number>();

export async function startHookServer(port = 0): Promise<{ url: string; server: Server; log: Map<string, Received[]> }> {
  const log = new Map<string, Received[]>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks), log));
  });
  // Every answer closes its connection. A server that keeps idle connections open for a while and
  // then closes them races the runtime's connection pool: a call sent on a connection the server
  // is closing fails with "Network connection lost" before reaching the hook, which a test with
  // max_retries=0 took for the hook failing (a flake once in many runs under load).
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${bound}`, server, log };
}

function handle(req: IncomingMessage, res: ServerResponse, body: Buffer, log: Map<string, Received[]>) {
  const url = new URL(req.url ?? '/', 'http://x');
  const parts = url.pathname.split('/').filter(Boolean);
  if (parts[0] === '__log') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(log.get(parts[1]) ?? []));
    return;
  }
  if (parts[0] !== 'h' || parts.length < 3) {
    res.statusCode = 404;
    res.end('no such hook');
    return;
  }
  const [, key, behaviour] = parts;
  const seen = log.get(key) ?? [];
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : (v ?? '');
  const now = (inflight.get(key) ?? 0) + 1;
  inflight.set(key, now);
  res.on('close', () => inflight.set(key, (inflight.get(key) ?? 1) - 1));
  const sizeOnly = url.searchParams.get('log') === 'size'; // big bodies: keep their size only
  seen.push({ method: req.method ?? '', path: url.pathname + url.search, headers, body: sizeOnly ? '' : body.toString('base64'), size: body.length, at: Date.now(), inflight: now });
  log.set(key, seen);
  const q = url.searchParams;
  const call = seen.length; // 1 on the first call for this key
  res.setHeader('connection', 'close');

  switch (behaviour) {
    case 'ok':
      res.end('ok');
      return;
    case 'bytes': {
      // 1,024 bytes that are not text: 0..255, four times.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.from(Array.from({ length: 1024 }, (_, i) => i % 256)));
      return;
    }
    case 'status': {
      res.statusCode = Number(q.get('code') ?? 500);
      if (q.get('retry_after')) res.setHeader('retry-after', q.get('retry_after')!);
      res.end(`status ${res.statusCode}`);
      return;
    }
    case 'seq': {
      // codes=500,500,200: the n-th call answers the n-th code (the last one repeats).
      const codes = (q.get('codes') ?? '200').split(',');
      const code = codes[Math.min(call, codes.length) - 1];
      if (code === 'hangup') return void req.socket.destroy();
      if (code === 'sleep') return void setTimeout(() => res.end('late'), Number(q.get('ms') ?? 5000));
      res.statusCode = Number(code);
      res.end(`call ${call}`);
      return;
    }
    case 'down-until': {
      // 503 until the time t (epoch ms), then 200: a destination that is down for a while.
      res.statusCode = Date.now() < Number(q.get('t')) ? 503 : 200;
      res.end(res.statusCode === 200 ? 'up' : 'down');
      return;
    }
    case 'sleep':
      setTimeout(() => res.end('slept'), Number(q.get('ms') ?? 1000));
      return;
    case 'hangup':
      req.socket.destroy();
      return;
    case 'reset':
      // Answer 200, start a body, then drop the connection mid-body.
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100000' });
      res.write('partial');
      setTimeout(() => req.socket.destroy(), 50);
      return;
    case 'drip': {
      // An endless body, one byte at a time.
      res.writeHead(200, { 'content-type': 'text/plain' });
      const t = setInterval(() => res.write('.'), Number(q.get('every') ?? 100));
      res.on('close', () => clearInterval(t));
      return;
    }
    case 'gzip-bomb': {
      // A short compressed answer (about 550 bytes on the wire) that unpacks to 512 KiB.
      const packed = gzipSync(Buffer.alloc(512 * 1024, 'a'));
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'content-length': String(packed.length) });
      res.end(packed);
      return;
    }
    case 'big': {
      // A fast, huge body (64 MiB) that nobody should buffer.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 120);
      let sent = 0;
      const pump = () => {
        while (sent < 1024 && res.write(chunk)) sent++;
        if (sent >= 1024) res.end();
        else res.once('drain', pump);
      };
      res.on('close', () => (sent = 1024));
      pump();
      return;
    }
    case 'redirect': {
      res.statusCode = Number(q.get('code') ?? 302);
      res.setHeader('location', q.get('to') ?? '/');
      res.end();
      return;
    }
    default:
      res.statusCode = 400;
      res.end(`unknown behaviour ${behaviour}`);
  }
}
