// `lpm scenario run FILE... [--mode sim|lab|cluster] [--out DIR]`: places each scenario's pods
// through the real extender and checks its expectations; exit 1 when one fails. `scenario serve`
// is internal: the request/response service lab mode starts for each placed pod.
import { bool, LOG_LEVEL_FLAG, str, UsageError, type CommandSpec } from '../../src/cli/command.js';
import { ConfigError } from '../../src/config/loadYaml.js';
import { createLogger } from '../../src/log.js';
import { SCENARIO_MODES, type ScenarioMode } from '../scenarioFile.js';
import { parseDuration } from '../../src/units.js';
import type { ScenarioResult } from './result.js';

const DETAILS = `Modes:
  sim      (default) link metrics computed from the topology; the real extender over HTTP; no root
  lab      brings the topology up as an emulated overlay with agents (root), places pods on the
           measured links, then runs the traffic for three placements (lpm, netmarks, default)
           and reports p50/p95 response time and inter-node bytes. When the Kubernetes binaries
           are found (--kube-bin, LPM_KUBE_BIN, PATH, ../shared/k8s/bin) the lab runs a control
           plane and the real kube-schedulers place Pod objects: default = default-scheduler,
           lpm = lpm-scheduler + the extender, netmarks = lpm-scheduler + the extender with
           NetMARKS-style scoring; the pods' workloads run where they were bound. --kube
           insists on that path, --no-kube never takes it (the runner calls the extender)
  cluster  creates the pods in the cluster of KUBECONFIG with the scenario's schedulerName,
           reads where they went, deletes them

Results (text, JSON, HTML) go to --out DIR when given. Exit code: 0 when every expectation
holds, 1 when one fails, 2 on a usage or scenario file error.

Example:
  lpm scenario run scenarios/netmarks-farm.yaml scenarios/ring-chain.yaml
  lpm scenario run scenarios/ring-chain.yaml --mode lab --out test/artifacts/scenarios`;

export const scenarioCommand: CommandSpec = {
  name: 'scenario',
  summary: 'run scenario files: place pods through the extender and check where they went',
  usage: 'scenario run FILE... [--mode sim|lab|cluster] [--out DIR] [--kube | --no-kube] [--repeat N]',
  details: DETAILS,
  allowPositionals: true,
  flags: {
    mode: { type: 'string', description: 'sim, lab or cluster', default: 'sim', value: 'MODE' },
    out: { type: 'string', description: 'write NAME.MODE.json, .txt and .html (SVG, A/B table) here', value: 'DIR' },
    lab: { type: 'string', description: 'lab mode: lab name (default: the topology name)', value: 'NAME' },
    duration: { type: 'string', description: 'lab mode: measured time per placement (overrides traffic.duration)', value: 'DURATION' },
    kubeconfig: { type: 'string', description: 'cluster mode: kubeconfig (default: KUBECONFIG, ~/.kube/config)', value: 'FILE' },
    kube: { type: 'boolean', description: 'lab mode: place through the real kube-schedulers (fail if the binaries are missing)' },
    'no-kube': { type: 'boolean', description: 'lab mode: place by calling the extender, even when the Kubernetes binaries are found' },
    'kube-bin': { type: 'string', description: 'lab mode: folder of kube-apiserver and kube-scheduler (else LPM_KUBE_BIN, PATH)', value: 'DIR' },
    repeat: { type: 'string', description: 'lab mode: measure each placement N times; the table shows the median and min–max', value: 'N' },
    spec: { type: 'string', description: 'serve (internal): the service spec as JSON', value: 'JSON' },
    'spec-file': { type: 'string', description: 'serve (internal): wait for the service spec in this file', value: 'FILE' },
    'log-level': { ...LOG_LEVEL_FLAG, default: 'warn' },
  },
  async run(args) {
    const [sub, ...files] = args.positionals;
    if (sub === 'serve') {
      const { serveFromSpec } = await import('./service.js');
      return serveFromSpec(str(args, 'spec'), str(args, 'spec-file'));
    }
    if (sub !== 'run') throw new UsageError(`${sub === undefined ? 'missing' : `unknown`} subcommand${sub ? ` "${sub}"` : ''}: use "lpm scenario run FILE..."`);
    if (files.length === 0) throw new UsageError('no scenario file: lpm scenario run FILE...');
    const mode = str(args, 'mode') ?? 'sim';
    if (!(SCENARIO_MODES as readonly string[]).includes(mode)) throw new UsageError(`--mode: "${mode}" is not one of ${SCENARIO_MODES.join(', ')}`);
    let duration: number | undefined;
    const d = str(args, 'duration');
    if (d !== undefined) {
      try {
        duration = parseDuration(d);
      } catch (err) {
        throw new UsageError(`--duration: ${(err as Error).message}`);
      }
    }
    if (bool(args, 'kube') && bool(args, 'no-kube')) throw new UsageError('--kube and --no-kube: give one');
    const repeatText = str(args, 'repeat');
    const repeat = repeatText === undefined ? 1 : Number(repeatText);
    if (!Number.isInteger(repeat) || repeat < 1 || repeat > 100) throw new UsageError(`--repeat: "${repeatText}" is not a whole number from 1 to 100`);
    // loaded here, so `scenario serve` (one process per lab pod) starts without the extender
    const { runScenarioFile } = await import('./run.js');
    const { writeResults } = await import('./output.js');
    const { formatResult } = await import('./result.js');
    const level = str(args, 'log-level') ?? 'warn';
    const logger = createLogger('scenario', level);
    const progress = (line: string) => process.stderr.write(line + '\n');
    const results: ScenarioResult[] = [];
    let failed = 0;
    let broken = 0;
    for (const file of files) {
      try {
        const r = await runScenarioFile(file, {
          mode: mode as ScenarioMode,
          progress,
          logger,
          ...(str(args, 'lab') ? { labName: str(args, 'lab')! } : {}),
          ...(duration !== undefined ? { duration } : {}),
          ...(str(args, 'kubeconfig') ? { kubeconfig: str(args, 'kubeconfig')! } : {}),
          ...(bool(args, 'kube') ? { kube: true } : bool(args, 'no-kube') ? { kube: false } : {}),
          ...(str(args, 'kube-bin') ? { kubeBin: str(args, 'kube-bin')! } : {}),
          repeat,
        });
        results.push(r);
        process.stdout.write(formatResult(r));
        if (!r.ok) failed++;
        const out = str(args, 'out');
        if (out) {
          const written = await writeResults(r, out);
          progress(`  wrote ${written.join(', ')}`);
        }
      } catch (err) {
        broken++;
        const msg = err instanceof ConfigError ? err.message : `${file}: ${(err as Error).message}`;
        process.stderr.write(`lpm scenario: ${msg}\n`);
      }
    }
    if (files.length > 1)
      process.stdout.write(
        `${results.filter((r) => r.ok).length} passed, ${failed} failed${broken ? `, ${broken} could not run` : ''} (of ${files.length})\n`,
      );
    if (broken) return 2;
    return failed ? 1 : 0;
  },
};
