// Runs one iperf3 client test towards a target's iperf3 server: TCP for `bandwidth`, UDP at a fixed
// rate for `udp-jitter`. Always -J; the JSON decides the result (see iperf3Output.ts).
import { isIP } from 'node:net';
import { execa } from 'execa';
import { parseIperf3Output, type Iperf3Mode, type Iperf3Outcome } from './iperf3Output.js';

export interface Iperf3ClientOptions {
  target: string;
  port: number;
  /** Source address (iperf3 -B). */
  source?: string;
  /** Interface to send through (iperf3 --bind-dev, SO_BINDTODEVICE). */
  bindDev?: string;
  mode: Iperf3Mode;
  /** Seconds; iperf3 takes whole seconds, so this is rounded up. */
  duration: number;
  omit: number;
  parallel: number;
  /** UDP target rate in bytes per second. */
  udpRate: number;
  /** Connect timeout in seconds. */
  connectTimeout?: number;
  signal?: AbortSignal;
}

export function iperf3ClientArgs(o: Iperf3ClientOptions): string[] {
  if (isIP(o.target) === 0) throw new Error(`iperf3: target "${o.target}" is not an IP address`);
  if (o.source !== undefined && isIP(o.source) === 0) throw new Error(`iperf3: source "${o.source}" is not an IP address`);
  return [
    '-c',
    o.target,
    '-p',
    String(o.port),
    '-t',
    String(Math.max(1, Math.ceil(o.duration))),
    '-O',
    String(Math.ceil(o.omit)),
    '-P',
    String(o.parallel),
    '-J',
    '--connect-timeout',
    String(Math.round((o.connectTimeout ?? 3) * 1000)),
    ...(o.source ? ['-B', o.source] : []),
    ...(o.bindDev ? ['--bind-dev', bindDevName(o.bindDev)] : []),
    ...(o.mode === 'udp' ? ['-u', '-b', String(Math.max(1, Math.round(o.udpRate * 8)))] : []),
  ];
}

/** An interface name for --bind-dev (checked: it goes on a command line). */
export function bindDevName(name: string): string {
  if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(name)) throw new Error(`iperf3: "${name}" is not an interface name`);
  return name;
}

export async function runIperf3Client(o: Iperf3ClientOptions): Promise<Iperf3Outcome> {
  const args = iperf3ClientArgs(o);
  const limitMs = (Math.ceil(o.duration) + Math.ceil(o.omit) + (o.connectTimeout ?? 3) + 10) * 1000;
  const r = await execa('iperf3', args, {
    reject: false,
    timeout: limitMs,
    ...(o.signal ? { cancelSignal: o.signal } : {}),
    forceKillAfterDelay: 1000,
    stdin: 'ignore',
    maxBuffer: 16 * 1024 * 1024,
  });
  if (r.timedOut) return { result: 'timeout', error: `iperf3 did not finish within ${Math.round(limitMs / 1000)}s` };
  if (r.isCanceled) return { result: 'error', error: 'iperf3 cancelled (agent stopping)' };
  if (r.failed && r.exitCode === undefined) return { result: 'error', error: (r.shortMessage ?? '').split('\n')[0] ?? 'iperf3 could not be started' };
  return parseIperf3Output(String(r.stdout ?? ''), o.mode, String(r.stderr ?? ''));
}
