// `lpm demo`: the whole pipeline on one machine, no cluster (see docs/demo.md).
import { bool, LOG_LEVEL_FLAG, str, UsageError, type CommandSpec } from '../../src/cli/command.js';
import { createLogger } from '../../src/log.js';
import { parseDuration } from '../../src/units.js';
import { runDemo } from './run.js';
import { DEMO_LAB, demoTopologyFile } from './topology.js';

function intFlag(v: string | undefined, name: string, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name}: "${v}" must be a whole number from ${min} to ${max}`);
  return n;
}

/** A duration flag ("90s", "2m"; a bare number is seconds, as in the config files) -> seconds, within [min, max]. */
function durationFlag(v: string | undefined, name: string, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  let s: number;
  try {
    s = parseDuration(v);
  } catch (err) {
    throw new UsageError(`--${name}: ${(err as Error).message}`);
  }
  if (!(s >= min && s <= max)) throw new UsageError(`--${name}: "${v}" must be from ${min}s to ${max}s`);
  return s;
}

export const demoCommand: CommandSpec = {
  name: 'demo',
  summary:
    'Show lpm end to end on this machine: an emulated 4-node overlay, agents measuring it, the extender scheduling example pods, and a web page.',
  usage: 'demo [--mode lab|sim] [--port N] [--exit-after-first-decisions] [--log-level LEVEL]',
  flags: {
    mode: { type: 'string', description: 'lab (network namespaces, needs root) or sim (configured links); default: lab when possible', value: 'MODE' },
    port: { type: 'string', description: 'extender and web page port on 127.0.0.1 (0: any free port)', default: '8888', value: 'N' },
    'exit-after-first-decisions': { type: 'boolean', description: 'exit after printing the example placements (CI smoke test)' },
    lab: { type: 'string', description: 'lab name (prefix of namespaces and links)', default: DEMO_LAB, value: 'NAME' },
    topology: { type: 'string', description: 'topology file', value: 'FILE' },
    kube: { type: 'boolean', description: 'lab mode: place the pods through the real kube-schedulers (fail without the Kubernetes binaries)' },
    'no-kube': { type: 'boolean', description: 'lab mode: place the pods by calling the extender, even when the Kubernetes binaries are found' },
    'kube-bin': { type: 'string', description: 'folder of kube-apiserver and kube-scheduler (else LPM_KUBE_BIN, PATH, ../shared/k8s/bin)', value: 'DIR' },
    'sweep-timeout': { type: 'string', description: 'how long to wait for the first full measurement sweep', default: '90s', value: 'DURATION' },
    'log-level': { ...LOG_LEVEL_FLAG, default: 'warn' },
  },
  details: `Nothing is installed: run "bash scripts/setup.sh" first (the README's demo command does).
Lab mode brings up the overlay of scenarios/topologies/demo.yaml in network namespaces, an
agent per node (real ping and iperf3 over emulated links), the extender with the direct source,
and Prometheus when it is installed. When the Kubernetes binaries are found (--kube-bin,
LPM_KUBE_BIN, PATH, ../shared/k8s/bin) the lab also runs a control plane and the example pods are
Pod objects placed by the real lpm-scheduler (kube-scheduler + the lab's lpm extender); each
placement prints kube-scheduler's event (Scheduled, or FailedScheduling with the reason). Without root or network namespaces the same flow runs in
sim mode on the configured links. Ctrl-C (or SIGTERM) stops and removes everything.`,
  async run(args) {
    const mode = str(args, 'mode');
    if (mode !== undefined && mode !== 'lab' && mode !== 'sim') throw new UsageError(`--mode: "${mode}" must be lab or sim`);
    if (bool(args, 'kube') && bool(args, 'no-kube')) throw new UsageError('--kube and --no-kube: give one');
    const port = intFlag(str(args, 'port'), 'port', 8888, 0, 65535);
    const sweepTimeout = durationFlag(str(args, 'sweep-timeout'), 'sweep-timeout', 90, 1, 3600);
    const level = str(args, 'log-level') ?? 'warn';
    const logger = createLogger('demo', level);
    // the extender warns while the agents start (no answer yet): keep that out of the demo's output
    const extenderLogger = createLogger('extender', level === 'warn' ? 'error' : level);
    try {
      return await runDemo({
        ...(mode ? { mode } : {}),
        port,
        lab: str(args, 'lab') ?? DEMO_LAB,
        topologyFile: str(args, 'topology') ?? demoTopologyFile(),
        exitAfterFirstDecisions: bool(args, 'exit-after-first-decisions'),
        ...(bool(args, 'kube') ? { kube: true } : bool(args, 'no-kube') ? { kube: false } : {}),
        ...(str(args, 'kube-bin') ? { kubeBin: str(args, 'kube-bin')! } : {}),
        sweepTimeoutMs: Math.round(sweepTimeout * 1000),
        logger,
        extenderLogger,
        out: (text) => process.stdout.write(text + '\n'),
      });
    } finally {
      logger.flush();
      extenderLogger.flush();
    }
  },
};
