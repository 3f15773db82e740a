/** Severity of a log line; `debug` lines are dropped unless SKIFF_LOG_LEVEL=debug. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Structured fields attached to a log line. Errors are flattened to their message and stack. */
export type LogFields = Record<string, unknown>;

/** A structured logger writing one JSON object per line to stderr. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose lines carry `fields` in addition to this logger's. */
  with(fields: LogFields): Logger;
}

function minLevel(): number {
  const env = process.env['SKIFF_LOG_LEVEL'] as LogLevel | undefined;
  return levelRank[env ?? 'info'] ?? levelRank.info;
}

function flatten(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v instanceof Error) out[k] = { message: v.message, name: v.name, stack: v.stack?.split('\n').slice(1, 4).join('\n') };
    else out[k] = v;
  }
  return out;
}

class JsonLogger implements Logger {
  readonly #base: LogFields;
  readonly #min: number;
  readonly #write: (line: string) => void;

  constructor(base: LogFields, min: number, write: (line: string) => void) {
    this.#base = base;
    this.#min = min;
    this.#write = write;
  }

  #emit(level: LogLevel, msg: string, fields?: LogFields): void {
    if (levelRank[level] < this.#min) return;
    const line = { ts: new Date().toISOString(), level, ...this.#base, msg, ...(fields ? flatten(fields) : {}) };
    this.#write(JSON.stringify(line) + '\n');
  }

  debug(msg: string, fields?: LogFields): void { this.#emit('debug', msg, fields); }
  info(msg: string, fields?: LogFields): void { this.#emit('info', msg, fields); }
  warn(msg: string, fields?: LogFields): void { this.#emit('warn', msg, fields); }
  error(msg: string, fields?: LogFields): void { this.#emit('error', msg, fields); }
  with(fields: LogFields): Logger { return new JsonLogger({ ...this.#base, ...fields }, this.#min, this.#write); }
}

/** Creates the process logger; `component` names the part of skiff that writes the lines. */
export function createLogger(component: string, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  return new JsonLogger({ component }, minLevel(), write);
}

/** A logger that drops everything, for tests and benchmarks that do not want noise. */
export const silentLogger: Logger = new JsonLogger({}, Infinity, () => {});
