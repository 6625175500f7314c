// `lpm scenario run FILE... [--mode sim|lab|cluster] [--out DIR]`: places each scenario's pods
// through the real extender and checks its expectations; exit 1 when one fails. `scenario serve`
// is internal: the request/response service lab mode starts for each placed pod.
import { LOG_LEVEL_FLAG, str, UsageError, type CommandSpec } from '../../src/cli/command.js';
import { ConfigError } from '../../src/config/loadYaml.js';
import { createLogger } from '../../src/log.js';
import { SCENARIO_MODES, type ScenarioMode } from '../scenarioFile.js';
import { parseDuration } from '../../src/units.js';
import type { ScenarioResult } from './result.js';

const DETAILS = `Modes:
  sim      (default) link metrics computed from the topology; the real extender over HTTP; no root
  lab      brings the topology up as an emulated overlay with agents (root), places pods on the
           measured links, then runs the traffic for three placements (lpm, netmarks, default)
           and reports p50/p95 response time and inter-node bytes
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
  usage: 'scenario run FILE... [--mode sim|lab|cluster] [--out DIR]',
  details: DETAILS,
  allowPositionals: true,
  flags: {
    mode: { type: 'string', description: 'sim, lab or cluster', default: 'sim', value: 'MODE' },
    out: { type: 'string', description: 'write NAME.MODE.json, .txt and .html (SVG, A/B table) here', value: 'DIR' },
    lab: { type: 'string', description: 'lab mode: lab name (default: the topology name)', value: 'NAME' },
    duration: { type: 'string', description: 'lab mode: measured time per placement (overrides traffic.duration)', value: 'DURATION' },
    kubeconfig: { type: 'string', description: 'cluster mode: kubeconfig (default: KUBECONFIG, ~/.kube/config)', value: 'FILE' },
    spec: { type: 'string', description: 'serve (internal): the service spec as JSON', value: 'JSON' },
    'log-level': { ...LOG_LEVEL_FLAG, default: 'warn' },
  },
  async run(args) {
    const [sub, ...files] = args.positionals;
    if (sub === 'serve') {
      const { serveFromSpec } = await import('./service.js');
      return serveFromSpec(str(args, 'spec'));
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
