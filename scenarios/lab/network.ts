// Kernel side of a lab: the root bridge (underlay), one namespace per node with its underlay
// veth, its switch (Linux bridge `br0` with the overlay address) and its VXLAN device, and the
// static fdb entries that send every peer's traffic through the emulator's per-link UDP port.
import { execa } from 'execa';
import { parseIpv4, type Ipv4Subnet } from './ipv4.js';
import { addNetns, bridge, checkName, inNetns, ip, listLinks, listNetns } from './ip.js';
import { isLabRootLink, linkKey, netnsPrefix, type LabPlan, type PlannedNode } from './plan.js';
import { killPids } from './processes.js';

const BROADCAST_MAC = '00:00:00:00:00:00';

/** IPv4 destinations of every route in every table of the root namespace (default routes left out). */
export async function rootRoutes(): Promise<Ipv4Subnet[]> {
  const out = await ip(['-j', '-4', 'route', 'show', 'table', 'all']);
  const routes = JSON.parse(out || '[]') as { dst?: string }[];
  const subnets: Ipv4Subnet[] = [];
  for (const r of routes) {
    if (!r.dst || r.dst === 'default') continue;
    try {
      const [addr = '', len = '32'] = r.dst.split('/');
      const prefix = Number(len);
      const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
      subnets.push({ network: (parseIpv4(addr) & mask) >>> 0, prefix });
    } catch {
      /* not IPv4 (should not happen with -4) */
    }
  }
  return subnets;
}

async function run(cmd: string, args: string[]): Promise<void> {
  const r = await execa(cmd, args, { reject: false });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
}

async function inNs(netns: string, cmd: string[]): Promise<void> {
  const [c, a] = inNetns(netns, cmd);
  await run(c, a);
}

export async function createRootBridge(plan: LabPlan): Promise<void> {
  const br = checkName('link', plan.rootBridge);
  await ip(['link', 'add', br, 'type', 'bridge']);
  await ip(['addr', 'add', `${plan.emulatorAddress}/${plan.underlayPrefix}`, 'dev', br]);
  await ip(['link', 'set', br, 'up']);
}

/** Namespace, underlay veth, switch and VXLAN device of one node. `created` is told before each creation. */
export async function createNode(
  plan: LabPlan,
  node: PlannedNode,
  created: (kind: 'netns' | 'rootLink', name: string) => Promise<void>,
): Promise<void> {
  const ns = node.netns;
  await created('netns', ns);
  await addNetns(ns);
  // No IPv6: its link-local chatter (RS, MLD, DAD) would be flooded to every peer and show up in
  // the link counters that scenarios read as application traffic.
  await inNs(ns, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  await created('rootLink', node.vethRoot);
  await ip(['link', 'add', checkName('link', node.vethRoot), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  await ip(['link', 'set', node.vethRoot, 'master', plan.rootBridge, 'up']);
  await ip(['addr', 'add', `${node.underlayAddress}/${plan.underlayPrefix}`, 'dev', 'eth0'], ns);
  await ip(['link', 'set', 'eth0', 'up'], ns);
  await ip(['link', 'add', 'br0', 'address', node.mac, 'type', 'bridge'], ns);
  await ip(
    [
      'link', 'add', 'vxlan0', 'type', 'vxlan', 'id', String(plan.vni), 'local', node.underlayAddress,
      'dev', 'eth0', 'dstport', String(plan.vxlanPort), 'nolearning',
    ],
    ns,
  );
  await ip(['link', 'set', 'vxlan0', 'master', 'br0'], ns);
  await ip(['link', 'set', 'vxlan0', 'up'], ns);
  await ip(['link', 'set', 'br0', 'up'], ns);
  await ip(['addr', 'add', `${node.overlayAddress}/${plan.overlayPrefix}`, 'dev', 'br0'], ns);
  // Without this, TCP through the tunnel stalls (checksums left to an offload that never happens).
  await inNs(ns, ['ethtool', '-K', 'br0', 'tx', 'off']);
  await inNs(ns, ['ethtool', '-K', 'vxlan0', 'tx', 'off']);
}

/**
 * For each directed link i->j: a static unicast entry for j's bridge MAC and an all-zero (flood)
 * entry, both to the emulator's port of that link. Unicast frames then cross only their own link;
 * broadcasts (ARP) go to every peer, each through its own link.
 */
export async function installFdb(plan: LabPlan, ports: Record<string, number>): Promise<void> {
  const byName = new Map(plan.nodes.map((n) => [n.name, n]));
  for (const l of plan.links) {
    const from = byName.get(l.from)!;
    const to = byName.get(l.to)!;
    const port = ports[linkKey(l.from, l.to)];
    if (port === undefined) throw new Error(`emulator reported no port for link ${linkKey(l.from, l.to)}`);
    const dst = ['dst', plan.emulatorAddress, 'port', String(port)];
    await bridge(['fdb', 'add', to.mac, 'dev', 'vxlan0', ...dst, 'self', 'permanent'], from.netns);
    await bridge(['fdb', 'append', BROADCAST_MAC, 'dev', 'vxlan0', ...dst, 'self', 'permanent'], from.netns);
  }
}

/** This lab's namespaces that exist now (by prefix, so a crashed `up` leaves nothing unfound). */
export async function labNamespaces(lab: string): Promise<string[]> {
  return (await listNetns()).filter((n) => n.startsWith(netnsPrefix(lab)));
}

export async function labRootLinks(lab: string): Promise<string[]> {
  return (await listLinks()).filter((l) => isLabRootLink(lab, l));
}

async function netnsPids(ns: string): Promise<number[]> {
  const r = await execa('ip', ['netns', 'pids', checkName('namespace', ns)], { reject: false });
  return r.stdout
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

/**
 * Removes the lab's namespaces (killing whatever still runs inside) and root links. Idempotent,
 * and works from names alone: every name with the lab's prefix goes.
 */
export async function teardownNetwork(lab: string): Promise<void> {
  const problems: string[] = [];
  for (const ns of await labNamespaces(lab)) {
    killPids(await netnsPids(ns));
    try {
      await ip(['netns', 'delete', ns]);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  // Veth root ends vanish with their namespace (asynchronously); the bridge must go explicitly.
  for (let attempt = 0; attempt < 40; attempt++) {
    const left = await labRootLinks(lab);
    if (left.length === 0) break;
    for (const l of left) await ip(['link', 'delete', l]).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
  }
  const left = await labRootLinks(lab);
  if (left.length) problems.push(`links left: ${left.join(', ')}`);
  if ((await labNamespaces(lab)).length) problems.push(`namespaces left: ${(await labNamespaces(lab)).join(', ')}`);
  if (problems.length) throw new Error(`lab ${lab} teardown incomplete: ${problems.join('; ')}`);
}
