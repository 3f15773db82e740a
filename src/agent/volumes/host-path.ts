import { mkdir, open, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';

/**
 * hostPath: a file or directory of the node itself, bind-mounted as is (nothing is copied; the
 * volume's host path is the path). `type` asks kubelet to check, or create, what is there first; the
 * checks and their messages follow upstream's host path type checker.
 */

/** The hostPath `type` values upstream accepts (`""` means no check). */
export const hostPathTypes = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'] as const;

/** What hostutil's GetFileType calls each kind of file; these names appear in the error messages. */
type FileType = 'Directory' | 'File' | 'Socket' | 'CharDevice' | 'BlockDevice';

function fileTypeOf(st: Stats): FileType {
  if (st.isDirectory()) return 'Directory';
  if (st.isFile()) return 'File';
  if (st.isSocket()) return 'Socket';
  if (st.isCharacterDevice()) return 'CharDevice';
  if (st.isBlockDevice()) return 'BlockDevice';
  throw new Error('only recognise file, directory, socket, block device and character device');
}

// Stat follows symlinks, so a link to a directory passes a Directory check, as with os.Stat upstream.
async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch {
    return undefined;
  }
}

async function typeMatchedOrError(path: string, expected: FileType, description: string): Promise<void> {
  const st = await statOrUndefined(path);
  if (!st) throw new Error(`hostPath ${path} doesn't exist`);
  let actual: FileType;
  try {
    actual = fileTypeOf(st);
  } catch (e) {
    throw new Error(`hostPath type check failed, ${path} is not a ${description}, unable to determine its type: ${(e as Error).message}`);
  }
  if (actual !== expected) throw new Error(`hostPath type check failed: ${path} is not a ${description}, it's a ${actual}`);
}

/**
 * Validates (and for the *OrCreate types, creates) the host path. DirectoryOrCreate makes the whole
 * chain with mode 0755; FileOrCreate creates an empty 0644 file but, like upstream's single
 * open(O_CREAT), needs the parent directory to exist. Throws an Error with upstream's wording.
 */
export async function checkHostPath(path: string, type: string | undefined): Promise<void> {
  if (path.split('/').includes('..')) throw new Error(`invalid HostPath \`${path}\`: must not contain '..'`);
  switch (type ?? '') {
    case '':
      return;
    case 'DirectoryOrCreate':
      if (!(await statOrUndefined(path))) await mkdir(path, { recursive: true, mode: 0o755 });
      return typeMatchedOrError(path, 'Directory', 'directory');
    case 'Directory':
      return typeMatchedOrError(path, 'Directory', 'directory');
    case 'FileOrCreate':
      if (!(await statOrUndefined(path))) {
        // 'a' is O_CREAT without O_EXCL or O_TRUNC: a file appearing meanwhile is kept, never emptied.
        const fh = await open(path, 'a', 0o644);
        await fh.close();
      }
      return typeMatchedOrError(path, 'File', 'file');
    case 'File':
      return typeMatchedOrError(path, 'File', 'file');
    case 'Socket':
      return typeMatchedOrError(path, 'Socket', 'socket file');
    case 'CharDevice':
      return typeMatchedOrError(path, 'CharDevice', 'character device');
    case 'BlockDevice':
      return typeMatchedOrError(path, 'BlockDevice', 'block device');
    default:
      throw new Error(`${type} is an invalid volume type`);
  }
}
