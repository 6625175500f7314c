// The demo's overlay: the shipped topology file (scenarios/topologies/demo.yaml), optionally under
// another lab name (tests use their own, so they never touch a running demo), and the link
// metrics the agents should measure on it (what sim mode serves, and what the demo prints next to
// the measured values).
import { join } from 'node:path';
import type { LinkMatrix } from '../../src/linkMatrix.js';
import { labName, type Topology } from '../topology.js';
import { loadTopology } from '../lab/lab.js';
import { packageRoot } from '../lab/paths.js';
import { topologyMatrix } from '../runner/topologyMatrix.js';

export const DEMO_LAB = 'demo';

export function demoTopologyFile(): string {
  return join(packageRoot(), 'scenarios', 'topologies', 'demo.yaml');
}

/** Loads a topology file and renames its lab; the name is checked like a topology's `name`. */
export async function loadDemoTopology(file: string, lab: string): Promise<Topology> {
  const ok = labName().safeParse(lab);
  if (!ok.success) throw new Error(`--lab: "${lab}" ${ok.error.issues[0]!.message}`);
  const t = await loadTopology(file);
  return { ...t, name: lab };
}

/** Configured round-trip metrics of every connected pair (both directions of a link present). */
export function configuredMatrix(t: Topology, now?: number): LinkMatrix {
  return topologyMatrix(t, now);
}

/** Directed pairs the agents measure: both directions of a link must exist for ping and iperf3. */
export function measuredPairs(t: Topology): Array<[string, string]> {
  const has = (a: string, b: string) => t.links.some((l) => l.from === a && l.to === b);
  const out: Array<[string, string]> = [];
  for (const a of t.nodes) for (const b of t.nodes) if (a.name !== b.name && has(a.name, b.name) && has(b.name, a.name)) out.push([a.name, b.name]);
  return out;
}
