// The link matrix as a NetworkTopology (qos-scheduler.siemens.com/v1alpha1), the object the CODECO
// SWM QoS scheduler reads and the original LPM's `exporter --target swm` wrote. Pure: the same
// matrix always gives the same object, with its nodes and links sorted by name, so a refresh that
// measured nothing new changes nothing in the API server.
//   spec.networkImplementation: L2SM, spec.physicalBase: ""
//   spec.nodes:  every node with a fresh measured link, {name, type: COMPUTE}
//   spec.links:  per node a link to itself (latencyNanos "0"), and per measured pair (source ->
//                target) a directed link with
//                  capabilities.latencyNanos   the RTT in ns (like the original: RTT, not half),
//                                              an integer rounded to 3 significant digits
//                  capabilities.bandWidthBits  iperf3 throughput in bit/s, a quantity with the
//                                              largest SI suffix that keeps it whole ("940M")
//                each only when measured within maxAge; a pair with neither is left out.
// Link names are SOURCE-TARGET ("node-a-node-b"); should two pairs give the same name (node names
// with dashes, "a-b"+"c" and "a"+"b-c"), both get the FNV-32 hex of "SOURCE TARGET" appended.
// The original wrote "500000.00ns" and "10002M" (a stray "2" from a "%.f2M" format): neither is a
// Kubernetes quantity; these are.
import type { LinkMatrix } from '../../src/linkMatrix.js';

export const NETWORK_TOPOLOGY_API_VERSION = 'qos-scheduler.siemens.com/v1alpha1';
export const NETWORK_TOPOLOGY_KIND = 'NetworkTopology';
export const DEFAULT_TOPOLOGY_NAME = 'l2sm';

export interface TopologyNode {
  name: string;
  type: 'COMPUTE' | 'NETWORK';
}

export interface TopologyLink {
  name: string;
  source: string;
  target: string;
  capabilities: { latencyNanos?: string; bandWidthBits?: string };
}

export interface NetworkTopology {
  apiVersion: typeof NETWORK_TOPOLOGY_API_VERSION;
  kind: typeof NETWORK_TOPOLOGY_KIND;
  metadata: { name: string; namespace: string };
  spec: {
    networkImplementation: string;
    physicalBase: string;
    nodes: TopologyNode[];
    links: TopologyLink[];
  };
}

/** `x` rounded to `digits` significant digits. */
export function roundSignificant(x: number, digits = 3): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const scale = 10 ** (Math.floor(Math.log10(Math.abs(x))) - digits + 1);
  return Math.round(x / scale) * scale;
}

const SI: ReadonlyArray<readonly [string, number]> = [
  ['E', 1e18],
  ['P', 1e15],
  ['T', 1e12],
  ['G', 1e9],
  ['M', 1e6],
  ['k', 1e3],
];

/** Latency in seconds -> whole nanoseconds, 3 significant digits: 0.000512345 -> "512000". */
export function latencyNanos(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) throw new Error(`latency ${seconds}s is not a non-negative number`);
  return String(Math.round(roundSignificant(seconds * 1e9)));
}

/** Bytes per second -> bits per second as a quantity, 3 significant digits: 117.5e6 B/s -> "940M". */
export function bandwidthBits(bytesPerSecond: number): string {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < 0) throw new Error(`bandwidth ${bytesPerSecond} B/s is not a non-negative number`);
  const bits = Math.round(roundSignificant(bytesPerSecond * 8));
  for (const [suffix, mult] of SI) if (bits >= mult && bits % mult === 0) return `${bits / mult}${suffix}`;
  return String(bits);
}

/** FNV-1a 32-bit of a string, hex (only to tell colliding link names apart). */
function fnv32(text: string): string {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export interface TopologyOptions {
  name: string;
  namespace: string;
  /** Unix seconds "now" (values older than maxAge are left out). */
  now: number;
  /** Seconds a measurement stays usable. */
  maxAge: number;
  networkImplementation?: string;
  physicalBase?: string;
}

/** The NetworkTopology of a link matrix (sorted, only fresh values). */
export function buildNetworkTopology(matrix: LinkMatrix, o: TopologyOptions): NetworkTopology {
  const fresh = (v: { value: number; timestamp: number } | undefined) => (v && o.now - v.timestamp <= o.maxAge ? v.value : undefined);
  const pairs: Array<{ source: string; target: string; capabilities: TopologyLink['capabilities'] }> = [];
  for (const { source, target, metrics } of matrix.entries()) {
    if (source === target) continue;
    const rtt = fresh(metrics.rtt_seconds);
    const bw = fresh(metrics.bandwidth_bytes_per_second);
    if (rtt === undefined && bw === undefined) continue;
    pairs.push({
      source,
      target,
      capabilities: {
        ...(bw !== undefined ? { bandWidthBits: bandwidthBits(bw) } : {}),
        ...(rtt !== undefined ? { latencyNanos: latencyNanos(rtt) } : {}),
      },
    });
  }
  const nodes = [...new Set(pairs.flatMap((p) => [p.source, p.target]))].sort(byName);
  const links = [...pairs, ...nodes.map((n) => ({ source: n, target: n, capabilities: { latencyNanos: '0' } }))].sort(
    (a, b) => byName(a.source, b.source) || byName(a.target, b.target),
  );
  const names = new Map<string, number>();
  for (const l of links) names.set(`${l.source}-${l.target}`, (names.get(`${l.source}-${l.target}`) ?? 0) + 1);
  return {
    apiVersion: NETWORK_TOPOLOGY_API_VERSION,
    kind: NETWORK_TOPOLOGY_KIND,
    metadata: { name: o.name, namespace: o.namespace },
    spec: {
      networkImplementation: o.networkImplementation ?? 'L2SM',
      physicalBase: o.physicalBase ?? '',
      nodes: nodes.map((name) => ({ name, type: 'COMPUTE' as const })),
      links: links.map((l) => {
        const base = `${l.source}-${l.target}`;
        const name = names.get(base)! > 1 ? `${base}-${fnv32(`${l.source} ${l.target}`)}` : base;
        return { name, source: l.source, target: l.target, capabilities: l.capabilities };
      }),
    },
  };
}
