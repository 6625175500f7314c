// Schema of the agent's YAML config. Every field but `node` (which may also come from the
// NODE_NAME environment variable, set by the DaemonSet's downward API) has a default, so a
// five-line file works:
//
//   node: node-a
//   address: 10.0.0.1
//   peers:
//     - { name: node-b, address: 10.0.0.2 }
//
// Each agent is configured on its own: node-a may measure a->b while node-b measures nothing.
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseLabelSelector } from '../src/labelSelector.js';
import { windowSeconds } from './bandwidth/timetable.js';
import { MEASUREMENT_TYPES } from '../src/linkMetrics.js';
import { bandwidth, duration, listenAddress, objectName } from '../src/config/fields.js';

export const ipAddress = () => z.string().refine((s) => isIP(s) !== 0, 'must be an IPv4 or IPv6 address');

export const peerSchema = z
  .object({
    name: objectName(),
    address: ipAddress(),
  })
  .strict();
export type Peer = z.infer<typeof peerSchema>;

const pingOptions = z
  .object({
    /** Echo requests per run. */
    count: z.number().int().min(1).max(1000).default(10),
    /** Spacing between requests (ping -i); below 200ms needs root or CAP_NET_RAW. */
    spacing: duration().default('200ms'),
    /** How long to wait for the last reply (ping -W). */
    timeout: duration().default('2s'),
    /** ICMP payload bytes (ping -s). */
    size: z.number().int().min(16).max(65000).default(56),
  })
  .strict()
  .default({});

const iperf3Options = z
  .object({
    /** Seconds of traffic per test (iperf3 -t). */
    duration: duration().default('5s'),
    /** Seconds at the start left out of the result, TCP slow start (iperf3 -O). */
    omit: duration().default('1s'),
    /** Parallel streams (iperf3 -P). */
    parallel: z.number().int().min(1).max(16).default(1),
    /** Target rate for udp-jitter tests (iperf3 -u -b). */
    udpRate: bandwidth().default('10Mbps'),
  })
  .strict()
  .default({});

export const measurementSchema = z
  .object({
    type: z.enum(MEASUREMENT_TYPES),
    /** `all` (every known peer) or a list of peer names. */
    targets: z.union([z.literal('all'), z.array(objectName()).min(1)]).default('all'),
    /** Time between runs to the same target (for bandwidth: between full sweeps). */
    interval: duration().optional(),
    ping: pingOptions,
    iperf3: iperf3Options,
  })
  .strict()
  .transform((m) => ({ ...m, interval: m.interval ?? DEFAULT_INTERVAL[m.type] }));
export type MeasurementConfig = z.infer<typeof measurementSchema>;

const DEFAULT_INTERVAL: Record<(typeof MEASUREMENT_TYPES)[number], number> = {
  rtt: 10,
  bandwidth: 300,
  'udp-jitter': 300,
};

const kubernetesDiscovery = z
  .object({
    /** Namespace of the agent pods (default: the agent's own, from POD_NAMESPACE, else lpm-system). */
    namespace: z.string().min(1).optional(),
    /** Label selector matching the agent pods. */
    labelSelector: z
      .string()
      .min(1)
      .default('app.kubernetes.io/name=lpm-agent')
      .superRefine((text, ctx) => {
        // Checked here, not first by the API server at watch time: a typo fails at start.
        try {
          parseLabelSelector(text);
        } catch (err) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: `not a label selector: ${(err as Error).message}` });
        }
      }),
    /** API server connection; default: the pod's service account (or KUBECONFIG outside a cluster). */
    kubeconfig: z.string().min(1).optional(),
    /** Plain API server URL without credentials (kubectl proxy, tests). */
    server: z.string().url().optional(),
  })
  .strict();

export const agentConfigSchema = z
  .object({
    /** This node's name; defaults to the NODE_NAME environment variable. */
    node: objectName().optional(),
    /** Overlay address this agent measures from (ping -I, iperf3 -B) and serves iperf3 on. */
    address: ipAddress().optional(),
    /** L2S-M network the probes run over; the `network` label of every link series. */
    network: objectName().default('lpm-measurement'),
    /** Where /metrics, /api/v1/links, /healthz and /readyz are served. */
    listen: listenAddress().default('0.0.0.0:9105'),
    /** Static peers. With discovery.kubernetes, discovered peers are added to these. */
    peers: z.array(peerSchema).default([]),
    discovery: z
      .object({ kubernetes: kubernetesDiscovery.optional() })
      .strict()
      .default({}),
    iperf3: z
      .object({
        /** Port of this agent's iperf3 server, and of its peers' servers. */
        port: z.number().int().min(1).max(65535).default(5201),
        /** iperf3 --idle-timeout: a vanished client cannot wedge the server longer than this. */
        idleTimeout: duration().default('30s'),
        /**
         * Length of one bandwidth-schedule slot. Default: just enough for two windows (one per
         * direction) of every iperf3 metric, each duration + omit + 3s. Must be the same on all agents.
         */
        slot: duration().optional(),
      })
      .strict()
      .default({}),
    /** Measurement results kept per link and type for /api/v1/links. */
    historySize: z.number().int().min(1).max(1000).default(20),
    /** What to measure. Default: RTT to all peers every 10 s, bandwidth to all every 5 min. */
    metrics: z.array(measurementSchema).min(1).default([{ type: 'rtt' }, { type: 'bandwidth' }]),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.peers.forEach((p, i) => {
      if (seen.has(p.name))
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['peers', i, 'name'], message: `duplicate peer "${p.name}"` });
      seen.add(p.name);
    });
    if (cfg.iperf3.slot !== undefined) {
      const need = cfg.metrics.filter((m) => m.type !== 'rtt').reduce((s, m) => s + 2 * windowSeconds(m.iperf3), 0);
      if (cfg.iperf3.slot < need)
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['iperf3', 'slot'],
          message: `slot must be at least ${need}s: two windows (one per direction) of duration + omit + 3s for every iperf3 metric`,
        });
    }
    if (cfg.peers.length === 0 && !cfg.discovery.kubernetes)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['peers'],
        message: 'no peers to measure: list peers, or enable discovery.kubernetes',
      });
  });

export type AgentConfigInput = z.input<typeof agentConfigSchema>;
export type AgentConfig = z.output<typeof agentConfigSchema>;
