/** Marks a branch the type checker proves unreachable; throws if reached anyway at run time. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
