/**
 * What a test suite must undo (servers, etcd members, directories), undone last first; each step runs even when an
 * earlier one failed, so one broken teardown does not leave the rest behind.
 */
export class Cleanups {
  readonly #steps: (() => Promise<unknown> | unknown)[] = [];

  push(step: () => Promise<unknown> | unknown): void {
    this.#steps.push(step);
  }

  async run(): Promise<void> {
    while (this.#steps.length > 0) await Promise.resolve().then(this.#steps.pop()!).catch(() => {});
  }
}
