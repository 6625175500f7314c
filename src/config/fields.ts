// zod field types shared by every config file: they accept the human-friendly text forms and
// produce base units, so the rest of the code never parses strings.
import { z } from 'zod';
import { parseBandwidth, parseDuration, parseRatio } from '../units.js';

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

/** "500ms", "10s", or a number of seconds -> seconds. */
export const duration = () => fromText(parseDuration, 'a duration in seconds');
/** "100Mbps", "1Gbit/s", "12.5MB/s", or a number of bytes/s -> bytes per second. */
export const bandwidth = () => fromText(parseBandwidth, 'a bandwidth in bytes per second');
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

/** "host:port" or ":port" listen address. */
export const listenAddress = () =>
  z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:]*):\d{1,5}$/, 'must be HOST:PORT, e.g. 0.0.0.0:9105 or 127.0.0.1:8888');
