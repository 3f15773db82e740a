// A real terminal for tests of interactive commands (`kubectl exec -it`, `kubectl attach -it`): a tmux
// session on its own server socket, driven by send-keys and read with capture-pane.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export class TmuxSession {
  readonly #socket: string;
  readonly #name = 'test';

  private constructor(socket: string) { this.#socket = socket; }

  /**
   * Starts `command` (argv) in a detached session of the given size, under a shell that prints its exit
   * status when it ends (`[exit N]`, 128+n for a signal): tmux's own pane status is not reliable for that.
   */
  static async start(socket: string, command: readonly string[], size: { width: number; height: number }): Promise<TmuxSession> {
    const t = new TmuxSession(socket);
    await t.#tmux(['new-session', '-d', '-s', t.#name, '-x', String(size.width), '-y', String(size.height),
      'sh', '-c', '"$@"; echo "[exit $?]"; sleep 3600', 'sh', ...command]);
    return t;
  }

  async #tmux(args: readonly string[]): Promise<string> {
    const { stdout } = await run('tmux', ['-S', this.#socket, '-f', '/dev/null', ...args], { env: { ...process.env, TERM: 'xterm' } });
    return stdout;
  }

  /** Types text, then Enter. */
  async type(text: string): Promise<void> {
    await this.#tmux(['send-keys', '-t', this.#name, '-l', text]);
    await this.#tmux(['send-keys', '-t', this.#name, 'Enter']);
  }

  /** Waits until the screen matches; fails with the screen in the message. */
  async waitFor(pattern: RegExp, ms: number, what: string): Promise<string> {
    const deadline = Date.now() + ms;
    let screen = '';
    while (Date.now() < deadline) {
      screen = await this.screen();
      if (pattern.test(screen)) return screen;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${what}; the screen:\n${screen}`);
  }

  async resize(width: number, height: number): Promise<void> {
    await this.#tmux(['resize-window', '-t', this.#name, '-x', String(width), '-y', String(height)]);
  }

  /** The pane's visible text and its scrollback. */
  screen(): Promise<string> {
    return this.#tmux(['capture-pane', '-p', '-J', '-S', '-200', '-t', this.#name]);
  }

  /** Waits for the command to end; its exit status (128 + n after signal n), or a failure with the screen. */
  async ended(ms: number): Promise<number> {
    const screen = await this.waitFor(/\[exit \d+\]/, ms, 'the command to end');
    return Number(/\[exit (\d+)\]/.exec(screen)![1]);
  }

  async kill(): Promise<void> {
    await this.#tmux(['kill-server']).catch(() => { /* already gone */ });
  }
}
