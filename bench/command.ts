// `npm run bench -- [--quick] [--out FILE]`: the extender at cluster scale against a baseline, the
// scoring alone, the matrix refresh and an idle agent; a table on stdout, JSON in a file.
import { fileURLToPath } from 'node:url';
import { bool, str, type CommandSpec } from '../src/cli/command.js';
import { report, writeResult } from './reporter.js';
import { FULL, QUICK, runBench } from './run.js';

// dist/bench/command.js or bench/command.ts: the repository root is two levels up from the
// compiled file, one from the source.
function repoRoot(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  return here.includes('/dist/') ? fileURLToPath(new URL('../../', import.meta.url)) : fileURLToPath(new URL('../', import.meta.url));
}

export const benchCommand: CommandSpec = {
  name: 'bench',
  summary: 'Benchmark the extender (100/1000/5000 nodes, both modes, vs a baseline), scoring, matrix refresh and an idle agent.',
  usage: 'bench -- [--quick] [--out FILE]',
  flags: {
    quick: { type: 'boolean', description: 'a small, fast run (smoke test; numbers not meaningful)' },
    out: { type: 'string', value: 'FILE', description: 'where to write the JSON result', default: 'bench/results/latest.json' },
  },
  details: `Runs on loopback and, for the agent part, in a network namespace of its own (needs root;
skipped with a reason otherwise). The full run takes about 4 minutes on 2 cores; do not run
other heavy work meanwhile. The README, "Benchmarks", explains every column.`,
  async run(args) {
    const profile = bool(args, 'quick') ? QUICK : FULL;
    const out = str(args, 'out') ?? 'bench/results/latest.json';
    const result = await runBench(profile, { root: repoRoot(), log: (line) => process.stderr.write(`${line}\n`) });
    process.stdout.write(report(result));
    await writeResult(out, result);
    process.stderr.write(`wrote ${out}\n`);
    return 0;
  },
};
