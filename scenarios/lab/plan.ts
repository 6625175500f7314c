// Topology -> plan: every name, address and MAC the lab will create, decided before anything is
// touched (pure, so it is unit-tested and written to the state file before setup starts).
import {
  formatIpv4,
  formatSubnet,
  hostRange,
  overlaps,
  parseSubnet,
  type Ipv4Subnet,
} from './ipv4.js';
import type { Topology, TopologyLink } from '../topology.js';

export const VXLAN_PORT = 4789;
export const VXLAN_ID = 100;
/** Candidates for the underlay when the file gives none: 10.251.0.0/24, 10.251.1.0/24, ... */
export const UNDERLAY_POOL = '10.251.0.0/16';

export interface PlannedNode {
  name: string;
  /** 1-based position in the file; names the root-side veth. */
  index: number;
  netns: string;
  overlayAddress: string;
  underlayAddress: string;
  /** MAC of the node's bridge; peers' static fdb entries point at it. */
  mac: string;
  /** Root end of the node's underlay veth (on the root bridge); the other end is `eth0` in the node. */
  vethRoot: string;
  /** From the topology file, for the node's Kubernetes Node (`lab up --kube`). */
  labels?: Record<string, string>;
  capacity?: Record<string, string>;
}

export interface LabPlan {
  name: string;
  overlaySubnet: string;
  overlayPrefix: number;
  underlaySubnet: string;
  underlayPrefix: number;
  /** Root-side address on the root bridge: the emulator listens here. */
  emulatorAddress: string;
  /** Bridge in the root namespace joining the nodes' underlay veths. */
  rootBridge: string;
  vni: number;
  vxlanPort: number;
  nodes: PlannedNode[];
  links: TopologyLink[];
}

/** Namespace prefix of a lab; no other lab's names start with it (lab names have no dashes). */
export const netnsPrefix = (lab: string) => `lpm-${lab}-`;
export const rootBridgeName = (lab: string) => `lpm-${lab}`;
export const vethRootName = (lab: string, index: number) => `lpm-${lab}-${index}`;
/** Whether a root-namespace link name belongs to this lab (the bridge or one of its veths). */
export const isLabRootLink = (lab: string, link: string) =>
  link === rootBridgeName(lab) || new RegExp(`^lpm-${lab}-\\d+$`).test(link);

export function nodeMac(index: number): string {
  if (index < 1 || index > 255) throw new Error(`node index ${index} out of range`);
  return `02:4c:50:00:00:${index.toString(16).padStart(2, '0')}`;
}

/** First /24 of the pool that overlaps no existing route and no overlay subnet, or the requested one if free. */
export function pickUnderlay(routes: Ipv4Subnet[], overlay: Ipv4Subnet, requested?: string): string {
  const clash = (s: Ipv4Subnet) => routes.find((r) => overlaps(r, s)) ?? (overlaps(overlay, s) ? overlay : undefined);
  if (requested !== undefined) {
    const s = parseSubnet(requested);
    const c = clash(s);
    if (c) throw new Error(`underlay ${requested} overlaps ${formatSubnet(c)} (a route on this machine or the overlay subnet)`);
    return requested;
  }
  const pool = parseSubnet(UNDERLAY_POOL);
  for (let i = 0; i < 256; i++) {
    const s = { network: pool.network + i * 256, prefix: 24 };
    if (!clash(s)) return formatSubnet(s);
  }
  throw new Error(`no free /24 in ${UNDERLAY_POOL} for the underlay; set "underlay" in the topology file`);
}

export function planLab(t: Topology, underlay: string): LabPlan {
  const u = parseSubnet(underlay);
  const o = parseSubnet(t.subnet);
  if (overlaps(u, o)) throw new Error(`underlay ${underlay} overlaps the overlay subnet ${t.subnet}`);
  const { first, last } = hostRange(u);
  // Hosts first..first+n-1 for the nodes, the last host for the emulator.
  if (t.nodes.length + 1 > last - first + 1)
    throw new Error(`underlay ${underlay} is too small for ${t.nodes.length} nodes and the emulator`);
  const nodes = t.nodes.map((n, i) => ({
    name: n.name,
    index: i + 1,
    netns: `${netnsPrefix(t.name)}${n.name}`,
    overlayAddress: n.address,
    underlayAddress: formatIpv4(first + i),
    mac: nodeMac(i + 1),
    vethRoot: vethRootName(t.name, i + 1),
    ...(n.labels ? { labels: { ...n.labels } } : {}),
    ...(n.capacity ? { capacity: { ...n.capacity } } : {}),
  }));
  return {
    name: t.name,
    overlaySubnet: t.subnet,
    overlayPrefix: o.prefix,
    underlaySubnet: underlay,
    underlayPrefix: u.prefix,
    emulatorAddress: formatIpv4(last),
    rootBridge: rootBridgeName(t.name),
    vni: VXLAN_ID,
    vxlanPort: VXLAN_PORT,
    nodes,
    links: t.links.map((l) => ({ ...l })),
  };
}

export const linkKey = (from: string, to: string) => `${from}->${to}`;
