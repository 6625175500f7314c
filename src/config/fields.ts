// zod field types shared by every config file: they accept the human-friendly text forms and
// produce base units, so the rest of the code never parses strings.
import { z } from 'zod';
import { formatDuration, parseBandwidth, parseDuration, parseRatio } from '../units.js';

function fromText(parse: (s: string) => number, what: string) {
  return z.union([z.string(), z.number()]).transform((v, ctx) => {
    if (typeof v === 'number') {
      if (!Number.isFinite(v) || v < 0) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${what} must be a non-negative number` });
        return z.NEVER;
      }
      return v;
    }
    try {
      return parse(v);
    } catch (err) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
      return z.NEVER;
    }
  });
}

/**
 * The least an interval may be: a loop that runs more often than once a second (or, with 0, as
 * fast as the CPU allows) is a typo, not a wish.
 */
export const MIN_INTERVAL_SECONDS = 1;

/** Bounds of a duration field; the messages name them, the loader prefixes the field and line. */
export interface DurationLimits {
  /** Smallest allowed value in seconds (inclusive). Without it, 0 is allowed. */
  min?: number;
  /** Largest allowed value in seconds (inclusive). */
  max?: number;
}

/** "500ms", "10s", or a number of seconds -> seconds; `limits` refuse values outside them. */
export const duration = (limits: DurationLimits = {}) =>
  fromText(parseDuration, 'a duration in seconds').superRefine((v, ctx) => {
    if (typeof v !== 'number') return; // unreadable: already reported
    if (limits.min !== undefined && v < limits.min)
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be at least ${formatDuration(limits.min)} (got ${formatDuration(v)})` });
    if (limits.max !== undefined && v > limits.max)
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be at most ${formatDuration(limits.max)} (got ${formatDuration(v)})` });
  });
/** A time between runs of a loop: at least MIN_INTERVAL_SECONDS. */
export const interval = () => duration({ min: MIN_INTERVAL_SECONDS });
/** "100Mbps", "1Gbit/s", "12.5MB/s", or a number of bytes/s -> bytes per second; `positive`: 0 refused. */
export const bandwidth = (o: { positive?: boolean } = {}) =>
  fromText(parseBandwidth, 'a bandwidth in bytes per second').superRefine((v, ctx) => {
    if (typeof v === 'number' && o.positive && !(v > 0)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be more than 0' });
  });
/** "10%", 0.1 -> 0.1. */
export const ratio = () =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    try {
      return parseRatio(v);
    } catch (err) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
      return z.NEVER;
    }
  });

/** A Kubernetes-style object name (node names, network names): DNS-1123 subdomain. */
export const objectName = () =>
  z
    .string()
    .min(1)
    .max(253)
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a lowercase DNS name (a-z, 0-9, "-", ".")');

/** A TCP/UDP port a peer connects to: 1..65535. */
export const port = () =>
  z
    .number({ invalid_type_error: 'must be a port number (1-65535)' })
    .int('must be a whole port number (1-65535)')
    .min(1, 'must be a port number from 1 to 65535')
    .max(65535, 'must be a port number from 1 to 65535');

const LISTEN = /^(\[[0-9a-fA-F:.]+\]|[^\s:]*):(\d+)$/;
/**
 * "host:port" or ":port" listen address. The port is 1..65535, or 0 for "any free port" (tests,
 * the scenario runner's in-process extender); anything else is refused naming the port.
 */
export const listenAddress = () =>
  z
    .string()
    .regex(LISTEN, 'must be HOST:PORT, e.g. 0.0.0.0:9105 or 127.0.0.1:8888')
    .superRefine((text, ctx) => {
      const digits = LISTEN.exec(text)?.[2];
      if (digits !== undefined && Number(digits) > 65535)
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `port ${digits} is out of range: must be 1-65535 (or 0 for any free port)` });
    });
