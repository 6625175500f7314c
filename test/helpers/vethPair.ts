// The network of the tests that run real agents: two network namespaces joined by a veth pair
// (the measured "overlay"), each with a management veth from the root namespace so the test can
// reach the agents' HTTP endpoints.
import { addNetns, ip } from '../../scenarios/lab/ip.js';

export interface VethNode {
  /** The namespace. */
  ns: string;
  /** Its address on the overlay (/24). */
  overlay: string;
  /** The management link: `host` on `hostLink` in the root namespace, `agentIp` on `nsLink` in `ns` (/30). */
  host: string;
  agentIp: string;
  hostLink: string;
  nsLink: string;
}

/** Creates both namespaces, the overlay veth pair (ends named `overlayLinks`) and the management links. */
export async function addVethPair(nodes: readonly [VethNode, VethNode], overlayLinks: readonly [string, string]): Promise<void> {
  for (const n of nodes) await addNetns(n.ns);
  const [a, b] = nodes;
  await ip(['link', 'add', overlayLinks[0], 'netns', a.ns, 'type', 'veth', 'peer', 'name', overlayLinks[1], 'netns', b.ns]);
  for (const [i, n] of nodes.entries()) {
    const link = overlayLinks[i]!;
    await ip(['addr', 'add', `${n.overlay}/24`, 'dev', link], n.ns);
    await ip(['link', 'set', link, 'up'], n.ns);
    await ip(['link', 'add', n.hostLink, 'type', 'veth', 'peer', 'name', n.nsLink, 'netns', n.ns]);
    await ip(['addr', 'add', `${n.host}/30`, 'dev', n.hostLink]);
    await ip(['link', 'set', n.hostLink, 'up']);
    await ip(['addr', 'add', `${n.agentIp}/30`, 'dev', n.nsLink], n.ns);
    await ip(['link', 'set', n.nsLink, 'up'], n.ns);
  }
}
