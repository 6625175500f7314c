// Start-up checks: the agent is useless without ping and iperf3, so a missing or unusable tool
// stops it at once with a message naming the tool, instead of a stream of failed measurements.
import { execa } from 'execa';

export class ToolError extends Error {
  override name = 'ToolError';
}

export async function checkTools(): Promise<{ ping: string; iperf3: string }> {
  const iperf3 = await execa('iperf3', ['--version'], { reject: false, stdin: 'ignore', timeout: 10_000 });
  if (iperf3.failed && iperf3.exitCode === undefined)
    throw new ToolError(`iperf3 cannot be run (${explain(iperf3.shortMessage ?? '')}): install iperf3 (e.g. apt-get install iperf3)`);
  const iperf3Version = /iperf (\S+)/.exec(String(iperf3.stdout))?.[1] ?? 'unknown';

  const version = await execa('ping', ['-V'], { reject: false, stdin: 'ignore', timeout: 10_000 });
  if (version.failed && version.exitCode === undefined)
    throw new ToolError(`ping cannot be run (${explain(version.shortMessage ?? '')}): install iputils-ping`);
  const pingVersion = /iputils[- ](\S+)/.exec(`${String(version.stdout)} ${String(version.stderr)}`)?.[1] ?? 'unknown';

  // One echo to loopback shows whether this process may open ICMP sockets at all.
  const probe = await execa('ping', ['-n', '-c', '1', '-W', '1', '127.0.0.1'], { reject: false, stdin: 'ignore', timeout: 10_000 });
  const text = `${String(probe.stderr)} ${String(probe.stdout)}`;
  if (probe.exitCode !== 0 && /not permitted|permission denied|socket:/i.test(text)) {
    // Quote the line that says what failed (iputils prints "ping: socktype: SOCK_RAW" first).
    const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
    const why = lines.find((l) => /not permitted|permission denied/i.test(l)) ?? lines[0] ?? '';
    throw new ToolError(
      `ping is not permitted to send ICMP echo (${why}): run the agent as root, grant CAP_NET_RAW, ` +
        'or allow its group in net.ipv4.ping_group_range',
    );
  }
  return { ping: pingVersion, iperf3: iperf3Version };
}

function explain(msg: string): string {
  if (/ENOENT/.test(msg)) return 'not found on PATH';
  if (/EACCES/.test(msg)) return 'permission denied';
  return msg.split('\n')[0] ?? msg;
}
