import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { OciImageStore } from '../agent/images/image-store.js';
import { familiarName } from '../agent/images/reference.js';
import { loadRegistriesConfig, type RegistriesConfig } from '../agent/images/registries-config.js';
import { ImageError, type LocalImage, type PullPolicy } from '../agent/images/types.js';
import type { LogFields, Logger } from '../util/log.js';

const help = `Usage: skiff images COMMAND [flags]

Manages the images of this node's store (<data-dir>/agent/images), like crictl and ctr do for containerd.

Commands:
  import FILE...     import OCI-layout tarballs (skopeo oci-archive:, ctr export) or docker save archives
  ls                 list images (IMAGE TAG IMAGE ID SIZE); -q prints only the ids
  rm REF...          remove images by name, digest reference or id (the image goes with its last name)
  pull REF           pull from a registry (always asks the registry, as imagePullPolicy: Always)

Flags:
  --data-dir DIR     skiff's data directory (default /var/lib/skiff)
  --registries FILE  mirrors, TLS and credentials in k3s registries.yaml shape
                     (default /etc/skiff/registries.yaml when it exists)
  -v, --verbose      log what the store does
`;

/** A logger for a terminal: warnings and errors as plain lines, the rest only with --verbose. */
function terminalLogger(verbose: boolean, base: LogFields = {}): Logger {
  const emit = (level: string, msg: string, fields?: LogFields): void => {
    const all = { ...base, ...fields };
    const extra = Object.entries(all).map(([k, v]) => `${k}=${v instanceof Error ? v.message : typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
    process.stderr.write(`skiff images: ${level === 'info' || level === 'debug' ? '' : `${level}: `}${msg}${extra ? ` (${extra})` : ''}\n`);
  };
  return {
    debug: (m, f) => { if (verbose) emit('debug', m, f); },
    info: (m, f) => { if (verbose) emit('info', m, f); },
    warn: (m, f) => emit('warning', m, f),
    error: (m, f) => emit('error', m, f),
    with: (f) => terminalLogger(verbose, { ...base, ...f }),
  };
}

/** Sizes as crictl prints them: decimal units, three significant digits (`1.03MB`, `301kB`). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${Number(v.toPrecision(3))}${units[i]}`;
}

/** Splits a repo tag into the IMAGE and TAG columns (`docker.io/library/busybox`, `latest`). */
function splitTag(repoTag: string): [string, string] {
  const colon = repoTag.lastIndexOf(':');
  return colon > repoTag.lastIndexOf('/') ? [repoTag.slice(0, colon), repoTag.slice(colon + 1)] : [repoTag, '<none>'];
}

/** The `skiff images ls` table: one row per tag, untagged images as `<none>`. */
export function formatImageTable(images: readonly LocalImage[]): string {
  const rows: string[][] = [['IMAGE', 'TAG', 'IMAGE ID', 'SIZE']];
  for (const img of images) {
    const id = img.id.slice('sha256:'.length, 'sha256:'.length + 13);
    const tags = img.repoTags.length > 0 ? img.repoTags : [undefined];
    for (const t of tags) {
      const [repo, tag] = t ? splitTag(t) : ['<none>', '<none>'];
      rows.push([repo, tag, id, humanSize(img.size)]);
    }
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]! + 3))).join('')).join('\n') + '\n';
}

function loadRegistries(file: string | undefined): RegistriesConfig | undefined {
  if (file) {
    if (!existsSync(file)) throw new Error(`--registries: ${file}: no such file`);
    return loadRegistriesConfig(file);
  }
  const fallback = '/etc/skiff/registries.yaml';
  return existsSync(fallback) ? loadRegistriesConfig(fallback) : undefined;
}

/** `skiff images …`; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function runImages(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'data-dir': { type: 'string', default: '/var/lib/skiff' },
        registries: { type: 'string' },
        quiet: { type: 'boolean', short: 'q', default: false },
        verbose: { type: 'boolean', short: 'v', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    process.stderr.write(`skiff images: ${(e as Error).message}\n\n${help}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [cmd, ...args] = positionals;
  if (values.help || cmd === undefined || cmd === 'help') {
    process.stdout.write(help);
    return cmd === undefined && !values.help ? 2 : 0;
  }
  const usage = (msg: string): number => {
    process.stderr.write(`skiff images ${cmd}: ${msg}\n\n${help}`);
    return 2;
  };
  const root = join(values['data-dir'], 'agent', 'images');
  const log = terminalLogger(values.verbose);
  let store: OciImageStore | undefined;
  const open = (registries?: RegistriesConfig): OciImageStore => (store = new OciImageStore({ root, log, ...(registries ? { registries } : {}) }));
  try {
    switch (cmd) {
      case 'ls': case 'list': {
        if (args.length > 0) return usage('takes no arguments');
        const images = open().list();
        process.stdout.write(values.quiet ? images.map((i) => `${i.id}\n`).join('') : formatImageTable(images));
        return 0;
      }
      case 'import': {
        if (args.length === 0) return usage('needs at least one archive file');
        const s = open();
        let failed = 0;
        for (const file of args) {
          try {
            const t0 = Date.now();
            const r = await s.importArchiveDetailed(file);
            for (const img of r.images) {
              const names = img.repoTags.length > 0 ? img.repoTags.map(familiarName).join(', ') : '<untagged>';
              process.stdout.write(`Imported ${names} ${img.id}\n`);
            }
            if (r.unnamedTags.length > 0) {
              process.stderr.write(`skiff images: warning: ${file} names images only by tag (${r.unnamedTags.join(', ')}), with no repository; they were imported untagged. Write the archive with a full name, e.g. skopeo copy … oci-archive:FILE:busybox:1.36\n`);
            }
            log.info('imported archive', { file, ms: Date.now() - t0 });
          } catch (e) {
            failed++;
            process.stderr.write(`skiff images import: ${(e as Error).message}\n`);
          }
        }
        return failed === 0 ? 0 : 1;
      }
      case 'rm': case 'rmi': case 'remove': {
        if (args.length === 0) return usage('needs at least one image reference');
        const s = open();
        let failed = 0;
        for (const ref of args) {
          const img = s.get(ref);
          if (!img) {
            process.stderr.write(`skiff images rm: no such image "${ref}"\n`);
            failed++;
            continue;
          }
          await s.remove(ref);
          process.stdout.write(`Deleted: ${ref}\n`);
        }
        return failed === 0 ? 0 : 1;
      }
      case 'pull': {
        if (args.length !== 1) return usage('needs exactly one image reference');
        const s = open(loadRegistries(values.registries));
        const policy: PullPolicy = 'Always';
        const img = await s.ensure(args[0]!, policy, (m) => process.stderr.write(`${m}\n`));
        process.stdout.write(`Image is up to date for ${img.id}\n`);
        return 0;
      }
      default:
        return usage(`unknown command "${cmd}"`);
    }
  } catch (e) {
    const prefix = e instanceof ImageError ? `${e.reason}: ` : '';
    process.stderr.write(`skiff images ${cmd}: ${prefix}${(e as Error).message}\n`);
    return 1;
  } finally {
    await store?.close();
  }
}
