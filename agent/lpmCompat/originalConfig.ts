// The original LPM's config (Networks-it-uc3m/LPM, `lpm collector --config_file FILE`), as the
// L2S-M operator writes it into each node's ConfigMap (/etc/lpm/lpm-config.json):
//
//   { "Nodename": "node-a", "ipAddress": "10.0.0.2/24", "probeInterface": "lpm-probe",
//     "spreadFactor": 0.2,
//     "MetricsNeighbourNodes": [
//       { "name": "node-b", "ip": "10.0.0.3", "rttInterval": 10, "jitterInterval": 5, "throughputInterval": 20 } ] }
//
// Intervals are whole minutes; an omitted one (or the original's -1) means that measurement is
// off for that neighbour. `otdInterval` is accepted and, as in the original, measures nothing.
// Older configs say `NeighbourNodes`. This file validates that JSON (strict: an unknown key is an
// error naming it, with its line, like our YAML) and turns it into our agent config:
//   Nodename            -> node
//   probeInterface      -> interface (ping -I, iperf3 --bind-dev; waited for)
//   ipAddress           -> address, only without a probeInterface (with one, the interface binds
//                          the probes, as in the original, and the address is the switch's business)
//   neighbours          -> targets (name, ip)
//   rttInterval         -> rtt: ping -c 10 (1 s apart, like the original's plain `ping -c 10`)
//   jitterInterval      -> udp-jitter: iperf3 -u at 1 Mbit/s (iperf3's default, as the original)
//                          for 10 s to the target's UDP server on 5202
//   throughputInterval  -> bandwidth: iperf3 TCP to 5201 (our defaults: 5 s, first 1 s omitted)
//   spreadFactor        -> accepted (a number); lpm spreads its runs itself (random first
//                          delay, +-10% per run, the bandwidth timetable)
// and what the original did without saying: iperf3 servers on 5201 (TCP) and 5202 (UDP), /metrics
// on :8090 with its metric names (compatMetrics).
import { isIP } from 'node:net';
import { z } from 'zod';
import { objectName } from '../../src/config/fields.js';
import { agentConfigSchema, interfaceName, ipAddress, type AgentConfig, type AgentConfigInput } from '../config.js';

/** Where the L2S-M operator mounts the config, and the original's default --config_file. */
export const ORIGINAL_CONFIG_FILE = '/etc/lpm/lpm-config.json';
/** The original's fixed ports. */
export const ORIGINAL_METRICS_LISTEN = '0.0.0.0:8090';
export const ORIGINAL_TCP_PORT = 5201;
export const ORIGINAL_UDP_PORT = 5202;

/** Keys only the original format has: any of them at the top level means "original format". */
export const ORIGINAL_KEYS = ['Nodename', 'MetricsNeighbourNodes', 'NeighbourNodes', 'probeInterface', 'spreadFactor', 'ipAddress'] as const;

/** An interval in whole minutes; zero or negative (the original's -1) means off. */
const minutes = () => z.number().int('must be a whole number of minutes (the original format counts in minutes)');

const neighbourSchema = z
  .object({
    name: objectName(),
    ip: ipAddress(),
    rttInterval: minutes().optional(),
    jitterInterval: minutes().optional(),
    throughputInterval: minutes().optional(),
    /** One-way delay: parsed by the original but never measured; the same here. */
    otdInterval: minutes().optional(),
  })
  .strict();
export type OriginalNeighbour = z.infer<typeof neighbourSchema>;

/** "10.0.0.2/24" (or a bare address). */
const cidr = () =>
  z.string().refine((s) => {
    const [addr = '', prefix, ...rest] = s.split('/');
    if (rest.length || isIP(addr) === 0) return false;
    if (prefix === undefined) return true;
    const n = Number(prefix);
    return /^\d{1,3}$/.test(prefix) && n <= (isIP(addr) === 4 ? 32 : 128);
  }, 'must be an address with a prefix length, e.g. 10.0.0.2/24');

export const originalConfigSchema = z
  .object({
    /** This node's name (default: $NODE_NAME). */
    Nodename: objectName().optional(),
    ipAddress: cidr().optional(),
    /** "" (as an operator may write it) means none. */
    probeInterface: z.union([z.literal(''), interfaceName()]).optional(),
    /** The original clamps anything outside (0, 1] to 0.2; any number is accepted. */
    spreadFactor: z.number().optional(),
    MetricsNeighbourNodes: z.array(neighbourSchema).optional(),
    /** The name older configs used. */
    NeighbourNodes: z.array(neighbourSchema).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.MetricsNeighbourNodes && c.NeighbourNodes)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['NeighbourNodes'],
        message: 'give MetricsNeighbourNodes or its old name NeighbourNodes, not both',
      });
    const key = c.NeighbourNodes ? 'NeighbourNodes' : 'MetricsNeighbourNodes';
    const seen = new Set<string>();
    (c.MetricsNeighbourNodes ?? c.NeighbourNodes ?? []).forEach((n, i) => {
      if (seen.has(n.name)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [key, i, 'name'], message: `duplicate neighbour "${n.name}"` });
      seen.add(n.name);
      if (n.name === c.Nodename)
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: [key, i, 'name'], message: `"${n.name}" is this node (Nodename)` });
    });
  });
export type OriginalConfig = z.infer<typeof originalConfigSchema>;

/** Our measurement settings for each of the original's measurements. */
const RTT_PING = { count: 10, spacing: '1s' };
const UDP_JITTER_IPERF3 = { udpRate: '1Mbps', duration: '10s', omit: 0 };

type IntervalKey = 'rttInterval' | 'throughputInterval' | 'jitterInterval';
const MEASURED: ReadonlyArray<{ key: IntervalKey; type: 'rtt' | 'bandwidth' | 'udp-jitter' }> = [
  { key: 'rttInterval', type: 'rtt' },
  { key: 'throughputInterval', type: 'bandwidth' },
  { key: 'jitterInterval', type: 'udp-jitter' },
];

export interface ConvertedConfig {
  /** Our agent config (validated). */
  config: AgentConfig;
  /** What the conversion decided that a reader of the original config might not expect (for --check). */
  notes: string[];
}

/** The original config as our agent config input, plus notes for the plan. */
export function originalToAgentInput(o: OriginalConfig): { input: AgentConfigInput; notes: string[] } {
  const neighbours = o.MetricsNeighbourNodes ?? o.NeighbourNodes ?? [];
  const notes: string[] = [];
  if (o.NeighbourNodes) notes.push('NeighbourNodes: the old name of MetricsNeighbourNodes, read the same');
  const iface = o.probeInterface ? o.probeInterface : undefined;
  const address = o.ipAddress?.split('/')[0];
  if (o.ipAddress && iface)
    notes.push(`ipAddress ${o.ipAddress}: not bound; probes go through ${iface} (ping -I, iperf3 --bind-dev), as in the original`);
  if (!iface) notes.push('probeInterface: none; probes are not bound to an interface' + (address ? ` (source address ${address})` : ''));
  if (o.spreadFactor !== undefined) {
    const effective = o.spreadFactor > 0 && o.spreadFactor <= 1 ? o.spreadFactor : 0.2;
    notes.push(
      `spreadFactor ${o.spreadFactor}${effective !== o.spreadFactor ? ` (the original would use 0.2)` : ''}: ` +
        'not needed; lpm spreads its runs itself (random first delay, +-10% per run, the bandwidth timetable)',
    );
  }

  const measurements: NonNullable<AgentConfigInput['measurements']> = [];
  for (const { key, type } of MEASURED) {
    // one measurement per distinct interval, listing the neighbours that use it
    const byInterval = new Map<number, string[]>();
    for (const n of neighbours) {
      const m = n[key];
      if (m === undefined || m <= 0) continue;
      byInterval.set(m, [...(byInterval.get(m) ?? []), n.name]);
    }
    for (const [m, targets] of [...byInterval].sort(([a], [b]) => a - b)) {
      const interval = m * 60;
      if (type === 'rtt') measurements.push({ type, targets, interval, ping: RTT_PING });
      else if (type === 'udp-jitter') measurements.push({ type, targets, interval, iperf3: UDP_JITTER_IPERF3 });
      else measurements.push({ type, targets, interval });
    }
  }
  for (const n of neighbours) {
    const off = MEASURED.filter(({ key }) => n[key] === undefined || n[key] <= 0).map(({ key }) => key);
    if (off.length === MEASURED.length) notes.push(`${n.name}: every interval omitted: nothing measured towards it`);
    else if (off.length) notes.push(`${n.name}: ${off.join(', ')} omitted: off`);
    if (n.otdInterval !== undefined) notes.push(`${n.name}: otdInterval ${n.otdInterval}: not measured (the original measures nothing for it either)`);
  }
  if (neighbours.length === 0) notes.push('no neighbours: nothing to measure; the iperf3 servers still run for the other nodes');

  const input: AgentConfigInput = {
    ...(o.Nodename ? { node: o.Nodename } : {}),
    ...(iface ? { interface: iface } : address ? { address } : {}),
    listen: ORIGINAL_METRICS_LISTEN,
    targets: neighbours.map((n) => ({ name: n.name, address: n.ip })),
    iperf3: { port: ORIGINAL_TCP_PORT, udpPort: ORIGINAL_UDP_PORT },
    measurements,
    compatMetrics: true,
  };
  return { input, notes };
}

/**
 * Converts a validated original config into our (validated) agent config. An original config may
 * have no neighbours, or none with an interval: the original then just serves; so does lpm. Our
 * schema refuses both in a YAML file (nothing to measure is usually a mistake there), so they are
 * validated with a stand-in and emptied afterwards: nothing else in the schema depends on them.
 */
export function convertOriginalConfig(o: OriginalConfig): ConvertedConfig {
  const { input, notes } = originalToAgentInput(o);
  const targets = input.targets ?? [];
  const measurements = input.measurements ?? [];
  const standIn = { name: 'lpm-stand-in', address: '192.0.2.1' };
  const parsed = agentConfigSchema.safeParse({
    ...input,
    targets: targets.length ? targets : [standIn],
    measurements: measurements.length ? measurements : [{ type: 'rtt' }],
  });
  if (!parsed.success) {
    // the original schema checks everything the conversion passes on; this is a bug if it happens
    throw new Error(`original LPM config: conversion failed: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const config: AgentConfig = {
    ...parsed.data,
    targets: targets.length ? parsed.data.targets : [],
    measurements: measurements.length ? parsed.data.measurements : [],
  };
  return { config, notes };
}
