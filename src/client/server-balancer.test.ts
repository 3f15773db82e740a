import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { ClusterCA } from '../apiserver/pki.js';
import { silentLogger } from '../util/log.js';
import { ServerBalancer } from './server-balancer.js';

/** An HTTPS server answering every request with its name; /readyz follows `ready`; /watch never ends. */
class NamedServer {
  ready = true;
  readonly #server: https.Server;
  constructor(readonly name: string, tls: { cert: string; key: string }) {
    this.#server = https.createServer(tls, (req, res) => {
      if (req.url === '/readyz') { res.writeHead(this.ready ? 200 : 500).end(); return; }
      if (req.url === '/watch') { res.writeHead(200); res.write(`${name}\n`); return; }
      res.writeHead(200).end(name);
    });
  }
  async listen(): Promise<string> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    return `https://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }
  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((r) => this.#server.close(r));
  }
}

describe('ServerBalancer', () => {
  let dir: string;
  let ca: ClusterCA;
  let a: NamedServer;
  let b: NamedServer;
  let urls: string[];
  let lb: ServerBalancer;
  let agent: https.Agent;

  const get = (path: string): Promise<string> => new Promise((resolve, reject) => {
    https.get(`${lb.url}${path}`, { ca: ca.pair.cert, agent }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-balancer-'));
    ca = await ClusterCA.loadOrCreate(dir);
    const tls = await ca.issue({ user: 'server', groups: [] }, { server: { dns: ['localhost'], ips: ['127.0.0.1'] } });
    a = new NamedServer('a', tls);
    b = new NamedServer('b', tls);
    urls = [await a.listen(), await b.listen()];
    lb = new ServerBalancer({ servers: urls, ca: ca.pair.cert, healthIntervalMs: 100, timeoutMs: 500, log: silentLogger });
    await lb.start();
    agent = new https.Agent({ keepAlive: true });
  });
  after(async () => {
    agent.destroy();
    lb.close();
    await a.close();
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends connections to the first server while it is healthy, TLS passing through to it', async () => {
    assert.equal(lb.active, urls[0]);
    assert.equal(await get('/'), 'a');
    assert.equal(await get('/'), 'a');
  });

  it('a failed health check moves new connections to the next server and ends the open ones to the failed server', async () => {
    // An open, endless response through the balancer to a: it must be cut when a leaves rotation.
    const ended = new Promise<string>((resolve) => {
      https.get(`${lb.url}/watch`, { ca: ca.pair.cert, agent: false }, (res) => {
        let seen = '';
        res.on('data', (d: Buffer) => { seen += d.toString(); });
        res.on('close', () => resolve(seen));
      }).on('error', () => resolve('error'));
    });
    await new Promise((r) => setTimeout(r, 200));
    a.ready = false;
    assert.equal(await ended, 'a\n', 'the watch to a was ended');
    assert.equal(lb.active, urls[1]);
    agent.destroy();
    agent = new https.Agent({ keepAlive: true });
    assert.equal(await get('/'), 'b');
  });

  it('stays with the server it moved to when the first one recovers (no flapping back)', async () => {
    a.ready = true;
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(lb.active, urls[1]);
    assert.equal(await get('/'), 'b');
  });

  it('a server that refuses connections is skipped for the connection itself, before any health check', async () => {
    const dead = new NamedServer('dead', await ca.issue({ user: 'server', groups: [] }, { server: { dns: [], ips: ['127.0.0.1'] } }));
    const deadURL = await dead.listen();
    await dead.close();
    lb.setServers([deadURL, ...urls]);
    // The active server (b) stays preferred; a fresh list with only the dead one first would be tried in order.
    assert.equal(lb.active, urls[1]);
    lb.setServers([deadURL, urls[0]!]);
    assert.equal(lb.servers.length, 2);
    agent.destroy();
    agent = new https.Agent({ keepAlive: true });
    assert.equal(await get('/'), 'a', 'the dead server was skipped and a answered');
    assert.equal(lb.active, urls[0]);
  });
});
