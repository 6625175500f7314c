// `lpm agent --check` (and `lpm collector --check`): the effective plan of a config, without
// measuring anything: the node, the interface and addresses the probes use, where it serves, the
// iperf3 servers, each target, and each measurement with its interval, targets and the exact
// command line it runs. Pure: it reads the parsed config only (no tools, no network).
import { formatDuration } from '../src/units.js';
import type { AgentConfig, MeasurementConfig } from './config.js';
import type { ParsedAgentConfig } from './configFile.js';
import { planSlot } from './bandwidth/timetable.js';
import { COMPAT_METRIC_NAMES } from './lpmCompat/compatMetrics.js';
import { iperf3ClientArgs } from './tools/iperf3Client.js';
import { iperf3ServerArgs } from './tools/iperf3Server.js';
import { pingArgs } from './tools/ping.js';

const EXAMPLE_IP = '192.0.2.1';

/** 600 -> "10m", 90 -> "90s", 0.2 -> "200ms". */
function every(seconds: number): string {
  return seconds >= 60 && seconds % 60 === 0 ? `${seconds / 60}m` : formatDuration(seconds);
}

/** The command a measurement runs, with TARGET for the target's address. */
function commandOf(cfg: AgentConfig, m: MeasurementConfig): string {
  const withTarget = (args: string[]) => args.map((a) => (a === EXAMPLE_IP ? 'TARGET' : a)).join(' ');
  if (m.type === 'rtt')
    return `ping ${withTarget(
      pingArgs({
        target: EXAMPLE_IP,
        ...(cfg.address ? { source: cfg.address } : {}),
        ...(cfg.interface ? { interface: cfg.interface } : {}),
        count: m.ping.count,
        spacing: m.ping.spacing,
        timeout: m.ping.timeout,
        size: m.ping.size,
      }),
    )}`;
  const udp = m.type === 'udp-jitter';
  return `iperf3 ${withTarget(
    iperf3ClientArgs({
      target: EXAMPLE_IP,
      port: udp ? (cfg.iperf3.udpPort ?? cfg.iperf3.port) : cfg.iperf3.port,
      ...(cfg.address ? { source: cfg.address } : {}),
      ...(cfg.interface ? { bindDev: cfg.interface } : {}),
      mode: udp ? 'udp' : 'tcp',
      duration: m.iperf3.duration,
      omit: m.iperf3.omit,
      parallel: m.iperf3.parallel,
      udpRate: m.iperf3.udpRate,
    }),
  )}`;
}

function table(rows: string[][], indent = '  '): string[] {
  const widths = rows.reduce<number[]>((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, c.length)), []);
  return rows.map((r) => indent + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2))).join('').trimEnd());
}

/** The plan as text (what `--check` prints). */
export function formatCheckPlan(file: string, parsed: ParsedAgentConfig, node: string): string {
  const { config: cfg, format } = parsed;
  const lines: string[] = [];
  lines.push(`config: ${file} (${format === 'original-lpm-json' ? 'original LPM JSON format, converted' : 'lpm YAML'}): valid`);
  lines.push(`node: ${node}`);
  lines.push(
    cfg.interface
      ? `interface: ${cfg.interface} (ping -I ${cfg.interface}; iperf3 --bind-dev ${cfg.interface} on the client and the servers; ` +
          'the agent waits for it to appear, /readyz 503 until then)'
      : 'interface: none (the kernel routes the probes)',
  );
  lines.push(
    cfg.address
      ? `address: ${cfg.address} (probe source${cfg.interface ? '' : ': ping -I, iperf3 -B'}; the iperf3 servers listen on it)`
      : 'address: none (the kernel picks the source address; the iperf3 servers listen on every address' +
          (cfg.interface ? ` of ${cfg.interface})` : ')'),
  );
  lines.push(`listen: ${cfg.listen} (/metrics, /api/v1/links, /api/v1/history, /healthz, /readyz)`);
  lines.push(
    `metrics: lpm_link_* (labels source_node, target_node, network="${cfg.network}")` +
      (cfg.compatMetrics ? `; also ${COMPAT_METRIC_NAMES.join(', ')} (original LPM names: ms, ms, kbit/s; labels source_node, target_node)` : ''),
  );
  const serverBase = {
    ...(cfg.address ? { bind: cfg.address } : {}),
    ...(cfg.interface ? { bindDev: cfg.interface } : {}),
    idleTimeout: cfg.iperf3.idleTimeout,
  };
  lines.push('iperf3 servers:');
  lines.push(
    ...table([
      [`port ${cfg.iperf3.port}`, cfg.iperf3.udpPort !== undefined ? 'TCP (bandwidth) tests' : 'TCP and UDP tests', `iperf3 ${iperf3ServerArgs({ ...serverBase, port: cfg.iperf3.port }).join(' ')}`],
      ...(cfg.iperf3.udpPort !== undefined
        ? [[`port ${cfg.iperf3.udpPort}`, 'UDP (udp-jitter) tests', `iperf3 ${iperf3ServerArgs({ ...serverBase, port: cfg.iperf3.udpPort }).join(' ')}`]]
        : []),
    ]),
  );

  const k = cfg.discovery.kubernetes;
  lines.push(`targets (${cfg.targets.length}${k ? ' static, plus the agent pods Kubernetes discovery finds' : ''}):`);
  if (cfg.targets.length) lines.push(...table(cfg.targets.map((t) => [t.name, t.address])));
  else if (!k) lines.push('  (none)');
  if (k) lines.push(`  discovery: pods matching ${k.labelSelector} in namespace ${k.namespace ?? process.env.POD_NAMESPACE ?? 'lpm-system'}`);

  lines.push('measurements:');
  if (cfg.measurements.length === 0) lines.push('  (none: this agent only serves iperf3 for the others)');
  const known = new Set(cfg.targets.map((t) => t.name));
  lines.push(
    ...table(
      cfg.measurements.map((m) => {
        const targets = m.targets === 'all' ? 'all targets' : m.targets.map((t) => (known.has(t) || k ? t : `${t} (not a target!)`)).join(', ');
        return [m.type, `every ${every(m.interval)}`, `to ${targets}`, commandOf(cfg, m)];
      }),
    ),
  );
  const iperf3 = cfg.measurements.filter((m) => m.type !== 'rtt');
  if (iperf3.length) {
    const plan = planSlot(
      iperf3.map((m) => ({ type: m.type, interval: m.interval, duration: m.iperf3.duration, omit: m.iperf3.omit, targets: m.targets })),
      cfg.iperf3.slot,
    );
    lines.push(
      `bandwidth timetable: slots of ${formatDuration(plan.slotSeconds)}, one iperf3 test per node at a time ` +
        '(a round-robin tournament over the sorted node list; the same on every agent)',
    );
  }
  if (parsed.notes.length) {
    lines.push('notes:');
    for (const n of parsed.notes) lines.push(`  - ${n}`);
  }
  return lines.join('\n') + '\n';
}
