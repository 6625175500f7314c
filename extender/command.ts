// `lpm extender --config FILE`: runs the kube-scheduler extender until SIGINT/SIGTERM.
import { LOG_LEVEL_FLAG, requireStr, str, type CommandSpec } from '../src/cli/command.js';
import { extenderConfigSchema } from './config.js';
import { loadYamlConfig } from '../src/config/loadYaml.js';
import { installStopSignals } from '../src/cli/signals.js';
import { createLogger } from '../src/log.js';
import { VERSION } from '../src/version.js';
import { createExtender } from './extender.js';
import { PodCache } from './pods/podCache.js';
import type { PodStore } from './pods/podStore.js';

export const extenderCommand: CommandSpec = {
  name: 'extender',
  summary: 'Run the kube-scheduler extender: filter and prioritize nodes by measured link RTT and bandwidth.',
  usage: 'extender --config FILE [--log-level LEVEL]',
  flags: {
    config: { type: 'string', short: 'c', description: 'extender YAML config (reference: docs/extender.md)', value: 'FILE' },
    'log-level': LOG_LEVEL_FLAG,
  },
  details: `Endpoints: POST /filter, POST /prioritize (kube-scheduler's extender verbs), GET /healthz,
GET /readyz (ready once the first link matrix and the pod cache are loaded), GET /metrics,
GET /api/v1/matrix (current link matrix), GET /api/v1/decisions?limit=N&pod=NS/NAME&verb=V.

Minimal config:
  source:
    type: direct
    agents: [http://10.0.0.1:9105, http://10.0.0.2:9105]
  kubernetes:
    enabled: true        # pod placements from a list+watch on pods (kubeconfig / in-cluster)`,
  async run(args) {
    const file = requireStr(args, 'config', extenderCommand);
    const logger = createLogger('extender', str(args, 'log-level') ?? 'info');
    const config = await loadYamlConfig(file, extenderConfigSchema);
    // SIGTERM/SIGINT from here on: drain and exit 0, even one arriving while it starts (handlers
    // kept until the exit, src/cli/signals.ts); a second one exits at once; SIGHUP is ignored.
    const signals = installStopSignals({ log: logger });

    let podCache: PodCache | undefined;
    let podStore: PodStore | undefined;
    if (config.kubernetes.enabled) {
      podCache = new PodCache({
        connection: {
          ...(config.kubernetes.kubeconfig ? { kubeconfig: config.kubernetes.kubeconfig } : {}),
          ...(config.kubernetes.server ? { server: config.kubernetes.server } : {}),
        },
        log: logger.child({ part: 'pod-cache' }),
      });
      podStore = podCache;
    }
    const connection = {
      ...(config.kubernetes.kubeconfig ? { kubeconfig: config.kubernetes.kubeconfig } : {}),
      ...(config.kubernetes.server ? { server: config.kubernetes.server } : {}),
    };
    const extender = await createExtender({
      config,
      logger,
      ...(podStore ? { podStore } : {}),
      // Events on pods whose annotations lpm ignored (over a cap): needs RBAC create on events
      ...(config.kubernetes.enabled && config.kubernetes.events ? { events: { connection } } : {}),
    });
    // Listen first: when the address cannot be bound, start() stops what it started and throws a
    // ListenError (one line on stderr, exit 2), and the pod informer was never started.
    const url = await extender.start();
    // The list may take a while on a big cluster: serve (neutral answers, /readyz 503) meanwhile.
    if (podCache)
      podCache.start().then(
        () => logger.info('pod cache loaded'),
        (err: unknown) => logger.error({ err: (err as Error).message }, 'pod cache failed'),
      );
    logger.info(
      { url, readApi: extender.readApiUrl ?? config.readApi.listen, version: VERSION, source: config.source.type, kubernetes: config.kubernetes.enabled, tls: !!config.tls },
      'lpm extender listening',
    );

    const signal = await signals.received;
    logger.info({ signal, delaySeconds: config.shutdownDelay, timeoutSeconds: config.shutdownTimeout }, 'shutting down: draining in-flight requests');
    // drain: new connections refused, /readyz 503, requests already received answered (bounded)
    podCache?.stop();
    const { forced, drainedSeconds } = await extender.shutdown({ delaySeconds: config.shutdownDelay, timeoutSeconds: config.shutdownTimeout });
    logger.info({ forced, drainedSeconds: Math.round(drainedSeconds * 1000) / 1000 }, 'stopped');
    logger.flush();
    return 0;
  },
};
