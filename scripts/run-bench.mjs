#!/usr/bin/env node
// Runs benchmarks by name: `npm run bench -- api`. Each prints its figures as one JSON line. Flags after the
// names go to every benchmark named: `npm run bench -- api --store etcd`.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const firstFlag = args.findIndex((a) => a.startsWith('--'));
const names = firstFlag < 0 ? args : args.slice(0, firstFlag);
const flags = firstFlag < 0 ? [] : args.slice(firstFlag);
if (names.length === 0) {
  console.error('usage: npm run bench -- <name> [...] [--flag value ...]   (available: api, scheduler, rollout, podstart, footprint, streaming, failover; api takes --store sqlite|etcd)');
  process.exit(2);
}
let status = 0;
for (const name of names) {
  const file = new URL(`../dist/bench/${name}.js`, import.meta.url).pathname;
  if (!existsSync(file)) {
    console.error(`no benchmark named "${name}"`);
    status = 2;
    continue;
  }
  const r = spawnSync(process.execPath, [file, ...flags], { stdio: 'inherit' });
  if (r.status !== 0) status = r.status ?? 1;
}
process.exit(status);
