import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';

/**
 * The logging interface every component accepts as an injected dependency.
 * pino's Logger satisfies it; tests may pass `silentLogger`.
 */
export interface Logger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  /** One JSON object per line when true, short human lines otherwise. @default false */
  json?: boolean;
  /** @default 'info' */
  level?: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Where lines go. @default process.stderr */
  stream?: NodeJS.WritableStream;
  /** Fields stamped on every line (e.g. { component: 'stun-server' }). */
  bindings?: Record<string, unknown>;
}

const PINO_INTERNAL_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'component']);
const LEVEL_NAMES: Record<number, string> = { 20: 'debug', 30: 'info', 40: 'warn', 50: 'error' };

/** Turns pino's JSON lines into `level component: message key=value ...` for people. */
function humanStream(out: NodeJS.WritableStream): DestinationStream {
  return {
    write(line: string) {
      const record = JSON.parse(line) as Record<string, unknown>;
      const level = LEVEL_NAMES[record.level as number] ?? 'log';
      const component = record.component ? `${String(record.component)}: ` : '';
      const fields = Object.entries(record)
        .filter(([key]) => !PINO_INTERNAL_FIELDS.has(key))
        .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
        .join(' ');
      out.write(`${level} ${component}${String(record.msg ?? '')}${fields ? ' ' + fields : ''}\n`);
    },
  };
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const out = options.stream ?? process.stderr;
  const destination: DestinationStream = options.json ? (out as DestinationStream) : humanStream(out);
  const logger: PinoLogger = pino(
    { level: options.level ?? 'info', base: null, timestamp: options.json ? pino.stdTimeFunctions.isoTime : false },
    destination,
  );
  return options.bindings ? logger.child(options.bindings) : logger;
}

/** A logger that drops everything: the default for library components. */
export const silentLogger: Logger = createLogger({ level: 'silent' });
