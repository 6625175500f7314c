// `lpm export networktopology`: keeps a NetworkTopology (qos-scheduler.siemens.com/v1alpha1, read by
// the CODECO SWM QoS scheduler) up to date from the measured links, read through the extender's
// metric sources (Prometheus, or the agents directly). And `lpm exporter --target swm`, the
// original LPM's command line for the same, as the L2S-M operator runs it next to its Prometheus
// (localhost:9090) with TOPOLOGY_NAMESPACE set.
import { stringify } from 'yaml';
import { bool, LOG_LEVEL_FLAG, str, UsageError, type CommandSpec, type FlagSpec, type ParsedArgs } from '../../src/cli/command.js';
import { formatPath } from '../../src/config/loadYaml.js';
import { kubeConfigFor } from '../../src/kube/podWatch.js';
import { createLogger, type Logger } from '../../src/log.js';
import { parseDuration } from '../../src/units.js';
import { VERSION } from '../../src/version.js';
import { sourceSchema } from '../config.js';
import { createSource } from '../sources/index.js';
import { ServerSideApplier } from './apply.js';
import { TopologyExporter } from './exporter.js';
import { DEFAULT_TOPOLOGY_NAME, type NetworkTopology } from './networkTopology.js';

/** The original's Prometheus: a container next to the exporter in the same pod. */
export const DEFAULT_PROMETHEUS_URL = 'http://localhost:9090';
export const TOPOLOGY_NAMESPACE_ENV = 'TOPOLOGY_NAMESPACE';

const EXPORT_FLAGS: Record<string, FlagSpec> = {
  source: { type: 'string', value: 'TYPE', default: 'prometheus', description: 'where the link measurements come from: prometheus or direct (the agents)' },
  prometheus: { type: 'string', value: 'URL', default: DEFAULT_PROMETHEUS_URL, description: 'source prometheus: its base URL' },
  'recording-rules': {
    type: 'boolean',
    description: 'source prometheus: read the lpm:link_*:latest recording rules instead of the raw lpm_link_* gauges',
  },
  matcher: { type: 'string', value: 'MATCHER', description: 'source prometheus: label matcher added to every query, e.g. network="lpm-measurement"' },
  agent: { type: 'string', value: 'URL', multiple: true, description: 'source direct: an agent base URL (repeat for every agent), e.g. http://10.0.0.1:9105' },
  namespace: { type: 'string', value: 'NS', description: `namespace of the NetworkTopology (default: $${TOPOLOGY_NAMESPACE_ENV})` },
  name: { type: 'string', value: 'NAME', default: DEFAULT_TOPOLOGY_NAME, description: 'name of the NetworkTopology' },
  interval: { type: 'string', value: 'DURATION', default: '5m', description: 'time between refreshes' },
  'max-age': { type: 'string', value: 'DURATION', default: '1h', description: 'measurements older than this are left out' },
  kubeconfig: { type: 'string', value: 'FILE', description: 'API server connection (default: $KUBECONFIG, ~/.kube/config, or the pod\'s service account)' },
  once: { type: 'boolean', description: 'refresh once and exit (0 applied, 1 not)' },
  'dry-run': { type: 'boolean', description: 'print the object (YAML) on stdout instead of applying it' },
  'log-level': LOG_LEVEL_FLAG,
};

const DETAILS = `The object: spec.networkImplementation L2SM, spec.physicalBase "", spec.nodes {name, type:
COMPUTE}, spec.links: a link per node to itself and one per measured pair, SOURCE-TARGET, with
capabilities.latencyNanos (the RTT, e.g. "500000") and capabilities.bandWidthBits (e.g. "940M"),
sorted by name. Written by server-side apply (field manager lpm, force). Needs RBAC get, create and
patch on networktopologies.qos-scheduler.siemens.com in the namespace, and the CRD installed
(manifests/crds/networktopology.yaml). See docs/migration.md.`;

function durationFlag(args: ParsedArgs, name: string, fallback: string): number {
  const text = str(args, name) ?? fallback;
  try {
    const s = parseDuration(text);
    if (!(s > 0)) throw new Error('must be more than 0');
    return s;
  } catch (err) {
    throw new UsageError(`--${name}: ${(err as Error).message}`);
  }
}

/** Runs the export with parsed flags (shared by both commands). */
async function runExport(args: ParsedArgs, log: Logger): Promise<number> {
  const interval = durationFlag(args, 'interval', '5m');
  const maxAge = durationFlag(args, 'max-age', '1h');
  const namespace = str(args, 'namespace') ?? process.env[TOPOLOGY_NAMESPACE_ENV];
  const dryRun = bool(args, 'dry-run');
  if (!namespace) throw new UsageError(`no namespace: give --namespace NS or set ${TOPOLOGY_NAMESPACE_ENV}`);
  const type = str(args, 'source') ?? 'prometheus';
  const agents = (args.values.agent as string[] | undefined) ?? [];
  const sourceInput =
    type === 'prometheus'
      ? {
          type,
          url: str(args, 'prometheus') ?? DEFAULT_PROMETHEUS_URL,
          interval,
          recordingRules: bool(args, 'recording-rules'),
          ...(str(args, 'matcher') ? { matcher: str(args, 'matcher') } : {}),
        }
      : type === 'direct'
        ? { type, agents, interval }
        : undefined;
  if (!sourceInput) throw new UsageError(`--source: "${type}" is not prometheus or direct`);
  if (type === 'direct' && agents.length === 0) throw new UsageError('--source direct needs --agent URL (one per agent)');
  const parsed = sourceSchema.safeParse(sourceInput);
  if (!parsed.success)
    throw new UsageError(parsed.error.issues.map((i) => `source ${formatPath(i.path)}: ${i.message}`).join('\n'));
  const source = createSource(parsed.data);

  const kubeconfig = str(args, 'kubeconfig');
  let write: (obj: NetworkTopology) => Promise<void>;
  if (dryRun) {
    write = async (obj) => {
      process.stdout.write(`---\n${stringify(obj)}`);
    };
  } else {
    const applier = new ServerSideApplier(kubeConfigFor(kubeconfig ? { kubeconfig } : {}));
    write = async (obj) => {
      await applier.apply(obj);
    };
  }
  const exporter = new TopologyExporter({ source, name: str(args, 'name') ?? DEFAULT_TOPOLOGY_NAME, namespace, interval, maxAge, write, log });
  log.info({ version: VERSION, source: type, namespace, name: str(args, 'name') ?? DEFAULT_TOPOLOGY_NAME, interval, dryRun }, 'networktopology export starting');
  if (bool(args, 'once')) {
    const result = await exporter.refresh();
    log.flush();
    return result === 'applied' ? 0 : 1;
  }
  exporter.start();
  await waitForSignal(log);
  await exporter.stop();
  log.info('networktopology export stopped');
  log.flush();
  return 0;
}

function waitForSignal(log: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (signal: string) => {
      log.info({ signal }, 'shutting down');
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      resolve();
    };
    const onTerm = () => done('SIGTERM');
    const onInt = () => done('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
}

export const exportCommand: CommandSpec = {
  name: 'export',
  summary: 'Keep a NetworkTopology (qos-scheduler.siemens.com/v1alpha1, read by the CODECO SWM QoS scheduler) up to date from the measured links.',
  usage: 'export networktopology [--source prometheus|direct] [--namespace NS] [--interval 5m] [flags]',
  allowPositionals: true,
  flags: EXPORT_FLAGS,
  details: DETAILS,
  async run(args) {
    if (args.positionals.length !== 1 || args.positionals[0] !== 'networktopology')
      throw new UsageError('usage: lpm export networktopology [flags] (networktopology is the one thing it exports)');
    return runExport(args, createLogger('export', str(args, 'log-level') ?? 'info'));
  },
};

export const exporterCommand: CommandSpec = {
  name: 'exporter',
  summary: 'The original LPM\'s command line: "exporter --target swm" runs "export networktopology" (Prometheus at localhost:9090, namespace $TOPOLOGY_NAMESPACE).',
  usage: 'exporter [--target swm|l2sm] [export flags]',
  flags: {
    target: { type: 'string', value: 'TARGET', default: 'l2sm', description: 'swm: export the NetworkTopology; l2sm (the original\'s default, which exports nothing): idle until stopped' },
    ...EXPORT_FLAGS,
  },
  details: `${DETAILS}\nThe original's "--target l2sm" wrote nothing (it slept and exited); lpm idles until SIGTERM.`,
  async run(args) {
    const log = createLogger('exporter', str(args, 'log-level') ?? 'info');
    const target = str(args, 'target') ?? 'l2sm';
    if (target === 'swm') return runExport(args, log);
    if (target !== 'l2sm') throw new UsageError(`--target: "${target}" is not swm or l2sm`);
    log.warn('exporter --target l2sm: the original exported nothing for it; idling (use --target swm for the NetworkTopology)');
    await waitForSignal(log);
    log.flush();
    return 0;
  },
};
