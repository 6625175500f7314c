// Parses `iperf3 -J` client output (checked against iperf 3.12). Only the fields lpm uses are
// validated; anything else may change between versions. iperf3 reports failures in a top-level
// `error` string (and, in 3.12, still exits 0 for some of them), so the error field decides, not
// the exit code. "the server is busy running a test" is its own result: the target's server is
// taken by another client and the test should be retried later.
import { z } from 'zod';

const num = z.number().finite();

const tcpSum = z.object({ bits_per_second: num.nonnegative(), bytes: num.nonnegative().optional() }).passthrough();

const iperf3Json = z
  .object({
    start: z.object({ test_start: z.object({ protocol: z.string() }).passthrough().optional() }).passthrough().optional(),
    end: z
      .object({
        sum_sent: tcpSum.extend({ retransmits: num.nonnegative().optional() }).optional(),
        sum_received: tcpSum.optional(),
        /** UDP: receiver-side summary with jitter and loss. */
        sum: z
          .object({
            bits_per_second: num.nonnegative(),
            jitter_ms: num.nonnegative(),
            lost_percent: num.min(0).max(100),
            lost_packets: num.nonnegative().optional(),
            packets: num.nonnegative().optional(),
          })
          .passthrough()
          .optional(),
      })
      .passthrough()
      .optional(),
    error: z.string().optional(),
  })
  .passthrough();

export type Iperf3Mode = 'tcp' | 'udp';

export type Iperf3Outcome =
  | {
      result: 'success';
      /** Receiver-side throughput, bytes per second. */
      bandwidth: number;
      /** TCP retransmits of the sender (absent for UDP). */
      retransmits?: number;
      /** UDP only: jitter in seconds and loss 0..1 as seen by the receiver. */
      jitter?: number;
      loss?: number;
    }
  | { result: 'busy' | 'timeout' | 'error'; error: string };

const BUSY = /server is busy/i;
const TIMED_OUT = /timed out|timeout/i;

/** Parses one iperf3 -J run. Never throws: malformed output is an `error` outcome. */
export function parseIperf3Output(stdout: string, mode: Iperf3Mode, stderr = ''): Iperf3Outcome {
  const text = stdout.trim();
  if (!text) return { result: 'error', error: firstLine(stderr) || 'iperf3 printed no JSON' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { result: 'error', error: `iperf3 output is not JSON: ${(err as Error).message}` };
  }
  const parsed = iperf3Json.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { result: 'error', error: `iperf3 JSON: ${issue.path.join('.') || '(top level)'}: ${issue.message}` };
  }
  const out = parsed.data;
  if (out.error) return classifyError(out.error);
  const end = out.end;
  if (mode === 'udp') {
    if (!end?.sum) return { result: 'error', error: 'iperf3 JSON: end.sum missing (not a UDP test?)' };
    return {
      result: 'success',
      bandwidth: (end.sum_received?.bits_per_second ?? end.sum.bits_per_second) / 8,
      jitter: end.sum.jitter_ms / 1000,
      loss: end.sum.lost_percent / 100,
    };
  }
  if (!end?.sum_received) return { result: 'error', error: 'iperf3 JSON: end.sum_received missing' };
  const outcome: Iperf3Outcome = { result: 'success', bandwidth: end.sum_received.bits_per_second / 8 };
  if (end.sum_sent?.retransmits !== undefined) outcome.retransmits = end.sum_sent.retransmits;
  return outcome;
}

/** Maps iperf3's error text to a result label. */
export function classifyError(error: string): Iperf3Outcome {
  if (BUSY.test(error)) return { result: 'busy', error };
  if (TIMED_OUT.test(error)) return { result: 'timeout', error };
  return { result: 'error', error };
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? '';
}
