// Schema of the extender's YAML config. Everything has a default but the metric source, so a
// minimal file is:
//
//   source:
//     type: direct
//     agents: [http://10.0.0.1:9105, http://10.0.0.2:9105]
//
// docs/extender.md describes every field.
import { z } from 'zod';
import { LINK_METRIC_KEYS } from '../src/linkMetrics.js';
import type { ScoringConfig } from './scoring/scoring.js';
import { DEFAULT_TRAFFIC_LABELS, DEFAULT_TRAFFIC_QUERY } from './peers/trafficMatrix.js';
import { DEFAULT_MAX_PEER_NODES, DEFAULT_MAX_PEERS, MAX_PEER_WEIGHT } from './peers/peerAnnotations.js';
import { bandwidth, duration, interval, listenAddress, objectName } from '../src/config/fields.js';

/** Smallest timeout of an upstream call (agents, Prometheus): 0 would fail every refresh. */
const MIN_TIMEOUT = { min: 0.1 };

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
    /** Or explicit metrics with timestamps, as an agent's GET /api/v1/links (and the extender's GET /api/v1/matrix) return them. */
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
    interval: interval().default('10s'),
    timeout: duration(MIN_TIMEOUT).default('3s'),
  })
  .strict();

const staticSource = z
  .object({
    type: z.literal('static'),
    /** A YAML/JSON file with `links: [...]` (re-read every interval, so it can be edited live). */
    file: z.string().min(1).optional(),
    links: z.array(staticLinkSchema).optional(),
    interval: interval().default('10s'),
  })
  .strict();

const prometheusSource = z
  .object({
    type: z.literal('prometheus'),
    /** Prometheus base URL, e.g. http://prometheus:9090 */
    url: httpUrl(),
    interval: interval().default('15s'),
    timeout: duration(MIN_TIMEOUT).default('5s'),
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
    interval: interval().default('30s'),
    timeout: duration(MIN_TIMEOUT).default('5s'),
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
        /**
         * With clientCA: only clients whose certificate names one of these (its subject CN or a DNS
         * subject alternative name) are served; others get 403. Default: any certificate clientCA signed.
         */
        clientNames: z.array(z.string().min(1).max(253)).min(1).optional(),
      })
      .strict()
      .refine((t) => !t.clientNames || t.clientCA, { message: 'clientNames needs clientCA (mutual TLS)', path: ['clientNames'] })
      .optional(),
    /**
     * Limits of the HTTP server, so slow or idle clients cannot hold connections (and file
     * descriptors) for ever: docs/security.md.
     */
    http: z
      .object({
        /** Time to receive a request's headers (Node's headersTimeout). */
        headersTimeout: duration({ min: 0.1 }).default('10s'),
        /** Time to receive a whole request, headers and body (Node's requestTimeout): answered 408, connection closed. */
        requestTimeout: duration({ min: 0.1 }).default('30s'),
        /** A connection with no traffic for this long is closed, even mid-answer (Node's server timeout). */
        idleTimeout: duration({ min: 1 }).default('120s'),
        /** An idle keep-alive connection is closed after this (kube-scheduler reuses its connections). */
        keepAliveTimeout: duration({ min: 0.1 }).default('65s'),
        /** Requests per connection before it is closed (0: no limit). */
        maxRequestsPerSocket: z.number().int().min(0).default(0),
        /** Open connections at most; further ones are closed at once. */
        maxConnections: z.number().int().min(1).max(1_000_000).default(1024),
      })
      .strict()
      .default({})
      .refine((h) => h.headersTimeout <= h.requestTimeout, { message: 'must not be longer than requestTimeout', path: ['headersTimeout'] }),
    /**
     * The read API (GET /api/v1/matrix, /api/v1/decisions, /api/v1/traffic) and the web page:
     * they show every scheduled pod's name, peers and nodes. `main`: on the scheduler port (as the
     * verbs); `off`: not served; HOST:PORT: a listener of their own (e.g. 127.0.0.1:8889, reached
     * with kubectl port-forward).
     */
    readApi: z
      .object({
        listen: z.union([z.enum(['main', 'off']), listenAddress()]).default('main'),
        /** On its own listener: serve it with the same tls (certificate, clientCA, clientNames) as the main port. */
        tls: z.boolean().default(true),
      })
      .strict()
      .default({}),
    source: sourceSchema,
    staleness: z
      .object({
        /** How often the agents measure RTT / bandwidth (their config's metrics[].interval). */
        rttInterval: interval().default('10s'),
        bandwidthInterval: interval().default('5m'),
        /**
         * The agents' bandwidth test window (iperf3 duration + omit + 3 s; 9 s with their defaults):
         * an RTT probe due while its nodes test waits for the quiet gap after the window.
         */
        bandwidthWindow: duration({ min: 1 }).default('9s'),
        /**
         * Older values are stale: neutral, never used to filter. Default: 3 × the interval (RTT: or
         * 1.2 × the interval + 2 bandwidth windows, if longer) + the source's delay.
         */
        rttMaxAge: duration({ min: 1 }).optional(),
        bandwidthMaxAge: duration({ min: 1 }).optional(),
      })
      .strict()
      .default({}),
    scoring: z
      .object({
        rttWeight: z.number().finite().min(0).default(1),
        bandwidthWeight: z.number().finite().min(0).default(1),
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
        defaultWeight: z.number().finite().min(0).max(MAX_PEER_WEIGHT).default(1),
        /**
         * What may cross namespaces (docs/security.md): the namespaces ("*": all) whose pods' own
         * lpm.l2sm.io/peers may select pods elsewhere (`forward`: moves only the pod itself), and
         * whose pods' lpm.l2sm.io/peers / peer-weights may pull pods of other namespaces
         * (`reverse`); `networks`: a shared L2S-M network makes pods of two namespaces peers.
         */
        crossNamespace: z
          .object({
            forward: z.array(z.union([z.literal('*'), objectName().max(63)])).default([]),
            reverse: z.array(z.union([z.literal('*'), objectName().max(63)])).default([]),
            networks: z.boolean().default(true),
          })
          .strict()
          .default({}),
        /** Peers counted per pod (the first found); more are left out with a warning. */
        maxPeers: z.number().int().min(1).max(1_000_000).default(DEFAULT_MAX_PEERS),
        /** Distinct peer nodes counted per pod (the heaviest): scoring costs candidates × peer nodes. */
        maxPeerNodes: z.number().int().min(1).max(100_000).default(DEFAULT_MAX_PEER_NODES),
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
        /** Record a Warning Event on a pod whose annotations were ignored for exceeding a cap (needs RBAC create on events). */
        events: z.boolean().default(true),
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
        /** The decisions kept, together, at most this size (JSON; the oldest go first). */
        maxBytes: byteSize().default('32MiB'),
        /** One decision at most this size (JSON): larger ones keep fewer peers and nodes, and say so. */
        maxDecisionBytes: byteSize().default('256KiB'),
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
 * The longest an agent's RTT value gets between two runs: its interval (±10 %) plus, when the run
 * falls into a bandwidth window of its nodes, the wait for the quiet gap after it (at most a window
 * and a gap; a gap is shorter than a window as long as a ping run is shorter than an iperf3 test).
 */
export const rttRunGap = (s: Pick<ExtenderConfig['staleness'], 'rttInterval' | 'bandwidthWindow'>): number =>
  1.2 * s.rttInterval + 2 * s.bandwidthWindow;

/**
 * The scoring parameters with the staleness defaults applied: 3 × the agents' interval (two
 * measurements may be missed before a link turns stale), for RTT at least the longest gap between
 * two runs (rttRunGap), plus the source's own delay.
 */
export function scoringConfig(cfg: Pick<ExtenderConfig, 'scoring' | 'staleness' | 'source'>): ScoringConfig {
  const delay = sourceDelay(cfg.source);
  return {
    ...cfg.scoring,
    rttMaxAge: cfg.staleness.rttMaxAge ?? Math.max(3 * cfg.staleness.rttInterval, rttRunGap(cfg.staleness)) + delay,
    bandwidthMaxAge: cfg.staleness.bandwidthMaxAge ?? 3 * cfg.staleness.bandwidthInterval + delay,
  };
}
