// /filter and /prioritize over HTTP on loopback, extender vs baseline, with the same bodies.
// Each target gets two passes: latency with one request at a time (kube-scheduler calls an
// extender once per scheduling cycle, one cycle at a time: that p50/p99 is what it waits) and
// throughput with `concurrency` connections (the server's capacity). The server runs in a child
// process (serverProcess.ts) so the load generator does not steal its event loop.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Cluster, ClusterBodies, ClusterSpec } from './cluster.js';
import { requestBody } from './cluster.js';
import { runLoad, type LoadResult } from './loadGenerator.js';
import type { ServerReady } from './serverProcess.js';

export type Mode = 'nodeNames' | 'nodeList';
export type Verb = 'prioritize' | 'filter';

export interface TargetResult {
  /** Latency pass (concurrency 1), milliseconds. */
  p50: number;
  p99: number;
  latencyRequests: number;
  /** Throughput pass (or the latency pass, for a case too slow for a second pass: concurrency 1). */
  requestsPerSecond: number;
  throughputRequests: number;
  throughputConcurrency: number;
  responseBytes: number;
}

export interface HttpCaseResult {
  nodes: number;
  peers: number;
  mode: Mode;
  verb: Verb;
  requestBytes: number;
  extender: TargetResult;
  baseline: TargetResult;
  /** extender / baseline: below 1 means the extender serves fewer requests per second. */
  throughputRatio: number;
  /** extender / baseline: above 1 means the extender is slower. */
  p99Ratio: number;
}

export interface HttpRunOptions {
  concurrency: number;
  /** Per pass and target. */
  durationMs: number;
  minRequests: number;
  warmup: number;
}

export interface ServerHandle {
  ready: ServerReady;
  stop(): Promise<void>;
}

/** Forks serverProcess.js and waits for its URLs. */
export async function startServers(spec: ClusterSpec): Promise<ServerHandle> {
  const entry = fileURLToPath(new URL('./serverProcess.js', import.meta.url));
  // LPM_BENCH_SERVER_ARGS adds node flags to the server process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  const extra = process.env.LPM_BENCH_SERVER_ARGS?.split(' ').filter(Boolean) ?? [];
  const child: ChildProcess = fork(entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--no-warnings', ...extra] });
  const ready = await new Promise<ServerReady>((resolve, reject) => {
    child.once('message', (m: ServerReady | { type: 'error'; message: string }) =>
      m.type === 'ready' ? resolve(m) : reject(new Error(`bench server: ${m.message}`)),
    );
    child.once('exit', (code) => reject(new Error(`bench server exited (${code}) before it was ready`)));
    child.send({ type: 'start', spec });
  });
  return {
    ready,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// A case slower than this per request (20 MB NodeList bodies) gets no separate throughput pass:
// one single-threaded server is saturated by one client already, and the run stays under 5 min.
const SLOW_CASE_MS = 250;

async function measure(url: string, path: string, body: string, o: HttpRunOptions, single?: boolean): Promise<TargetResult> {
  const lat: LoadResult = await runLoad({ url, path, body, concurrency: 1, durationMs: o.durationMs, minRequests: o.minRequests, warmup: o.warmup });
  if (single ?? lat.p50 > SLOW_CASE_MS)
    return {
      p50: lat.p50,
      p99: lat.p99,
      latencyRequests: lat.requests,
      requestsPerSecond: lat.requestsPerSecond,
      throughputRequests: lat.requests,
      throughputConcurrency: 1,
      responseBytes: lat.responseBytes,
    };
  const thr: LoadResult = await runLoad({
    url,
    path,
    body,
    concurrency: o.concurrency,
    durationMs: o.durationMs,
    minRequests: o.minRequests,
    warmup: 0,
  });
  return {
    p50: lat.p50,
    p99: lat.p99,
    latencyRequests: lat.requests,
    requestsPerSecond: thr.requestsPerSecond,
    throughputRequests: thr.requests,
    throughputConcurrency: o.concurrency,
    responseBytes: lat.responseBytes,
  };
}

/** Every peers × mode × verb case for one cluster size, against servers already started. */
export async function runHttpCases(
  cluster: Cluster,
  bodies: ClusterBodies,
  servers: ServerReady,
  o: HttpRunOptions,
  onCase?: (c: HttpCaseResult) => void,
): Promise<HttpCaseResult[]> {
  const out: HttpCaseResult[] = [];
  for (const pod of cluster.testPods)
    for (const mode of ['nodeNames', 'nodeList'] as const) {
      const body = requestBody(pod, bodies, mode);
      for (const verb of ['prioritize', 'filter'] as const) {
        const path = `/${verb}`;
        const extender = await measure(servers.extender, path, body, o);
        // the baseline is measured the same way as the extender was
        const baseline = await measure(servers.baseline, path, body, o, extender.throughputConcurrency === 1);
        const c: HttpCaseResult = {
          nodes: cluster.nodeNames.length,
          peers: pod.peers,
          mode,
          verb,
          requestBytes: Buffer.byteLength(body),
          extender,
          baseline,
          throughputRatio: extender.requestsPerSecond / baseline.requestsPerSecond,
          p99Ratio: extender.p99 / baseline.p99,
        };
        out.push(c);
        onCase?.(c);
      }
    }
  return out;
}
