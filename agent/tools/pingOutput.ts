// Parses the output of iputils `ping -n` (the version in Debian/Ubuntu and most container images).
// A run that reached the statistics lines is a measurement, even with 100% loss (then there is
// no "rtt min/avg/max/mdev" line); a run that died before sending (bad source address, no
// route) is either "unreachable" (the kernel says the target cannot be reached: loss is 1)
// or an error. Times come out in seconds.

export interface PingRtt {
  min: number;
  avg: number;
  max: number;
  /** ping's mdev: mean deviation of the RTTs in the run. */
  mdev: number;
}

export interface PingStats {
  kind: 'stats';
  transmitted: number;
  received: number;
  /** ICMP errors reported back (e.g. Destination Host Unreachable), the "+N errors" field. */
  errors: number;
  /** 0..1, computed from transmitted/received (ping rounds its percentage). */
  loss: number;
  /** Absent when nothing was received. */
  rtt?: PingRtt;
  /** RTT of every echo reply, in order. */
  replies: number[];
  /** Whether the target was reported unreachable (ICMP errors or no replies with errors). */
  unreachable: boolean;
}

export interface PingUnreachable {
  kind: 'unreachable';
  message: string;
}

export interface PingError {
  kind: 'error';
  message: string;
}

export type PingOutcome = PingStats | PingUnreachable | PingError;

export interface ToolOutput {
  stdout: string;
  stderr: string;
  exitCode: number | null | undefined;
}

const STATS = /^(\d+) packets transmitted, (\d+) (?:packets )?received(?:, \+(\d+) duplicates)?(?:, \+(\d+) errors)?(?:, \+(\d+) corrupted)?, ([\d.]+)% packet loss/m;
// Older iputils print "rtt", busybox and some builds "round-trip"; mdev may be missing in busybox.
const RTT = /^(?:rtt|round-trip) min\/avg\/max(?:\/mdev|\/stddev)? = ([\d.]+)\/([\d.]+)\/([\d.]+)(?:\/([\d.]+))? ms/m;
const REPLY = /^\d+ bytes from .*?icmp_seq=\d+.*? time[=<]([\d.]+) ms/gm;
// Errors the kernel gives before or while sending that mean "this target cannot be reached".
const UNREACHABLE = /(Network is unreachable|No route to host|Destination (?:Host|Net) Unreachable)/i;

export function parsePingOutput(out: ToolOutput): PingOutcome {
  const stdout = out.stdout ?? '';
  const stderr = (out.stderr ?? '').trim();
  const stats = STATS.exec(stdout);
  if (!stats) {
    const message = stderr.split('\n')[0] || lastLine(stdout) || `ping exited with code ${String(out.exitCode)} and no statistics`;
    if (UNREACHABLE.test(stderr)) return { kind: 'unreachable', message };
    return { kind: 'error', message };
  }
  const transmitted = Number(stats[1]);
  const received = Number(stats[2]);
  const errors = stats[4] ? Number(stats[4]) : 0;
  if (!Number.isInteger(transmitted) || !Number.isInteger(received) || received > transmitted + Number(stats[3] ?? 0))
    return { kind: 'error', message: `ping statistics do not add up: "${stats[0]}"` };
  if (transmitted === 0) return { kind: 'error', message: 'ping sent no packets' };
  const loss = Math.min(1, Math.max(0, (transmitted - Math.min(received, transmitted)) / transmitted));

  const replies: number[] = [];
  for (const m of stdout.matchAll(REPLY)) {
    const s = msToSeconds(m[1]!);
    if (Number.isFinite(s)) replies.push(s);
  }

  const result: PingStats = {
    kind: 'stats',
    transmitted,
    received,
    errors,
    loss,
    replies,
    unreachable: received === 0 && (errors > 0 || UNREACHABLE.test(stdout)),
  };
  const rtt = RTT.exec(stdout);
  if (received > 0) {
    if (!rtt) return { kind: 'error', message: 'ping received replies but printed no rtt line' };
    const [min, avg, max, mdev] = [rtt[1]!, rtt[2]!, rtt[3]!, rtt[4] ?? '0'].map(msToSeconds) as [
      number,
      number,
      number,
      number,
    ];
    if (![min, avg, max, mdev].every(Number.isFinite) || min > avg || avg > max)
      return { kind: 'error', message: `ping rtt line is inconsistent: "${rtt[0]}"` };
    result.rtt = { min, avg, max, mdev };
  }
  return result;
}

function lastLine(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .filter((l) => l.trim())
      .pop() ?? ''
  );
}

// "0.042" ms -> 0.000042 s without the binary noise of dividing by 1000 (0.000042000000000000004).
function msToSeconds(ms: string): number {
  return Number(`${ms}e-3`);
}
