import { readFile } from 'node:fs/promises';

/**
 * A process's start time in clock ticks after boot (field 22 of `/proc/<pid>/stat`). With the pid it
 * names one process for good, so a recycled pid is never taken for the container that had it.
 */
export async function processStartTime(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return undefined;
  // The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (the state): a zombie has ended already.
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return fields[19];
}

/** Whether the process recorded as (`pid`, `startTime`) still runs. */
export async function processAlive(pid: number, startTime: string): Promise<boolean> {
  return (await processStartTime(pid)) === startTime;
}
