// Schema of a lab topology file (YAML): the nodes of an emulated L2S-M overlay and the directed
// links between them with one-way delay, jitter, loss and rate. Pure: `lpm lab up` and scenario
// files both load it. A minimal file:
//
//   name: demo
//   nodes: [a, b, c]
//   links:
//     - { from: a, to: b, delay: 5ms, rate: 50Mbps }   # symmetric: b->a gets the same
//     - { from: b, to: c, delay: 10ms, loss: 1% }
//
// Links are directed; an entry makes both directions unless `symmetric: false` or the reverse
// direction has its own entry. A pair without a link is not connected.
import { z } from 'zod';
import { bandwidth, duration, objectName, ratio } from '../src/config/fields.js';
import { contains, formatIpv4, hostRange, parseIpv4, parseSubnet } from './lab/ipv4.js';

/** Properties of one directed link, in base units (seconds, ratio, bytes per second). */
export interface LinkProperties {
  /** One-way delay added to every packet. */
  delay: number;
  /** Each packet's delay is drawn uniformly from delay ± jitter (never below 0; never reordered). */
  jitter: number;
  /** Probability that a packet is dropped. */
  loss: number;
  /** Serialization rate of the link; null = unlimited. */
  rate: number | null;
  /** Longest a packet may wait for the rate limiter before it is tail-dropped. */
  queue: number;
}

export const LINK_PROPERTY_KEYS = ['delay', 'jitter', 'loss', 'rate', 'queue'] as const;
export type LinkPropertyKey = (typeof LINK_PROPERTY_KEYS)[number];

export const DEFAULT_LINK_PROPERTIES: LinkProperties = { delay: 0, jitter: 0, loss: 0, rate: null, queue: 0.05 };

export const DEFAULT_OVERLAY_SUBNET = '10.200.0.0/24';
/** Node names end up in namespace names (`lpm-LAB-NODE`); keep them short. */
export const MAX_NODE_NAME = 40;
/** Root-side veth names are `lpm-LAB-N` (15 characters at most), so N has two digits. */
export const MAX_NODES = 99;

/** Short lab name: it prefixes every namespace and link (`lpm-NAME-...`), 15 characters at most. */
export const labName = () =>
  z.string().regex(/^[a-z][a-z0-9]{0,7}$/, 'must be 1-8 characters a-z 0-9, starting with a letter (no dashes)');

/** A rate: "50Mbps", bytes/s as a number, or "unlimited" (null). */
const rate = () =>
  z.union([
    z.literal('unlimited').transform(() => null),
    z.null(),
    bandwidth().refine((v) => v > 0, 'rate must be above 0 (use "unlimited" for no limit)'),
  ]);

const subnet = () =>
  z.string().superRefine((s, ctx) => {
    try {
      const sn = parseSubnet(s);
      if (sn.prefix > 29) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${s}": use a /29 or larger subnet` });
    } catch (err) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
    }
  });

const ipv4 = () =>
  z.string().superRefine((s, ctx) => {
    try {
      parseIpv4(s);
    } catch (err) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
    }
  });

/** Link properties as written in a file: every field optional, human units accepted. */
export const linkPropertiesInput = z
  .object({
    delay: duration().optional(),
    jitter: duration().optional(),
    loss: ratio().optional(),
    rate: rate().optional(),
    queue: duration().optional(),
  })
  .strict();
export type LinkPropertiesPatch = Partial<LinkProperties>;

/** A change to a running link (`lpm lab set`, PUT /api/v1/emulated-links/FROM/TO): at least one field. */
export const linkPropertiesPatchSchema = linkPropertiesInput.refine(
  (p) => Object.values(p).some((v) => v !== undefined),
  `give at least one of ${LINK_PROPERTY_KEYS.join(', ')}`,
);

/** A Kubernetes resource quantity ("4", "500m", "8Gi", "1e3"), or a plain number. */
const quantity = () =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const s = typeof v === 'number' ? String(v) : v.trim();
    if (!/^\+?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+|[KMGTPE]i|[numkMGTPE])?$/.test(s) || (typeof v === 'number' && !(v >= 0))) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${v}" is not a Kubernetes quantity (e.g. 4, 500m, 8Gi)` });
      return z.NEVER;
    }
    return s;
  });

/** Kubernetes label key ([prefix/]name) and value rules. */
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const labelKey = () =>
  z.string().refine((k) => {
    const slash = k.lastIndexOf('/');
    const [prefix, name] = slash >= 0 ? [k.slice(0, slash), k.slice(slash + 1)] : [undefined, k];
    return LABEL_NAME.test(name) && (prefix === undefined || (prefix.length <= 253 && LABEL_PREFIX.test(prefix)));
  }, 'is not a Kubernetes label key ([prefix/]name, name 1-63 chars of A-Z a-z 0-9 - _ .)');
const labelValue = () =>
  z
    .union([z.string(), z.number(), z.boolean()])
    .transform((v) => String(v))
    .refine((v) => v === '' || LABEL_NAME.test(v), 'is not a Kubernetes label value (0-63 chars of A-Z a-z 0-9 - _ .)');

/** What `lab up --kube` registers for a node: its capacity (cpu, memory, pods, or any other resource). */
const capacitySchema = z.record(z.string().regex(/^[a-z0-9]([-a-z0-9./]*[a-z0-9])?$/, 'is not a resource name'), quantity());

const nodeEntry = z.union([
  objectName().max(MAX_NODE_NAME),
  z
    .object({
      name: objectName().max(MAX_NODE_NAME),
      address: ipv4().optional(),
      /** `lab up --kube`: labels of the node's Kubernetes Node (added to the standard ones). */
      labels: z.record(labelKey(), labelValue()).optional(),
      /** `lab up --kube`: the Node's capacity (= allocatable); unset resources take the defaults. */
      capacity: capacitySchema.optional(),
    })
    .strict(),
]);

const linkEntry = linkPropertiesInput
  .extend({
    from: objectName(),
    to: objectName(),
    /** Also make the reverse direction (unless it has its own entry). */
    symmetric: z.boolean().default(true),
  })
  .strict();

export const topologySchema = z
  .object({
    /** Lab name, used in namespace and link names. */
    name: labName(),
    /** Overlay subnet: node i (from 0) gets host i+1 unless it gives an `address`. */
    subnet: subnet().default(DEFAULT_OVERLAY_SUBNET),
    /** Underlay subnet (root bridge, node veths, agents' listen address). Default: a free 10.251.x.0/24. */
    underlay: subnet().optional(),
    /** Properties every link starts from. */
    defaults: linkPropertiesInput.default({}),
    /** Connect every ordered pair that has no entry in `links`, with the defaults. */
    mesh: z.boolean().default(false),
    nodes: z.array(nodeEntry).min(1).max(MAX_NODES),
    links: z.array(linkEntry).default([]),
    /** Extra agent config fields (e.g. `measurements`) for every node's agent with `lab up --agents`. */
    agent: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    const issue = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: z.ZodIssueCode.custom, path, message });
    const names = t.nodes.map((n) => (typeof n === 'string' ? n : n.name));
    const seen = new Map<string, number>();
    names.forEach((n, i) => {
      if (seen.has(n)) issue(['nodes', i], `duplicate node "${n}"`);
      seen.set(n, i);
    });
    // Addresses: explicit ones inside the subnet, no two nodes on one address.
    let sn;
    try {
      sn = parseSubnet(t.subnet);
    } catch {
      return; // already reported by the field
    }
    const { first, last } = hostRange(sn);
    if (t.nodes.length > last - first + 1) issue(['nodes'], `${t.nodes.length} nodes do not fit in ${t.subnet}`);
    const used = new Map<number, number>();
    t.nodes.forEach((n, i) => {
      let addr: number;
      if (typeof n !== 'string' && n.address !== undefined) {
        try {
          addr = parseIpv4(n.address);
        } catch {
          return;
        }
        if (!contains(sn, addr) || addr < first || addr > last) {
          issue(['nodes', i, 'address'], `${n.address} is not a host address of ${t.subnet}`);
          return;
        }
      } else {
        addr = first + i;
      }
      const other = used.get(addr);
      if (other !== undefined)
        issue(['nodes', i], `address ${formatIpv4(addr)} is already used by node "${names[other]}"`);
      used.set(addr, i);
    });
    const explicit = new Map<string, number>();
    t.links.forEach((l, i) => {
      if (!seen.has(l.from)) issue(['links', i, 'from'], `unknown node "${l.from}"`);
      if (!seen.has(l.to)) issue(['links', i, 'to'], `unknown node "${l.to}"`);
      if (l.from === l.to) issue(['links', i, 'to'], 'a link needs two different nodes');
      const key = `${l.from}->${l.to}`;
      const prev = explicit.get(key);
      if (prev !== undefined) issue(['links', i], `link ${key} is already given in links[${prev}]`);
      explicit.set(key, i);
    });
  })
  .transform((t): Topology => {
    const sn = parseSubnet(t.subnet);
    const { first } = hostRange(sn);
    const nodes = t.nodes.map((n, i) => {
      const name = typeof n === 'string' ? n : n.name;
      const address = typeof n !== 'string' && n.address !== undefined ? n.address : formatIpv4(first + i);
      const node: TopologyNode = { name, address };
      if (typeof n !== 'string' && n.labels) node.labels = n.labels;
      if (typeof n !== 'string' && n.capacity) node.capacity = n.capacity;
      return node;
    });
    const base = withDefaults(DEFAULT_LINK_PROPERTIES, t.defaults);
    const links = new Map<string, TopologyLink>();
    const put = (from: string, to: string, props: LinkProperties) => links.set(`${from}->${to}`, { from, to, ...props });
    // Explicit directions first, then mirrored ones where the reverse is not explicit, then the mesh.
    for (const l of t.links) put(l.from, l.to, withDefaults(base, l));
    for (const l of t.links) if (l.symmetric && !links.has(`${l.to}->${l.from}`)) put(l.to, l.from, withDefaults(base, l));
    if (t.mesh)
      for (const a of nodes) for (const b of nodes) if (a !== b && !links.has(`${a.name}->${b.name}`)) put(a.name, b.name, base);
    return {
      name: t.name,
      subnet: t.subnet,
      ...(t.underlay !== undefined ? { underlay: t.underlay } : {}),
      ...(t.agent !== undefined ? { agent: t.agent } : {}),
      nodes,
      links: [...links.values()],
    };
  });

export interface TopologyNode {
  name: string;
  /** Overlay address (on the node's bridge). */
  address: string;
  /** Labels of the node's Kubernetes Node (`lab up --kube`). */
  labels?: Record<string, string>;
  /** Capacity of the node's Kubernetes Node, resource -> quantity (`lab up --kube`). */
  capacity?: Record<string, string>;
}

export interface TopologyLink extends LinkProperties {
  from: string;
  to: string;
}

/** A validated topology with every directed link spelled out. */
export interface Topology {
  name: string;
  subnet: string;
  underlay?: string;
  agent?: Record<string, unknown>;
  nodes: TopologyNode[];
  links: TopologyLink[];
}

export type TopologyInput = z.input<typeof topologySchema>;

/** Applies the fields that are set in `patch` over `base`. */
export function withDefaults(base: LinkProperties, patch: LinkPropertiesPatch | z.output<typeof linkPropertiesInput>): LinkProperties {
  const out = { ...base };
  for (const k of LINK_PROPERTY_KEYS) {
    const v = (patch as Record<string, unknown>)[k];
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

/** Round trip a->b->a, or undefined when either direction is missing. */
export function roundTrip(t: Topology, a: string, b: string): number | undefined {
  const there = t.links.find((l) => l.from === a && l.to === b);
  const back = t.links.find((l) => l.from === b && l.to === a);
  return there && back ? there.delay + back.delay : undefined;
}
