// The child process of matrixScaleCase.ts: the extender's `prometheus` source and matrix cache,
// refreshed `refreshes` times from the stand-in Prometheus, then measured (see there).
// IPC: parent -> ChildRequest; child -> ChildReply, then exits.
import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { PrometheusSource } from '../extender/sources/prometheus.js';
import { MatrixCache } from '../extender/sources/source.js';
import { DEFAULT_SCORING, evaluate } from '../extender/scoring/scoring.js';
import type { ChildReply, ChildRequest } from './matrixScaleCase.js';

const mib = (b: number) => Math.round(b / 2 ** 20);

function peakRssMiB(): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

async function measure(req: ChildRequest): Promise<ChildReply> {
  const source = new PrometheusSource({ url: req.url, interval: 3600, timeout: req.timeoutSeconds });
  const cache = new MatrixCache(source, { timeout: req.timeoutSeconds });
  const refreshSeconds: number[] = [];
  for (let i = 0; i < req.refreshes; i++) {
    const t = performance.now();
    if (!(await cache.refresh())) return { type: 'error', message: `refresh failed: ${cache.lastError?.message ?? 'unknown'}` };
    refreshSeconds.push((performance.now() - t) / 1000);
  }
  const matrix = cache.current!.matrix;
  const nodes = matrix.nodes();
  const step = Math.max(1, Math.floor(nodes.length / 10));
  const weightByNode = new Map(nodes.filter((_, i) => i % step === 0).slice(0, 10).map((n) => [n, 1] as const));
  const run = () => {
    const t = performance.now();
    evaluate({ candidates: nodes, peers: { peers: [], unplaced: [], weightByNode, warnings: [] }, limits: { warnings: [] }, matrix, now: Date.now() / 1000, config: DEFAULT_SCORING });
    return performance.now() - t;
  };
  const first = run();
  const next = run();
  (globalThis as { gc?: () => void }).gc?.();
  const mem = process.memoryUsage();
  return {
    type: 'result',
    links: matrix.size,
    refreshSeconds,
    rssMiB: mib(mem.rss),
    peakRssMiB: peakRssMiB(),
    heapMiB: mib(mem.heapUsed),
    heapLimitMiB: mib(getHeapStatistics().heap_size_limit),
    evaluateMs: { first, next },
  };
}

process.once('message', (req: ChildRequest) => {
  measure(req).then(
    (r) => process.send!(r, () => process.exit(0)),
    (err: unknown) => process.send!({ type: 'error', message: (err as Error).stack ?? String(err) }, () => process.exit(0)),
  );
});
process.on('disconnect', () => process.exit(0));
