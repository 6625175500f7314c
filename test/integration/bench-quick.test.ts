// `npm run bench -- --quick` end to end (needs npm run build): the real CLI runs every part of the
// benchmark small, and its JSON result must be complete and well-formed. Speed is never asserted.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingCapabilities, netns, requireInCI } from '../helpers/capability.js';
import type { BenchResult } from '../../bench/reporter.js';
import { QUICK } from '../../bench/run.js';

const ROOT = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'lpm-bench-quick-'));
const out = join(dir, 'result.json');
let result: BenchResult;
let stdout = '';
let canNetns = false;

beforeAll(async () => {
  // Without network namespaces the benchmark says why it skips the agent; with CI=true that fails.
  canNetns = requireInCI('bench --quick measuring the agent in its own namespace', await missingCapabilities([netns()]));
  const r = await execa(process.execPath, [join(ROOT, 'dist/bench/main.js'), '--quick', '--out', out], {
    cwd: ROOT,
    reject: false,
    timeout: 420_000,
  });
  stdout = r.stdout;
  if (r.exitCode !== 0) throw new Error(`bench --quick exited ${r.exitCode}: ${r.stderr.slice(-2000)}`);
  result = JSON.parse(readFileSync(out, 'utf8')) as BenchResult;
}, 480_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const positive = (v: number) => {
  expect(Number.isFinite(v)).toBe(true);
  expect(v).toBeGreaterThan(0);
};

describe('bench --quick', () => {
  it('records the machine it ran on', () => {
    expect(result.profile).toBe('quick');
    expect(result.machine.cpuModel).not.toBe('');
    positive(result.machine.cores);
    positive(result.machine.memoryGiB);
    expect(result.machine.node).toMatch(/^v\d+/);
    expect(Number.isNaN(Date.parse(result.machine.date))).toBe(false);
  });

  it('has every HTTP case (size x peers x mode x verb), each with finite positive numbers and its ratios', () => {
    const want = QUICK.sizes.flatMap((nodes) =>
      QUICK.peerCounts.flatMap((peers) =>
        (['nodeNames', 'nodeList'] as const).flatMap((mode) => (['prioritize', 'filter'] as const).map((verb) => `${nodes}/${peers}/${mode}/${verb}`)),
      ),
    );
    expect(result.http.map((c) => `${c.nodes}/${c.peers}/${c.mode}/${c.verb}`).sort()).toEqual(want.sort());
    for (const c of result.http) {
      for (const t of [c.extender, c.baseline]) {
        for (const v of [t.p50, t.p99, t.requestsPerSecond, t.responseBytes]) positive(v);
        expect(t.p99).toBeGreaterThanOrEqual(t.p50);
        expect(t.latencyRequests).toBeGreaterThanOrEqual(QUICK.http.minRequests);
        expect(t.throughputRequests).toBeGreaterThanOrEqual(QUICK.http.minRequests);
      }
      positive(c.requestBytes);
      expect(c.throughputRatio).toBeCloseTo(c.extender.requestsPerSecond / c.baseline.requestsPerSecond, 10);
      expect(c.p99Ratio).toBeCloseTo(c.extender.p99 / c.baseline.p99, 10);
    }
    // NodeList bodies carry the Node objects (~4 KB each); NodeNames bodies only the names
    const big = result.http.find((c) => c.mode === 'nodeList' && c.nodes === QUICK.sizes.at(-1));
    const small = result.http.find((c) => c.mode === 'nodeNames' && c.nodes === QUICK.sizes.at(-1));
    expect(big!.requestBytes).toBeGreaterThan(3000 * big!.nodes);
    expect(small!.requestBytes).toBeLessThan(big!.requestBytes / 10);
  });

  it('has the scoring cases without HTTP at every size and peer count', () => {
    expect(result.scoring.map((s) => `${s.nodes}/${s.peers}`).sort()).toEqual(
      QUICK.sizes.flatMap((n) => QUICK.peerCounts.map((p) => `${n}/${p}`)).sort(),
    );
    for (const s of result.scoring)
      for (const l of [s.scoring, s.prioritizeHandler, s.filterHandler]) {
        positive(l.opsPerSecond);
        positive(l.ops);
      }
  });

  it('measures the matrix refresh', () => {
    const m = result.matrixRefresh;
    expect(m.nodes).toBe(QUICK.matrixRefresh.nodes);
    expect(m.links).toBe(QUICK.matrixRefresh.nodes * QUICK.matrixRefresh.peers);
    for (const v of [m.samples, m.answerBytes, m.parseMs, m.validateMs, m.buildMs, m.totalMs, m.runs]) positive(v);
  });

  it('measures the link matrix at scale in a process of its own', () => {
    expect(result.matrixScale!.map((m) => `${m.nodes}x${m.peers}`)).toEqual(QUICK.matrixScale.shapes.map((s) => `${s.nodes}x${s.peers}`));
    for (const m of result.matrixScale!) {
      expect(m.error).toBeUndefined();
      expect(m.links).toBe(m.nodes * m.peers);
      expect(m.refreshSeconds).toHaveLength(QUICK.matrixScale.refreshes);
      for (const v of [...m.refreshSeconds!, m.rssMiB!, m.peakRssMiB!, m.heapMiB!, m.evaluateMs!.first, m.evaluateMs!.next]) positive(v);
    }
  });

  it('runs a real kube-scheduler without and with the extender (or says why not)', () => {
    expect(result.kubeScheduler!.map((k) => k.nodes)).toEqual(QUICK.kubeScheduler.sizes);
    for (const k of result.kubeScheduler!) {
      if (k.skipped) {
        expect(k.skipped).toMatch(/kube-apiserver|etcd|LPM_KUBE_BIN/);
        continue;
      }
      for (const run of [k.without!, k.noop!, k.with!]) {
        expect(run.bound).toBe(QUICK.kubeScheduler.pending);
        positive(run.podsPerSecond);
        expect(run.t90).toBeGreaterThanOrEqual(run.t10);
      }
      expect(k.ratio).toBeCloseTo(k.with!.podsPerSecond / k.without!.podsPerSecond, 10);
      const e = k.extender!;
      // every pod went through the extender: one filter and (more than one node passing) one prioritize
      expect(e.filterCalls).toBe(QUICK.kubeScheduler.pending);
      expect(e.prioritizeCalls).toBe(QUICK.kubeScheduler.pending);
      expect(e.reused + e.computed).toBe(e.prioritizeCalls);
      for (const v of [e.msPerPod, e.filterMs, e.prioritizeMs, e.rssMiB, e.peakRssMiB]) positive(v);
      // the extender steers pods towards their peers (the scheduler alone does not know them)
      expect(k.with!.onBestNodes).toBeGreaterThan(k.without!.onBestNodes);
    }
    expect(stdout).toContain('### A real kube-scheduler, without and with the extender');
  });

  it('measures the idle agent in its own namespace (or says why not)', () => {
    expect(result.agent.targets).toBe(100);
    if (!canNetns) {
      expect(result.agent.skipped).toMatch(/root|namespace/);
      return;
    }
    expect(result.agent.skipped).toBeUndefined();
    expect(Number.isFinite(result.agent.cpuPercent)).toBe(true);
    expect(result.agent.cpuPercent).toBeGreaterThanOrEqual(0);
    positive(result.agent.rssMiB!.min);
    expect(result.agent.rssMiB!.max).toBeGreaterThanOrEqual(result.agent.rssMiB!.min);
  });

  it('prints the tables and leaves no namespace behind', async () => {
    expect(stdout).toContain('| nodes | peers | mode | verb |');
    expect(stdout).toContain('### Matrix refresh');
    const { stdout: ns } = await execa('ip', ['netns', 'list'], { reject: false });
    expect(ns).not.toMatch(/lpmbench/);
  });
});
