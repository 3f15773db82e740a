import { execFile, execFileSync } from 'node:child_process';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * The offline test images of scripts/build-test-images.sh, built once per machine into `<repo>/.tmp/test-images`
 * (the script is idempotent and locked, so parallel test processes build once and then find them ready).
 */

/** Paths and names of the built images. */
export interface TestImages {
  /** The output directory of the build script. */
  readonly dir: string;
  /** OCI layout directories; each layout's tags are listed in `tags`. */
  readonly layouts: { readonly busybox: string; readonly debian: string; readonly nginx: string; readonly cpwar: string; readonly tomcat: string };
  /** Tags inside each layout. */
  readonly tags: { readonly busybox: readonly string[]; readonly debian: readonly string[]; readonly nginx: readonly string[]; readonly cpwar: readonly string[]; readonly tomcat: readonly string[] };
  /** One OCI-layout tarball with every image, annotated with full names (`docker.io/library/nginx:1.17.8`, …). */
  readonly archive: string;
  /** The content of `/sample.war` in xxx/cpwar:v2. */
  readonly sampleWar: string;
}

/** The repository root (this file is at dist/test/helpers/ after compilation, test/helpers/ before). */
export const repoRoot = ((): string => {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes(`${join('dist', 'test')}`) ? resolve(here, '..', '..', '..') : resolve(here, '..', '..');
})();

let built: TestImages | undefined;

/** Builds the test images when needed (a few seconds the first time, milliseconds after) and returns them. */
export function testImages(): TestImages {
  if (built) return built;
  const dir = process.env['SKIFF_TEST_IMAGES_DIR'] ?? join(repoRoot, '.tmp', 'test-images');
  execFileSync('bash', [join(repoRoot, 'scripts', 'build-test-images.sh'), dir], { stdio: ['ignore', 'inherit', 'inherit'] });
  built = {
    dir,
    layouts: {
      busybox: join(dir, 'busybox'),
      debian: join(dir, 'debian'),
      nginx: join(dir, 'nginx'),
      cpwar: join(dir, 'xxx-cpwar'),
      tomcat: join(dir, 'xxx-tomcat'),
    },
    tags: { busybox: ['latest'], debian: ['latest'], nginx: ['latest', '1.17.8', '1.17.10'], cpwar: ['v2'], tomcat: ['7.0'] },
    archive: join(dir, 'images.oci.tar'),
    sampleWar: 'skiff sample.war v2\n',
  };
  return built;
}

/** Runs skopeo (no signature policy file needed); rejects with its stderr. */
export async function skopeo(args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync('skopeo', ['--insecure-policy', ...args], { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`skopeo ${args.join(' ')}: ${err.stderr?.trim() || err.message}`);
  }
}

/**
 * Writes an image of a layout into an archive file with skopeo: `docker-archive` (a legacy `docker save` tar,
 * tagged `name`) or `oci-archive` (an OCI layout tar whose ref.name is `name`, a full reference or just a tag).
 */
export async function makeArchive(kind: 'docker-archive' | 'oci-archive', layout: string, tag: string, file: string, name: string): Promise<void> {
  await skopeo(['copy', '--quiet', `oci:${layout}:${tag}`, `${kind}:${file}:${name}`]);
}
