// Lab mode's workload for one placement: each placed pod of the call graph becomes a service
// process in its node's namespace (listening on a port of its own; callees reached on their
// node's overlay address, so calls between nodes cross the emulated links), clients call the
// entry from the root namespace (its node's underlay address: no emulated link, like an
// ingress), and the emulator's per-link byte counters are read around the measured window.
import { execa, type ResultPromise } from 'execa';
import type { ScenarioTraffic } from '../scenarioFile.js';
import { emulatorUrl } from '../lab/lab.js';
import { lpmBin } from '../lab/paths.js';
import type { PlannedNode } from '../lab/plan.js';
import type { LabState } from '../lab/state.js';
import type { EmulatorReport } from '../lab/emulator.js';
import { runLoad } from './load.js';
import { mean, percentile } from './percentiles.js';
import type { Progress } from './placementRun.js';
import type { WorkloadMeasurement } from './result.js';
import type { ServiceSpec } from './service.js';

/** First port of the pod services; pod i (arrival order) listens on BASE_PORT + i. */
export const BASE_PORT = 18100;

export interface WorkloadInput {
  state: LabState;
  traffic: ScenarioTraffic;
  /** Pod ids in arrival order (gives the ports). */
  pods: readonly string[];
  nodeOf: ReadonlyMap<string, string | null>;
  progress: Progress;
  /**
   * Starts the services (default: `ip netns exec NODE lpm scenario serve --spec` children of this
   * process). Lab mode through kube-scheduler hands the specs to the pods' lab commands instead.
   * Resolves once every service listens; the returned function stops them.
   */
  startServices?: (specs: Array<ServiceSpec & { node: string }>) => Promise<() => Promise<void>>;
}

/** The service spec of every pod in the call graph; calls to unplaced pods are left out. */
export function serviceSpecs(
  traffic: ScenarioTraffic,
  pods: readonly string[],
  nodeOf: ReadonlyMap<string, string | null>,
  nodes: readonly PlannedNode[],
): { specs: Array<ServiceSpec & { node: string }>; dropped: string[] } {
  const involved = new Set([traffic.entry, ...traffic.calls.flatMap((c) => [c.from, c.to])]);
  const port = (pod: string) => BASE_PORT + pods.indexOf(pod);
  const overlay = (node: string) => nodes.find((n) => n.name === node)!.overlayAddress;
  const dropped: string[] = [];
  const specs: Array<ServiceSpec & { node: string }> = [];
  for (const pod of pods) {
    if (!involved.has(pod)) continue;
    const node = nodeOf.get(pod);
    if (!node) continue;
    const callees = traffic.calls
      .filter((c) => c.from === pod)
      .flatMap((c) => {
        const to = nodeOf.get(c.to);
        if (!to) {
          dropped.push(`${c.from} -> ${c.to} (${c.to} is not placed)`);
          return [];
        }
        return [{ pod: c.to, url: `http://${overlay(to)}:${port(c.to)}/`, request: c.request, response: c.response }];
      });
    specs.push({ pod, node, host: '0.0.0.0', port: port(pod), callees });
  }
  return { specs, dropped };
}

async function linkCounters(state: LabState): Promise<Map<string, number>> {
  const res = await fetch(`${emulatorUrl(state)}/api/v1/emulated-links`, { signal: AbortSignal.timeout(3000) });
  if (!res.ok) throw new Error(`emulator /api/v1/emulated-links: HTTP ${res.status}`);
  const report = (await res.json()) as EmulatorReport;
  return new Map(report.links.map((l) => [`${l.source}->${l.target}`, l.counters.bytes]));
}

function waitReady(child: ResultPromise, pod: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`service ${pod} did not start in ${timeoutMs} ms: ${out.trim()}`)), timeoutMs);
    const onData = (c: Buffer) => {
      out += c.toString();
      if (/^ready \d+$/m.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    child.then(
      (r) => {
        clearTimeout(timer);
        reject(new Error(`service ${pod} exited (${r.exitCode}): ${out.trim()}`));
      },
      (err: Error) => {
        clearTimeout(timer);
        reject(new Error(`service ${pod} failed: ${err.message.split('\n')[0]} ${out.trim()}`));
      },
    );
  });
}

export async function measureWorkload(w: WorkloadInput): Promise<WorkloadMeasurement> {
  const { state, traffic } = w;
  const { specs, dropped } = serviceSpecs(traffic, w.pods, w.nodeOf, state.plan.nodes);
  for (const d of dropped) w.progress(`    call left out: ${d}`);
  const entryNode = w.nodeOf.get(traffic.entry);
  if (!entryNode) throw new Error(`the entry pod ${traffic.entry} is not placed`);
  let stopServices: (() => Promise<void>) | undefined;
  try {
    stopServices = await (w.startServices ?? ((x) => startChildServices(state, x)))(specs);
    const entry = state.plan.nodes.find((n) => n.name === entryNode)!;
    const url = `http://${entry.underlayAddress}:${BASE_PORT + w.pods.indexOf(traffic.entry)}/`;
    let before = new Map<string, number>();
    const load = await runLoad({
      url,
      clients: traffic.clients,
      warmup: traffic.warmup,
      duration: traffic.duration,
      request: traffic.request,
      response: traffic.response,
      onMeasureStart: async () => {
        before = await linkCounters(state);
      },
    });
    const after = await linkCounters(state);
    const linkBytes: Record<string, number> = {};
    let interNodeBytes = 0;
    for (const [k, v] of after) {
      const d = v - (before.get(k) ?? 0);
      if (d > 0) linkBytes[k] = d;
      interNodeBytes += Math.max(0, d);
    }
    const remoteCalls = traffic.calls.filter((c) => {
      const a = w.nodeOf.get(c.from);
      const b = w.nodeOf.get(c.to);
      return a && b && a !== b;
    }).length;
    if (load.latencies.length === 0)
      throw new Error(`no request completed (${load.errors} errors${load.firstError ? `, first: ${load.firstError}` : ''})`);
    return {
      requests: load.latencies.length,
      errors: load.errors,
      p50: percentile(load.latencies, 50),
      p95: percentile(load.latencies, 95),
      mean: mean(load.latencies),
      interNodeBytes,
      bytesPerRequest: Math.round(interNodeBytes / load.latencies.length),
      linkBytes,
      remoteCalls,
      calls: traffic.calls.length,
      seconds: traffic.duration,
    };
  } finally {
    await stopServices?.();
  }
}

/** The services as children of this process, each in its node's namespace. */
async function startChildServices(state: LabState, specs: Array<ServiceSpec & { node: string }>): Promise<() => Promise<void>> {
  const bin = lpmBin();
  const children: ResultPromise[] = [];
  const stop = async () => {
    for (const c of children) c.kill('SIGTERM');
    await Promise.allSettled(children.map((c) => Promise.race([c, new Promise((r) => setTimeout(r, 3000))])));
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  };
  try {
    for (const spec of specs) {
      const node = state.plan.nodes.find((n) => n.name === spec.node)!;
      const { node: _n, ...wire } = spec;
      const child = execa('ip', ['netns', 'exec', node.netns, process.execPath, bin, 'scenario', 'serve', '--spec', JSON.stringify(wire)], {
        buffer: false,
        stdin: 'ignore',
        reject: false,
      });
      children.push(child);
      await waitReady(child, spec.pod, 15_000);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return stop;
}
