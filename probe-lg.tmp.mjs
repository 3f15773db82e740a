import tls from 'node:tls';
import { startServer, parallel } from './dist/bench/harness.js';
import { RestClient } from './dist/src/client/rest-client.js';
import { loadKubeconfig } from './dist/src/client/kubeconfig.js';
const server = await startServer(['--disable-scheduler']);
const access = loadKubeconfig(server.kubeconfig);
const pod = (i, p) => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `${p}-${i}`, labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'busybox', resources: { limits: { cpu: '100m', memory: '64Mi' } } }] } });
const N = 6000;
async function viaRest(p) {
  const bodies = Array.from({ length: N }, (_, i) => pod(i, p));
  const client = new RestClient(access, { maxSockets: 16 });
  const c0 = process.cpuUsage(); const t0 = performance.now(); let bad = 0;
  await parallel(N, 16, async (i) => { const r = await client.request('POST', '/api/v1/namespaces/default/pods', { body: bodies[i], discard: true }); if (r.status !== 201) bad++; });
  const c = process.cpuUsage(c0); client.close();
  return { how: 'rest', ms_per: ((c.user + c.system) / 1000 / N).toFixed(3), sys: (c.system/1000/N).toFixed(3), rate: Math.round(N / ((performance.now() - t0) / 1000)), bad };
}
async function viaTls(p) {
  const u = new URL(access.server);
  const reqs = Array.from({ length: N }, (_, i) => { const b = Buffer.from(pod(i, p)); return Buffer.concat([Buffer.from(`POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: ${b.length}\r\n\r\n`), b]); });
  const conns = await Promise.all(Array.from({ length: 16 }, () => new Promise((res, rej) => { const s = tls.connect({ host: u.hostname, port: Number(u.port), ca: access.ca, cert: access.cert, key: access.key, servername: 'localhost' }, () => res(s)); s.on('error', rej); })));
  const c0 = process.cpuUsage(); const t0 = performance.now(); let bad = 0; let next = 0;
  await Promise.all(conns.map((s) => new Promise((res) => {
    let buf = Buffer.alloc(0);
    const send = () => { const i = next++; if (i >= N) { res(); return; } s.write(reqs[i]); };
    s.on('data', (d) => { buf = buf.length ? Buffer.concat([buf, d]) : d; for (;;) { const h = buf.indexOf('\r\n\r\n'); if (h < 0) return; const head = buf.toString('latin1', 0, h); const m = /content-length: *(\d+)/i.exec(head); const total = h + 4 + Number(m[1]); if (buf.length < total) return; if (!head.startsWith('HTTP/1.1 201')) bad++; buf = buf.subarray(total); send(); } });
    send();
  })));
  const c = process.cpuUsage(c0); conns.forEach((s) => s.destroy());
  return { how: 'tls', ms_per: ((c.user + c.system) / 1000 / N).toFixed(3), sys: (c.system/1000/N).toFixed(3), rate: Math.round(N / ((performance.now() - t0) / 1000)), bad };
}
try {
  await viaRest('w0'); await viaTls('w1');
  for (let r = 0; r < 2; r++) { console.log(JSON.stringify(await viaRest(`r${r}`))); console.log(JSON.stringify(await viaTls(`t${r}`))); }
} finally { await server.stop(); }
