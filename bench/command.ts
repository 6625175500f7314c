// `npm run bench -- [--quick] [--out FILE] [--doc-only] [--emulator-only]`: the extender at cluster
// scale against a baseline, the scoring alone, the matrix refresh, an idle agent and the lab
// emulator's capacity; tables on stdout, JSON in a file, and after a full run the tables of
// docs/benchmarks.md regenerated from that JSON.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bool, str, type CommandSpec } from '../src/cli/command.js';
import { emulatorTable, updateDoc } from './docTables.js';
import { runEmulatorCapacity } from './emulatorCapacity.js';
import { gitCommit, report, writeResult, type BenchResult } from './reporter.js';
import { FULL, QUICK, runBench } from './run.js';

// dist/bench/command.js or bench/command.ts: the repository root is two levels up from the
// compiled file, one from the source.
function repoRoot(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  return here.includes('/dist/') ? fileURLToPath(new URL('../../', import.meta.url)) : fileURLToPath(new URL('../', import.meta.url));
}

const DEFAULT_OUT = 'bench/results/latest.json';
const DOC = 'docs/benchmarks.md';

export const benchCommand: CommandSpec = {
  name: 'bench',
  summary: 'Benchmark the extender (100/1000/5000 nodes, both modes, vs a baseline), scoring, matrix refresh and an idle agent.',
  usage: 'bench -- [--quick] [--out FILE] [--doc-only] [--emulator-only]',
  flags: {
    quick: { type: 'boolean', description: 'a small, fast run (smoke test; numbers not meaningful; the doc is left alone)' },
    // no `default:` here: parseArgs would fill it in, and the default is relative to the repository root, not the cwd
    out: { type: 'string', value: 'FILE', description: `where to write the JSON result, with --doc-only where to read it (default: ${DEFAULT_OUT})` },
    'doc-only': { type: 'boolean', description: `measure nothing: regenerate the tables of ${DOC} from the JSON result` },
    'emulator-only': {
      type: 'boolean',
      description: 'measure only the lab emulator\'s capacity (needs root) and put it into the existing JSON result; the other parts keep theirs',
    },
  },
  details: `Runs on loopback and, for the agent part, in a network namespace of its own (needs root;
skipped with a reason otherwise), and with kube-apiserver and kube-scheduler ($LPM_KUBE_BIN,
or ../shared/k8s/bin) and etcd, a real kube-scheduler at 1000 and 5000 nodes (skipped with a
reason without them). The full run takes tens of minutes on 2 cores (most of it creating the
150 000 pods and the 1000-node mesh's matrix); do not run other heavy work meanwhile. A full run writing ${DEFAULT_OUT} also rewrites the part of ${DOC}
between <!-- bench-results:begin --> and <!-- bench-results:end -->; ${DOC} explains every column.`,
  async run(args) {
    const root = repoRoot();
    const outArg = str(args, 'out');
    const out = outArg === undefined ? join(root, DEFAULT_OUT) : resolve(outArg);
    const doc = join(root, DOC);
    if (bool(args, 'doc-only')) {
      await updateDoc(doc, out);
      process.stderr.write(`wrote ${doc} from ${out}\n`);
      return 0;
    }
    const profile = bool(args, 'quick') ? QUICK : FULL;
    if (bool(args, 'emulator-only')) {
      const previous = JSON.parse(await readFile(out, 'utf8')) as BenchResult;
      // the rest of the result keeps its commit; this part says its own
      const emulator = { ...(await runEmulatorCapacity(profile.emulator, (line) => process.stderr.write(`${line}\n`))), ...(await gitCommit(root)) };
      const keep = previous.targets.filter((t) => !(previous.emulator?.targets ?? []).some((e) => e.target === t.target));
      const result: BenchResult = { ...previous, emulator, targets: [...keep, ...(emulator.targets ?? [])] };
      process.stdout.write(`${emulatorTable(result)}\n`);
      await writeResult(out, result);
      process.stderr.write(`wrote ${out}\n`);
      if (out === join(root, DEFAULT_OUT)) {
        await updateDoc(doc, out);
        process.stderr.write(`wrote ${doc}\n`);
      }
      return 0;
    }
    const result = await runBench(profile, { root, log: (line) => process.stderr.write(`${line}\n`) });
    process.stdout.write(report(result));
    await writeResult(out, result);
    process.stderr.write(`wrote ${out}\n`);
    // Only a full run into the file the doc is generated from updates the doc: the unit test
    // test/unit/bench-doc-tables.test.ts checks the two agree.
    if (profile === FULL && out === join(root, DEFAULT_OUT)) {
      await updateDoc(doc, out);
      process.stderr.write(`wrote ${doc}\n`);
    } else {
      process.stderr.write(`${DOC} left as it is (${profile === FULL ? `--out is not ${DEFAULT_OUT}` : 'quick run'})\n`);
    }
    return 0;
  },
};
