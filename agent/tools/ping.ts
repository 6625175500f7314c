// Runs one `ping` measurement: COUNT echo requests SPACING apart from the agent's overlay
// address. execa with an argument array; addresses are checked to be IPs before they get here.
import { isIP } from 'node:net';
import { execa } from 'execa';
import { parsePingOutput, type PingOutcome } from './pingOutput.js';

export interface PingOptions {
  target: string;
  /** Source address (ping -I); none: the kernel picks. */
  source?: string;
  /** Interface to send through (ping -I IFACE); wins over `source` (ping takes one -I). */
  interface?: string;
  count: number;
  /** Seconds between requests (ping -i). */
  spacing: number;
  /** Seconds to wait for the last reply (ping -W). */
  timeout: number;
  size: number;
  signal?: AbortSignal;
}

export type PingRunOutcome = PingOutcome | { kind: 'timeout'; message: string };

/** The ping command line (exported for tests and logs). */
export function pingArgs(o: PingOptions): string[] {
  if (isIP(o.target) === 0) throw new Error(`ping: target "${o.target}" is not an IP address`);
  if (o.source !== undefined && isIP(o.source) === 0) throw new Error(`ping: source "${o.source}" is not an IP address`);
  if (o.interface !== undefined && !/^[A-Za-z0-9_.:@-]{1,15}$/.test(o.interface))
    throw new Error(`ping: "${o.interface}" is not an interface name`);
  const deadline = Math.ceil(o.count * o.spacing + o.timeout + 1);
  return [
    '-n',
    '-c',
    String(o.count),
    '-i',
    seconds(o.spacing),
    '-W',
    seconds(Math.max(o.timeout, 0.001)),
    '-w',
    String(deadline),
    '-s',
    String(o.size),
    ...(o.interface ? ['-I', o.interface] : o.source ? ['-I', o.source] : []),
    o.target,
  ];
}

export async function runPing(o: PingOptions): Promise<PingRunOutcome> {
  const args = pingArgs(o);
  // ping stops itself at -w; the process timeout is a backstop for a wedged ping.
  const limitMs = (o.count * o.spacing + o.timeout + 5) * 1000;
  const r = await execa('ping', args, {
    reject: false,
    timeout: limitMs,
    ...(o.signal ? { cancelSignal: o.signal } : {}),
    forceKillAfterDelay: 1000,
    stdin: 'ignore',
    env: { LC_ALL: 'C' },
  });
  if (r.timedOut) return { kind: 'timeout', message: `ping did not finish within ${Math.round(limitMs / 1000)}s` };
  if (r.isCanceled) return { kind: 'error', message: 'ping cancelled (agent stopping)' };
  if (r.failed && r.exitCode === undefined)
    return { kind: 'error', message: (r.shortMessage ?? '').split('\n')[0] ?? 'ping could not be started' };
  return parsePingOutput({ stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode });
}

function seconds(s: number): string {
  return String(Math.round(s * 1000) / 1000);
}
