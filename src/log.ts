// One logger setup for every part: structured JSON lines (pino, the logger fastify uses).
import { destination, pino, type LevelWithSilent, type Logger } from 'pino';

export type { Logger };
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function isLogLevel(v: string): v is LevelWithSilent {
  return (LOG_LEVELS as readonly string[]).includes(v);
}

/** A logger writing JSON lines to stderr (stdout stays free for command output such as tables). */
export function createLogger(name: string, level: string = process.env.LPM_LOG_LEVEL ?? 'info'): Logger {
  if (!isLogLevel(level)) throw new Error(`--log-level: "${level}" is not one of ${LOG_LEVELS.join(', ')}`);
  return pino({ name, level, base: { component: name } }, destination({ fd: 2, sync: false }));
}
