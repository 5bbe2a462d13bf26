// Package installs on lab hosts: a forward HTTP proxy on the machine for apt, limited to the machine's own apt
// sources. Lab hosts have no route off the machine (catch-all unreachable routes, docs/lab.md); with `apt: true` each
// host's private /etc/apt gets `Acquire::http::Proxy "http://ROOT-SIDE-ADDRESS:3142/"`, so `apt-get update/install`
// on a host sends its requests to the machine's end of its own veth, and only there. The proxy forwards GET/HEAD of
// absolute http:// URLs whose host is one of the machine's configured apt sources (as `apt` on the machine itself
// would fetch them) and refuses everything else (403): other hosts, CONNECT, other methods, other clients.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const APT_PROXY_PORT = 3142;

/** Host names of the machine's apt sources (http:// ones only; one-line .list and deb822 .sources files). */
export function aptSourceHosts(root = '/etc/apt'): string[] {
  const files: string[] = [];
  const main = path.join(root, 'sources.list');
  files.push(main);
  try {
    for (const f of readdirSync(path.join(root, 'sources.list.d'))) {
      if (f.endsWith('.list') || f.endsWith('.sources')) files.push(path.join(root, 'sources.list.d', f));
    }
  } catch {
    /* no sources.list.d */
  }
  const hosts = new Set<string>();
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*/, '').trim();
      // `deb [opts] URI suite ...` or deb822 `URIs: URI URI`
      const uris = /^URIs:/i.test(line) ? line.replace(/^URIs:/i, '').trim().split(/\s+/) : /^deb(-src)?\s/.test(line) ? line.split(/\s+/).filter((w) => /^\w+:\/\//.test(w)) : [];
      for (const u of uris) {
        try {
          const url = new URL(u);
          if (url.protocol === 'http:') hosts.add(url.hostname);
        } catch {
          /* not a URL */
        }
      }
    }
  }
  return [...hosts].sort();
}

/** The apt.conf.d snippet a lab host gets. */
export function aptProxyConf(proxyAddress: string): string {
  return `// runbook lab: apt reaches the machine's apt sources only through the lab's proxy (docs/lab.md)\nAcquire::http::Proxy "http://${proxyAddress}:${APT_PROXY_PORT}/";\nAcquire::https::Proxy "DIRECT";\n`;
}

/**
 * The proxy program (CommonJS, no dependencies), run with process.execPath:
 *   node apt-proxy.cjs PORT READY_FILE CLIENTS_CSV ALLOWED_HOSTS_CSV ADDRESS...
 * It listens on every ADDRESS (the lab's root-side veth addresses), answers only the client addresses in CLIENTS_CSV
 * (the lab's hosts; not the machine, whose connections to these addresses come from them), and writes READY_FILE once every listener is up. Each upstream request has a
 * 120 s inactivity timeout; at most 64 requests run at once (more get 503, apt retries).
 */
export const APT_PROXY_SERVER = `'use strict';
const http = require('http');
const fs = require('fs');
const [port, ready, clientsCsv, allowCsv, ...addrs] = process.argv.slice(2);
const clients = new Set(clientsCsv.split(',').filter(Boolean));
const allow = new Set(allowCsv.split(',').filter(Boolean));
let active = 0;
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
function refuse(res, code, msg) { res.writeHead(code, { 'content-type': 'text/plain' }); res.end(msg + '\\n'); }
function handler(req, res) {
  const client = (req.socket.remoteAddress || '').replace(/^::ffff:/, '');
  if (!clients.has(client)) return refuse(res, 403, 'not a host of this lab');
  let u;
  try { u = new URL(req.url); } catch { return refuse(res, 400, 'an absolute http:// URL is needed'); }
  if (u.protocol !== 'http:' || !allow.has(u.hostname)) return refuse(res, 403, 'not one of the machine\\'s apt sources: ' + u.host);
  if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'only GET and HEAD');
  if (active >= 64) return refuse(res, 503, 'busy');
  active++;
  let done = false;
  const finish = () => { if (!done) { done = true; active--; } };
  res.on('close', finish);
  const headers = {};
  for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k.toLowerCase())) headers[k] = v;
  headers.host = u.host;
  const up = http.request({ host: u.hostname, port: u.port || 80, path: u.pathname + u.search, method: req.method, headers, timeout: 120000 }, (r) => {
    const out = {};
    for (const [k, v] of Object.entries(r.headers)) if (!HOP.has(k.toLowerCase())) out[k] = v;
    res.writeHead(r.statusCode || 502, out);
    r.pipe(res);
  });
  up.on('timeout', () => up.destroy(new Error('upstream timeout')));
  up.on('error', (e) => { if (!res.headersSent) refuse(res, 502, 'upstream: ' + e.message); else res.destroy(); finish(); });
  req.on('close', () => { if (!res.writableEnded) up.destroy(); });
  up.end();
}
let listening = 0;
for (const a of addrs) {
  const srv = http.createServer(handler);
  srv.on('connect', (req, sock) => { sock.end('HTTP/1.1 403 Forbidden\\r\\n\\r\\n'); });
  srv.on('clientError', (e, sock) => { try { sock.end('HTTP/1.1 400 Bad Request\\r\\n\\r\\n'); } catch {} });
  srv.listen(Number(port), a, () => { if (++listening === addrs.length) fs.writeFileSync(ready, String(process.pid) + '\\n'); });
}
`;
