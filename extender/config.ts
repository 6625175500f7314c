// Schema of the extender's YAML config. Everything has a default but the metric source, so a
// minimal file is:
//
//   source:
//     type: direct
//     agents: [http://10.0.0.1:9105, http://10.0.0.2:9105]
//
// See the README, "The scheduler extender", for every field.
import { z } from 'zod';
import { LINK_METRIC_KEYS } from '../src/linkMetrics.js';
import type { ScoringConfig } from './scoring/scoring.js';
import { DEFAULT_TRAFFIC_LABELS, DEFAULT_TRAFFIC_QUERY } from './peers/trafficMatrix.js';
import { bandwidth, duration, listenAddress, objectName } from '../src/config/fields.js';

const SIZE_UNITS: Record<string, number> = { '': 1, B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, KB: 1e3, MB: 1e6, GB: 1e9 };

/** "64MiB", "10MB", or a number of bytes. */
export const byteSize = () =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    if (typeof v === 'number') {
      if (Number.isInteger(v) && v > 0) return v;
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be a positive whole number of bytes' });
      return z.NEVER;
    }
    const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?\s*$/.exec(v);
    if (!m) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${v}" is not a size (use e.g. 64MiB, 10MB, or bytes)` });
      return z.NEVER;
    }
    return Math.round(Number(m[1]) * SIZE_UNITS[m[2] ?? '']!);
  });

const httpUrl = () =>
  z
    .string()
    .url()
    .refine((u) => /^https?:\/\//.test(u), 'must be an http:// or https:// URL');

/** One directed link given by hand (static source): human units, optionally aged. */
export const staticLinkSchema = z
  .object({
    source: objectName(),
    target: objectName(),
    rtt: duration().optional(),
    bandwidth: bandwidth().optional(),
    jitter: duration().optional(),
    loss: z.number().min(0).max(1).optional(),
    /** How old the values are when served (default 0: always fresh). */
    age: duration().default(0),
    /** Or explicit metrics with timestamps, as GET /api/v1/links returns them. */
    metrics: z
      .record(z.enum(LINK_METRIC_KEYS), z.object({ value: z.number().finite(), timestamp: z.number().positive() }))
      .optional(),
  })
  .strict();
export type StaticLink = z.infer<typeof staticLinkSchema>;

const directSource = z
  .object({
    type: z.literal('direct'),
    /** Base URLs of the agents; each serves GET /api/v1/links. */
    agents: z.array(httpUrl()).min(1),
    interval: duration().default('10s'),
    timeout: duration().default('3s'),
  })
  .strict();

const staticSource = z
  .object({
    type: z.literal('static'),
    /** A YAML/JSON file with `links: [...]` (re-read every interval, so it can be edited live). */
    file: z.string().min(1).optional(),
    links: z.array(staticLinkSchema).optional(),
    interval: duration().default('10s'),
  })
  .strict();

const prometheusSource = z
  .object({
    type: z.literal('prometheus'),
    /** Prometheus base URL, e.g. http://prometheus:9090 */
    url: httpUrl(),
    interval: duration().default('15s'),
    timeout: duration().default('5s'),
    /** Extra label matcher for every query, e.g. network="lpm-measurement". */
    matcher: z.string().default(''),
    /** Read our recording rules (lpm:link_*:latest); false: aggregate the raw lpm_link_* gauges. */
    recordingRules: z.boolean().default(true),
  })
  .strict();

const trafficSource = z
  .object({
    /** Prometheus base URL, e.g. http://prometheus.istio-system:9090 */
    url: httpUrl(),
    /** An instant query giving bytes/s per app pair (default: Istio's request + response bytes). */
    query: z.string().min(1).default(DEFAULT_TRAFFIC_QUERY),
    /** Sample labels naming the two apps and (optional, '' for none) their namespaces. */
    sourceLabel: z.string().min(1).default(DEFAULT_TRAFFIC_LABELS.sourceApp),
    targetLabel: z.string().min(1).default(DEFAULT_TRAFFIC_LABELS.targetApp),
    sourceNamespaceLabel: z.string().default(DEFAULT_TRAFFIC_LABELS.sourceNamespace),
    targetNamespaceLabel: z.string().default(DEFAULT_TRAFFIC_LABELS.targetNamespace),
    /** The pod label whose value is the app name in the samples. */
    podLabel: z.string().min(1).default(DEFAULT_TRAFFIC_LABELS.podLabel),
    interval: duration().default('30s'),
    timeout: duration().default('5s'),
  })
  .strict();

export const sourceSchema = z
  .discriminatedUnion('type', [directSource, staticSource, prometheusSource])
  .superRefine((s, ctx) => {
    if (s.type === 'static' && (s.file === undefined) === (s.links === undefined))
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['file'], message: 'static source: give exactly one of file or links' });
  });
export type SourceConfig = z.infer<typeof sourceSchema>;

const podSchema = z
  .object({
    namespace: z.string().min(1).default('default'),
    name: z.string().min(1),
    labels: z.record(z.string(), z.string()).default({}),
    annotations: z.record(z.string(), z.string()).default({}),
    nodeName: z.string().min(1).optional(),
    phase: z.string().optional(),
  })
  .strict();

export const extenderConfigSchema = z
  .object({
    listen: listenAddress().default('0.0.0.0:8888'),
    tls: z
      .object({
        cert: z.string().min(1),
        key: z.string().min(1),
        /** When set, clients must present a certificate signed by this CA (mutual TLS). */
        clientCA: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    source: sourceSchema,
    staleness: z
      .object({
        /** How often the agents measure RTT / bandwidth (their config's metrics[].interval). */
        rttInterval: duration().default('10s'),
        bandwidthInterval: duration().default('5m'),
        /** Older values are stale: neutral, never used to filter. Default 3 × the interval + the source's delay. */
        rttMaxAge: duration().optional(),
        bandwidthMaxAge: duration().optional(),
      })
      .strict()
      .default({}),
    scoring: z
      .object({
        rttWeight: z.number().min(0).default(1),
        bandwidthWeight: z.number().min(0).default(1),
        rttReference: duration().default('10ms'),
        bandwidthReference: bandwidth().default('100Mbps'),
        unknownQuality: z.number().min(0).max(1).default(0.5),
      })
      .strict()
      .default({})
      .refine((s) => s.rttReference > 0, { message: 'must be above 0', path: ['rttReference'] })
      .refine((s) => s.bandwidthReference > 0, { message: 'must be above 0', path: ['bandwidthReference'] }),
    peers: z
      .object({
        /** Pods sharing an L2S-M network are peers. */
        networks: z.boolean().default(true),
        /** Networks that do not make pods peers: lpm's own measurement network joins every agent. */
        ignoreNetworks: z.array(z.string().min(1)).default(['lpm-measurement']),
        /** Weight of a peer no annotation weighs. */
        defaultWeight: z.number().min(0).default(1),
        /** Traffic between apps from Prometheus (bytes/s): the pods of talking apps are peers, weighted by it. */
        traffic: trafficSource.optional(),
      })
      .strict()
      .default({}),
    kubernetes: z
      .object({
        enabled: z.boolean().default(true),
        /** Path of a kubeconfig; default: in-cluster, else ~/.kube/config. */
        kubeconfig: z.string().min(1).optional(),
        /** API server URL overriding the kubeconfig's. */
        server: httpUrl().optional(),
      })
      .strict()
      .default({}),
    /** Pods known without Kubernetes (kubernetes.enabled: false): demos, scenario sim mode. */
    pods: z.array(podSchema).default([]),
    decisions: z
      .object({
        /** Decisions kept for GET /api/v1/decisions. */
        keep: z.number().int().min(0).max(100_000).default(200),
        /** Nodes per decision with their full link explanation (the rest: scores only). */
        detailNodes: z.number().int().min(0).max(100_000).default(20),
      })
      .strict()
      .default({}),
    /** Largest request body. NodeList mode sends every Node object: 4 KB bare, ~14 KB with the 50
     *  images and managedFields a real node carries; 128 MiB fits 5000 nodes of up to ~26 KB. */
    bodyLimit: byteSize().default('128MiB'),
    /** On SIGTERM, how long in-flight requests may take to finish before their connections are cut
     *  (keep it under the pod's terminationGracePeriodSeconds, 30 s by default). */
    shutdownTimeout: duration().default('25s'),
    /** On SIGTERM, how long to keep serving with /readyz at 503 before closing the listener (for an
     *  extender behind a Service: time for the endpoint to be removed). 0 for a sidecar. */
    shutdownDelay: duration().default('0s'),
  })
  .strict();

export type ExtenderConfigInput = z.input<typeof extenderConfigSchema>;
export type ExtenderConfig = z.output<typeof extenderConfigSchema>;

/**
 * Seconds a measurement can take to reach the extender through the source, on top of its age at
 * the agent: a value is dated by the agent, so every step of the pipeline ages it. Prometheus: its
 * scrape, the recording rule's evaluation and our query, each up to an interval (the shipped
 * Prometheus scrapes and evaluates at the interval the extender queries); direct: our scrape.
 */
export function sourceDelay(source: SourceConfig): number {
  if (source.type === 'prometheus') return 3 * source.interval;
  if (source.type === 'direct') return source.interval;
  return 0;
}

/**
 * The scoring parameters with the staleness defaults applied: 3 × the agents' interval (two
 * measurements may be missed before a link turns stale) plus the source's own delay.
 */
export function scoringConfig(cfg: Pick<ExtenderConfig, 'scoring' | 'staleness' | 'source'>): ScoringConfig {
  const delay = sourceDelay(cfg.source);
  return {
    ...cfg.scoring,
    rttMaxAge: cfg.staleness.rttMaxAge ?? 3 * cfg.staleness.rttInterval + delay,
    bandwidthMaxAge: cfg.staleness.bandwidthMaxAge ?? 3 * cfg.staleness.bandwidthInterval + delay,
  };
}
