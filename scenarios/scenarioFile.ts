// Schema of a scenario file (YAML): a topology in the lab's format, pods in arrival order, link
// changes during the run, the traffic the lab mode drives, and what the placement must look like.
// Pure: `lpm scenario run` loads it with loadYamlConfig, so every error names file:line:field.
// A minimal file:
//
//   topology:
//     name: sdemo
//     nodes: [a, b, c]
//     links:
//       - { from: a, to: b, delay: 1ms }
//       - { from: a, to: c, delay: 20ms }
//       - { from: b, to: c, delay: 20ms }
//   workloads:
//     - { name: db, labels: { app: db }, nodeName: a }
//     - name: web
//       labels: { app: web }
//       annotations: { lpm.l2sm.io/peers: app=db }
//   scheduler: { podsPerNode: 1 }
//   expect:
//     - { pod: web, on: b }
//
// docs/scenarios.md describes every field.
import { z } from 'zod';
import { byteSize, extenderConfigSchema, type ExtenderConfig } from '../extender/config.js';
import { formatPath } from '../src/config/loadYaml.js';
import { duration, interval, objectName } from '../src/config/fields.js';
import { LINK_PROPERTY_KEYS, linkPropertiesPatchSchema, topologySchema, type LinkPropertiesPatch, type Topology } from './topology.js';

export const SCENARIO_MODES = ['sim', 'lab', 'cluster'] as const;
export type ScenarioMode = (typeof SCENARIO_MODES)[number];

/** The scheduler name cluster mode puts on its pods (our KubeSchedulerConfiguration profile). */
export const DEFAULT_SCHEDULER_NAME = 'lpm-scheduler';

const stringMap = z.record(z.string(), z.string({ invalid_type_error: 'must be a string (quote numbers)' })).default({});

const workloadSchema = z
  .object({
    name: objectName().max(63),
    /** Default: the scenario's `namespace`. */
    namespace: objectName().max(63).optional(),
    labels: stringMap,
    /** l2sm/networks, lpm.l2sm.io/peers, lpm.l2sm.io/peer-weights, lpm.l2sm.io/max-rtt, lpm.l2sm.io/min-bandwidth ... */
    annotations: stringMap,
    /** Pre-placed: the pod is bound to this node without scheduling (like spec.nodeName). */
    nodeName: objectName().optional(),
  })
  .strict();

/** A link change: "a->b delay=50ms loss=1%" (the words of `lpm lab set`). */
export interface LinkChange {
  from: string;
  to: string;
  /** As written, e.g. { delay: "50ms" } (sent to the lab emulator as is). */
  raw: Record<string, string>;
  /** Parsed, in base units. */
  patch: LinkPropertiesPatch;
  /** Change the reverse direction too. */
  both: boolean;
}

const LINK_WORD = /^([a-z0-9][-a-z0-9.]*?)(?:->|:)([a-z0-9][-a-z0-9.]*)$/;

/** Parses "a->b delay=50ms rate=10Mbps" into a link change; throws with a readable message. */
export function parseLinkChange(text: string, both = false): LinkChange {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const first = words.shift();
  const m = first ? LINK_WORD.exec(first) : null;
  if (!m) throw new Error(`"${first ?? ''}" is not a link: write FROM->TO KEY=VALUE..., e.g. "a->b delay=50ms"`);
  if (words.length === 0) throw new Error(`nothing to change: add e.g. delay=50ms (fields: ${LINK_PROPERTY_KEYS.join(', ')})`);
  const raw: Record<string, string> = {};
  for (const w of words) {
    const eq = w.indexOf('=');
    const key = eq > 0 ? w.slice(0, eq) : '';
    if (!(LINK_PROPERTY_KEYS as readonly string[]).includes(key))
      throw new Error(`"${w}" is not KEY=VALUE with KEY one of ${LINK_PROPERTY_KEYS.join(', ')}`);
    if (key in raw) throw new Error(`"${key}" given twice`);
    raw[key] = w.slice(eq + 1);
  }
  const parsed = linkPropertiesPatchSchema.safeParse(raw);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; '));
  return { from: m[1]!, to: m[2]!, raw, patch: parsed.data, both };
}

const eventSchema = z
  .object({
    /** The change happens once this pod has been placed (or found unschedulable). */
    after: z.string().min(1),
    /** "FROM->TO KEY=VALUE...", as `lpm lab set` takes it. */
    set: z.string().min(1),
    /** Change both directions (default: only FROM->TO, as `lpm lab set`). */
    both: z.boolean().default(false),
  })
  .strict()
  .transform((e, ctx) => {
    try {
      return { after: e.after, change: parseLinkChange(e.set, e.both), text: e.set };
    } catch (err) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['set'], message: (err as Error).message });
      return z.NEVER;
    }
  });

const callSchema = z
  .object({
    from: z.string().min(1),
    to: z.string().min(1),
    /** Request body bytes ("1KiB", "64KB" or a number). */
    request: byteSize().default(256),
    /** Response body bytes. */
    response: byteSize().default(1024),
  })
  .strict();

const trafficSchema = z
  .object({
    /** The pod the clients call; default: the one pod that calls others and is never called. */
    entry: z.string().min(1).optional(),
    /** Concurrent closed-loop clients. */
    clients: z.number().int().min(1).max(64).default(4),
    /** Measured time per placement. */
    duration: duration().default('10s'),
    /** Unmeasured time before it (connections, TCP windows). */
    warmup: duration().default('1s'),
    /** Client -> entry request and response sizes. */
    request: byteSize().default(128),
    response: byteSize().default(128),
    /** Who calls whom on every request, in order; a pod calls its callees one after the other. */
    calls: z.array(callSchema).min(1),
  })
  .strict();

const expectationSchema = z
  .object({
    pod: z.string().min(1).optional(),
    on: objectName().optional(),
    notOn: objectName().optional(),
    onOneOf: z.array(objectName()).min(1).optional(),
    unschedulable: z.literal(true).optional(),
    /** Pod is placed (anywhere). */
    scheduled: z.literal(true).optional(),
    colocated: z.array(z.string().min(1)).min(2).optional(),
    notColocated: z.array(z.string().min(1)).min(2).optional(),
    /** Which compared placement the expectation is about (default lpm). */
    placement: z.enum(['lpm', 'netmarks', 'default']).default('lpm'),
  })
  .strict()
  .superRefine((e, ctx) => {
    const podKinds = (['on', 'notOn', 'onOneOf', 'unschedulable', 'scheduled'] as const).filter((k) => e[k] !== undefined);
    const groupKinds = (['colocated', 'notColocated'] as const).filter((k) => e[k] !== undefined);
    const kinds = [...podKinds, ...groupKinds];
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message:
          kinds.length === 0
            ? 'say what to expect: one of on, notOn, onOneOf, unschedulable, scheduled (with pod), colocated, notColocated'
            : `one expectation per entry (found ${kinds.join(', ')}); write several entries`,
      });
      return;
    }
    if (podKinds.length && e.pod === undefined)
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['pod'], message: `"${kinds[0]}" needs the pod it is about` });
    if (groupKinds.length && e.pod !== undefined)
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['pod'], message: `"${kinds[0]}" takes a list of pods, not pod` });
  })
  .transform((e): Expectation => {
    const placement = e.placement;
    if (e.colocated) return { kind: 'colocated', pods: e.colocated, placement };
    if (e.notColocated) return { kind: 'notColocated', pods: e.notColocated, placement };
    const pod = e.pod!;
    if (e.on !== undefined) return { kind: 'on', pod, nodes: [e.on], placement };
    if (e.notOn !== undefined) return { kind: 'notOn', pod, nodes: [e.notOn], placement };
    if (e.onOneOf !== undefined) return { kind: 'onOneOf', pod, nodes: e.onOneOf, placement };
    if (e.unschedulable) return { kind: 'unschedulable', pod, placement };
    return { kind: 'scheduled', pod, placement };
  });

export type ExpectationPlacement = 'lpm' | 'netmarks' | 'default';

export type Expectation = { placement: ExpectationPlacement } & (
  | { kind: 'on' | 'notOn' | 'onOneOf'; pod: string; nodes: string[] }
  | { kind: 'unschedulable' | 'scheduled'; pod: string }
  | { kind: 'colocated' | 'notColocated'; pods: string[] }
);

const schedulerSchema = z
  .object({
    /** The extender's `weight` in the KubeSchedulerConfiguration: total += Score × weight × 10. */
    weight: z.number().min(0).default(5),
    /** Weight of the default-like spread score (0..100: fewer pods on the node, higher). */
    spreadWeight: z.number().min(0).default(1),
    /** Pods a node holds (the NodeResourcesFit-like filter), and the scale of the spread score. */
    podsPerNode: z.number().int().min(1).max(10_000).default(10),
    /** Per-node exceptions to podsPerNode. */
    capacity: z.record(z.string(), z.number().int().min(0).max(10_000)).default({}),
    /** Cluster mode: spec.schedulerName of the pods. */
    schedulerName: objectName().default(DEFAULT_SCHEDULER_NAME),
  })
  .strict()
  .default({});

const labSchema = z
  .object({
    /** What the agents measure before placement; default: rtt, plus bandwidth when a link has a rate. */
    measure: z.array(z.enum(['rtt', 'bandwidth'])).min(1).optional(),
    /** Agents' RTT interval (at least 1s, as the agent config asks). */
    rttInterval: interval().default('2s'),
    /** Longest wait for the first full measurement sweep. */
    sweepTimeout: duration().default('120s'),
  })
  .strict()
  .default({});

/** Extender config sections a scenario may override (validated with the extender's own schema). */
const extenderOverrides = z
  .object({
    scoring: z.unknown().optional(),
    staleness: z.unknown().optional(),
    peers: z.unknown().optional(),
  })
  .strict()
  .default({});

/** The extender config a scenario runs with: its overrides over the defaults, pods from the runner. */
export function scenarioExtenderConfig(overrides: Record<string, unknown>): z.SafeParseReturnType<unknown, ExtenderConfig> {
  return extenderConfigSchema.safeParse({
    listen: '127.0.0.1:0',
    source: { type: 'static', links: [] },
    kubernetes: { enabled: false },
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
  });
}

export const scenarioSchema = z
  .object({
    /** Default: the file name without .yaml. */
    name: z.string().min(1).optional(),
    description: z.string().optional(),
    /** Modes the scenario is meant for (documentation and CI selection). */
    modes: z.array(z.enum(SCENARIO_MODES)).min(1).default(['sim', 'cluster']),
    /** Namespace of pods that do not give one. */
    namespace: objectName().max(63).default('default'),
    topology: topologySchema,
    extender: extenderOverrides,
    scheduler: schedulerSchema,
    lab: labSchema,
    /** Pods in arrival order. */
    workloads: z.array(workloadSchema).min(1),
    events: z.array(eventSchema).default([]),
    traffic: trafficSchema.optional(),
    expect: z.array(expectationSchema).default([]),
  })
  .strict()
  .superRefine((s, ctx) => {
    // an event whose `set` failed is already reported (zod still runs this on the rest)
    if (s.events.some((e) => typeof e?.change !== 'object')) return;
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, path, message });
    const nodes = new Set(s.topology.nodes.map((n) => n.name));
    const nodeList = [...nodes].join(', ');
    const checkNode = (path: (string | number)[], n: string) => {
      if (!nodes.has(n)) issue(path, `unknown node "${n}" (nodes: ${nodeList})`);
    };

    const ids = new Map<string, number>();
    s.workloads.forEach((w, i) => {
      const id = `${w.namespace ?? s.namespace}/${w.name}`;
      if (ids.has(id)) issue(['workloads', i, 'name'], `duplicate pod "${id}" (also workloads[${ids.get(id)}])`);
      ids.set(id, i);
      if (w.nodeName !== undefined) checkNode(['workloads', i, 'nodeName'], w.nodeName);
    });
    for (const n of Object.keys(s.scheduler.capacity)) checkNode(['scheduler', 'capacity', n], n);
    const pods = s.workloads.map((w) => ({ namespace: w.namespace ?? s.namespace, name: w.name }));
    const checkPod = (path: (string | number)[], ref: string): number | undefined => {
      const r = resolvePodRef(pods, ref);
      if (typeof r === 'string') issue(path, r);
      else return r;
      return undefined;
    };

    s.events.forEach((e, i) => {
      checkPod(['events', i, 'after'], e.after);
      const c = e.change;
      for (const [a, b] of c.both ? [[c.from, c.to], [c.to, c.from]] : [[c.from, c.to]]) {
        if (!s.topology.links.some((l) => l.from === a && l.to === b))
          issue(['events', i, 'set'], `the topology has no link ${a}->${b}`);
      }
    });

    s.expect.forEach((e, i) => {
      if ('pod' in e) checkPod(['expect', i, 'pod'], e.pod);
      if ('nodes' in e) e.nodes.forEach((n, j) => checkNode(['expect', i, e.kind === 'onOneOf' ? 'onOneOf' : e.kind, ...(e.kind === 'onOneOf' ? [j] : [])], n));
      if ('pods' in e) e.pods.forEach((p, j) => checkPod(['expect', i, e.kind, j], p));
    });

    if (s.traffic) {
      const t = s.traffic;
      const edges: Array<[number, number]> = [];
      t.calls.forEach((c, i) => {
        const a = checkPod(['traffic', 'calls', i, 'from'], c.from);
        const b = checkPod(['traffic', 'calls', i, 'to'], c.to);
        if (a !== undefined && b !== undefined) {
          if (a === b) issue(['traffic', 'calls', i, 'to'], 'a pod does not call itself');
          else edges.push([a, b]);
        }
      });
      if (hasCycle(edges)) issue(['traffic', 'calls'], 'the calls form a cycle: every request would go round forever');
      if (t.entry !== undefined) checkPod(['traffic', 'entry'], t.entry);
      else {
        const called = new Set(edges.map(([, b]) => b));
        const roots = [...new Set(edges.map(([a]) => a))].filter((a) => !called.has(a));
        if (roots.length !== 1)
          issue(['traffic', 'entry'], `cannot tell which pod the clients call (${roots.length} pods call others and are never called): set entry`);
      }
    }

    const cfg = scenarioExtenderConfig(s.extender);
    if (!cfg.success)
      for (const i of cfg.error.issues) issue(['extender', ...i.path], i.message);
  })
  .transform((s): Scenario => {
    const pods: ScenarioPod[] = s.workloads.map((w) => ({
      namespace: w.namespace ?? s.namespace,
      name: w.name,
      labels: w.labels,
      annotations: w.annotations,
      ...(w.nodeName !== undefined ? { nodeName: w.nodeName } : {}),
    }));
    const podIds = pods.map((p) => ({ namespace: p.namespace, name: p.name }));
    const id = (ref: string) => podId(pods[resolvePodRef(podIds, ref) as number]!);
    const extenderConfig = scenarioExtenderConfig(s.extender).data!;
    const expect: Expectation[] = s.expect.map((e) =>
      'pods' in e ? { ...e, pods: e.pods.map(id) } : { ...e, pod: id(e.pod) },
    );
    const events = s.events.map((e) => ({ after: id(e.after), change: e.change, text: e.text }));
    let traffic: ScenarioTraffic | undefined;
    if (s.traffic) {
      const calls = s.traffic.calls.map((c) => ({ ...c, from: id(c.from), to: id(c.to) }));
      const called = new Set(calls.map((c) => c.to));
      const entry = s.traffic.entry !== undefined ? id(s.traffic.entry) : calls.find((c) => !called.has(c.from))!.from;
      traffic = { ...s.traffic, entry, calls };
    }
    const measure: Array<'rtt' | 'bandwidth'> =
      s.lab.measure ?? (s.topology.links.some((l) => l.rate !== null) ? ['rtt', 'bandwidth'] : ['rtt']);
    return {
      ...(s.name !== undefined ? { name: s.name } : {}),
      ...(s.description !== undefined ? { description: s.description } : {}),
      modes: s.modes,
      topology: s.topology,
      extenderConfig,
      scheduler: s.scheduler,
      lab: { ...s.lab, measure },
      pods,
      events,
      ...(traffic ? { traffic } : {}),
      expect,
    };
  });

export interface ScenarioPod {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  nodeName?: string;
}

export interface ScenarioCall {
  /** Pod ids ("namespace/name"). */
  from: string;
  to: string;
  request: number;
  response: number;
}

export interface ScenarioTraffic {
  entry: string;
  clients: number;
  duration: number;
  warmup: number;
  request: number;
  response: number;
  calls: ScenarioCall[];
}

export interface ScenarioEvent {
  /** Pod id after whose placement the change happens. */
  after: string;
  change: LinkChange;
  /** As written. */
  text: string;
}

export interface Scenario {
  name?: string;
  description?: string;
  modes: ScenarioMode[];
  topology: Topology;
  extenderConfig: ExtenderConfig;
  scheduler: { weight: number; spreadWeight: number; podsPerNode: number; capacity: Record<string, number>; schedulerName: string };
  lab: { measure: Array<'rtt' | 'bandwidth'>; rttInterval: number; sweepTimeout: number };
  /** In arrival order. */
  pods: ScenarioPod[];
  events: ScenarioEvent[];
  traffic?: ScenarioTraffic;
  /** Pod references resolved to ids ("namespace/name"). */
  expect: Expectation[];
}

export type ScenarioInput = z.input<typeof scenarioSchema>;

export const podId = (p: { namespace: string; name: string }) => `${p.namespace}/${p.name}`;

/**
 * Index of the pod a reference names: "name" (must be unambiguous) or "namespace/name";
 * a message string when there is no such pod.
 */
export function resolvePodRef(pods: ReadonlyArray<{ namespace: string; name: string }>, ref: string): number | string {
  if (ref.includes('/')) {
    const i = pods.findIndex((p) => podId(p) === ref);
    return i >= 0 ? i : `unknown pod "${ref}"`;
  }
  const hits = pods.flatMap((p, i) => (p.name === ref ? [i] : []));
  if (hits.length === 1) return hits[0]!;
  if (hits.length === 0) return `unknown pod "${ref}" (pods: ${pods.map((p) => p.name).join(', ')})`;
  return `"${ref}" is ambiguous (${hits.map((i) => podId(pods[i]!)).join(', ')}): write namespace/name`;
}

function hasCycle(edges: ReadonlyArray<[number, number]>): boolean {
  const out = new Map<number, number[]>();
  for (const [a, b] of edges) out.set(a, [...(out.get(a) ?? []), b]);
  const state = new Map<number, 1 | 2>(); // 1: on the stack, 2: done
  const visit = (n: number): boolean => {
    if (state.get(n) === 1) return true;
    if (state.get(n) === 2) return false;
    state.set(n, 1);
    for (const m of out.get(n) ?? []) if (visit(m)) return true;
    state.set(n, 2);
    return false;
  };
  return [...out.keys()].some(visit);
}
