// Schema of the agent's YAML config. Every field but `node` (which may also come from the
// NODE_NAME environment variable, set by the DaemonSet's downward API) has a default, so a
// five-line file works:
//
//   node: node-a
//   address: 10.0.0.1
//   targets:
//     - { name: node-b, address: 10.0.0.2 }
//
// Each agent is configured on its own: node-a may measure a->b while node-b measures nothing.
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseLabelSelector } from '../src/labelSelector.js';
import { quietGapSeconds, slotNeedsSeconds } from './bandwidth/timetable.js';
import { MEASUREMENT_TYPES } from '../src/linkMetrics.js';
import { bandwidth, duration, interval, listenAddress, objectName, port } from '../src/config/fields.js';

export const ipAddress = () => z.string().refine((s) => isIP(s) !== 0, 'must be an IPv4 or IPv6 address');

/** A Linux network interface name (at most 15 characters, no "/" or spaces; not "." or ".."). */
export const interfaceName = () =>
  z
    .string()
    .regex(/^[A-Za-z0-9_.:@-]{1,15}$/, 'must be a network interface name (1-15 characters of A-Z a-z 0-9 _ . : @ -)')
    .refine((s) => s !== '.' && s !== '..', 'must be a network interface name');

/** A node this agent measures: its name (the link's target label) and its overlay address. */
export const targetSchema = z
  .object({
    name: objectName(),
    address: ipAddress(),
  })
  .strict();
export type Target = z.infer<typeof targetSchema>;

/**
 * A top-level key that was renamed: accepted by the parser only to fail with the new name
 * (`agent.yaml:LINE: peers: renamed to "targets"`) instead of a bare "Unrecognized key".
 */
const renamedTo = (name: string) =>
  z
    .unknown()
    .superRefine((_value, ctx) => ctx.addIssue({ code: z.ZodIssueCode.custom, message: `renamed to "${name}"` }))
    .optional();

const pingOptions = z
  .object({
    /** Echo requests per run. */
    count: z.number().int().min(1).max(1000).default(10),
    /** Spacing between requests (ping -i); below 200ms needs root or CAP_NET_RAW; 2ms is ping's own floor (0 would flood). */
    spacing: duration({ min: 0.002 }).default('200ms'),
    /** How long to wait for the last reply (ping -W). */
    timeout: duration({ min: 0.01 }).default('2s'),
    /** ICMP payload bytes (ping -s). */
    size: z.number().int().min(16).max(65000).default(56),
  })
  .strict()
  .default({});

/**
 * What the RTT, jitter and loss gauges are computed over, so that one bad run cannot move them:
 * RTT is the median of the last `runs` runs' means; loss and jitter span the latest runs that
 * together sent at least `probes` echo requests (loss = lost / sent; jitter = median of the runs' mdev).
 */
const estimateWindow = z
  .object({
    /** Runs the RTT median is taken over. */
    runs: z.number().int().min(1).max(100).default(5),
    /** Echo requests (at least) that loss and jitter are computed over. */
    probes: z.number().int().min(100).max(100_000).default(100),
  })
  .strict()
  .default({});

const iperf3Options = z
  .object({
    /** Seconds of traffic per test (iperf3 -t; 0 would mean "forever" to iperf3). */
    duration: duration({ min: 1 }).default('5s'),
    /** Seconds at the start left out of the result, TCP slow start (iperf3 -O). */
    omit: duration().default('1s'),
    /** Parallel streams (iperf3 -P). */
    parallel: z.number().int().min(1).max(16).default(1),
    /** Target rate for udp-jitter tests (iperf3 -u -b). */
    udpRate: bandwidth({ positive: true }).default('10Mbps'),
  })
  .strict()
  .default({});

export const measurementSchema = z
  .object({
    type: z.enum(MEASUREMENT_TYPES),
    /** `all` (every target of the agent, static or discovered) or a list of target names. */
    targets: z.union([z.literal('all'), z.array(objectName()).min(1)]).default('all'),
    /** Time between runs to the same target (for bandwidth: between full sweeps); at least 1s. */
    interval: interval().optional(),
    ping: pingOptions,
    /** rtt only: the window the robust RTT, loss and jitter values are computed over. */
    window: estimateWindow,
    iperf3: iperf3Options,
  })
  .strict()
  .transform((m) => ({ ...m, interval: m.interval ?? DEFAULT_INTERVAL[m.type] }));
export type MeasurementConfig = z.infer<typeof measurementSchema>;

/**
 * Seconds one ping run keeps the link busy, for fitting it between bandwidth windows: COUNT
 * requests SPACING apart (one spacing more: a lost request makes ping send another) and the last
 * reply, waited for at most 0.5 s (a reply later than that is lost in any case that matters here).
 */
export const rttRunSeconds = (ping: Pick<MeasurementConfig['ping'], 'count' | 'spacing' | 'timeout'>): number =>
  ping.count * ping.spacing + Math.min(ping.timeout, 0.5);

/** The longest RTT run of a config (0 without RTT measurements): the quiet gaps of the bandwidth timetable fit it. */
export const probeSeconds = (cfg: Pick<AgentConfig, 'measurements'>): number =>
  Math.max(0, ...cfg.measurements.filter((m) => m.type === 'rtt').map((m) => rttRunSeconds(m.ping)));

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
    /**
     * Network interface to measure through: ping -I IFACE, iperf3 --bind-dev IFACE on the client
     * and the servers. The agent waits for it to appear (readiness 503 until then). Default: none.
     */
    interface: interfaceName().optional(),
    /** L2S-M network the probes run over; the `network` label of every link series. */
    network: objectName().default('lpm-measurement'),
    /** Where /metrics, /api/v1/links, /healthz and /readyz are served. */
    listen: listenAddress().default('0.0.0.0:9105'),
    /** Static targets: the nodes to measure. With discovery.kubernetes, discovered nodes are added to these. */
    targets: z.array(targetSchema).default([]),
    discovery: z
      .object({ kubernetes: kubernetesDiscovery.optional() })
      .strict()
      .default({}),
    iperf3: z
      .object({
        /** Port of this agent's iperf3 server, and of its targets' servers. */
        port: port().default(5201),
        /**
         * A second iperf3 server for UDP tests (the original LPM's 5202): when set, this agent also
         * serves on it and its udp-jitter tests go to the targets' servers on this port. Default: none.
         */
        udpPort: port().optional(),
        /** iperf3 --idle-timeout: a vanished client cannot wedge the server longer than this. */
        idleTimeout: duration({ min: 1 }).default('30s'),
        /**
         * Length of one bandwidth-schedule slot. Default: just enough for two windows (one per
         * direction) of every iperf3 measurement, each duration + omit + 3s and each followed by a
         * quiet gap for the RTT probes. Must be the same on all agents.
         */
        slot: duration({ min: 1 }).optional(),
      })
      .strict()
      .default({}),
    /** Measurement results kept per link and type for /api/v1/history. */
    historySize: z.number().int().min(1).max(1000).default(20),
    /** What to measure. Default: RTT to all targets every 10 s, bandwidth to all every 5 min. */
    measurements: z.array(measurementSchema).min(1).default([{ type: 'rtt' }, { type: 'bandwidth' }]),
    /**
     * Also serve the original LPM's metric names and units (net_rtt_ms, net_jitter_ms,
     * net_throughput_kbps; labels source_node, target_node). On by default for an original-format config.
     */
    compatMetrics: z.boolean().default(false),
    /** Old names of `targets` and `measurements`: an error that names the new key. */
    peers: renamedTo('targets'),
    metrics: renamedTo('measurements'),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.targets.forEach((t, i) => {
      if (seen.has(t.name))
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['targets', i, 'name'], message: `duplicate target "${t.name}"` });
      seen.add(t.name);
    });
    if (cfg.iperf3.udpPort !== undefined && cfg.iperf3.udpPort === cfg.iperf3.port)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['iperf3', 'udpPort'],
        message: `must differ from iperf3.port (${cfg.iperf3.port}): each port has its own iperf3 server`,
      });
    if (cfg.iperf3.slot !== undefined) {
      const quiet = quietGapSeconds(probeSeconds(cfg));
      const need = slotNeedsSeconds(cfg.measurements.filter((m) => m.type !== 'rtt').map((m) => m.iperf3), quiet);
      if (cfg.iperf3.slot < need)
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['iperf3', 'slot'],
          message:
            `slot must be at least ${need}s: two windows (one per direction) of duration + omit + 3s for every iperf3 measurement` +
            (quiet > 0 ? `, each followed by a ${quiet}s quiet gap for the RTT probes` : ''),
        });
    }
    // (an old `peers:` list already has its own error: no second one about missing targets)
    if (cfg.targets.length === 0 && !cfg.discovery.kubernetes && cfg.peers === undefined)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['targets'],
        message: 'no targets to measure: list targets, or enable discovery.kubernetes',
      });
  })
  // the renamed keys never get here with a value; dropped from the parsed config's type
  .transform(({ peers: _peers, metrics: _metrics, ...cfg }) => cfg);

export type AgentConfigInput = z.input<typeof agentConfigSchema>;
export type AgentConfig = z.output<typeof agentConfigSchema>;
