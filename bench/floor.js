// The floor: the same number of remote commands as runbook sent, each a trivial `exec /bin/sh -c true` on an exec
// channel, over one raw ssh2 connection per host (TCP_NODELAY), commands sequential per host, `forks` hosts at once.
// Usage: node bench/floor.js SPEC.json   where SPEC = { hosts: [{address, port}], user, keyFile, commands: [n per host], forks }
import { readFileSync } from 'node:fs';
import net from 'node:net';
import ssh2 from 'ssh2';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const key = readFileSync(spec.keyFile, 'utf8');

function connect(h) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: h.address, port: h.port }, () => {
      sock.setNoDelay(true);
      const c = new ssh2.Client();
      c.on('ready', () => resolve(c)).on('error', reject);
      c.connect({ sock, username: spec.user, privateKey: key, readyTimeout: 20_000 });
    });
    sock.on('error', reject);
  });
}

function exec(c, cmd) {
  return new Promise((resolve, reject) => {
    c.exec(cmd, (err, ch) => {
      if (err) return reject(err);
      let code = null;
      ch.on('exit', (x) => (code = x));
      ch.on('data', () => {});
      ch.stderr.on('data', () => {});
      ch.on('close', () => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
      ch.end();
    });
  });
}

async function host(i) {
  const c = await connect(spec.hosts[i]);
  for (let k = 0; k < spec.commands[i]; k++) await exec(c, "exec /bin/sh -c 'true'");
  c.end();
}

let next = 0;
const worker = async () => {
  while (next < spec.hosts.length) await host(next++);
};
await Promise.all(Array.from({ length: Math.min(spec.forks, spec.hosts.length) }, worker));
