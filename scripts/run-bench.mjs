#!/usr/bin/env node
// Runs benchmarks by name: `npm run bench -- api`. Each prints its figures as one JSON line.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const names = process.argv.slice(2);
if (names.length === 0) {
  console.error('usage: npm run bench -- <name> [...]   (available: api, scheduler, rollout, podstart, footprint, streaming)');
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
  const r = spawnSync(process.execPath, [file], { stdio: 'inherit' });
  if (r.status !== 0) status = r.status ?? 1;
}
process.exit(status);
