// Lab mode: the scenario's topology as an emulated overlay with real agents; the same driver
// places pods on the measured links (the extenders use the `direct` source, scraping the agents);
// then each placement runs the traffic for real and is measured. Everything the run creates
// (namespaces, emulator, agents, services) is removed in `finally`.
import { DirectSource } from '../../extender/sources/direct.js';
import type { LinkMetricKey } from '../../src/linkMetrics.js';
import { podId, type Scenario } from '../scenarioFile.js';
import { agentUrl } from '../lab/agents.js';
import { netnsCapability } from '../lab/ip.js';
import { labDown, labSet, labUpTopology } from '../lab/lab.js';
import { stopProcess } from '../lab/processes.js';
import type { LabState } from '../lab/state.js';
import { measureWorkload } from './labWorkload.js';
import { waitForRemeasure, waitForSweep } from './labMeasure.js';
import { placeScenario, type PlacementRun } from './placementRun.js';
import { aggregateMeasurements, describeMeasurement, type WorkloadMeasurement } from './result.js';
import type { RunOptions } from './run.js';
import { PLACEMENT_NAMES, type PlacementName } from './variants.js';
import { locateKubeBinaries, type KubeBinaries } from '../lab/kube/binaries.js';
import { packageRoot } from '../lab/paths.js';
import { kubeArms, kubeTopology } from './kubePlacement.js';
import type { ScenarioTraffic } from '../scenarioFile.js';
import type { Progress } from './placementRun.js';
import type { Placement } from './driver.js';

export interface LabRun {
  runs: PlacementRun[];
  measurements: Record<string, WorkloadMeasurement>;
  skipped: Record<string, string>;
  notes: string[];
  /** Placed by the lab's kube-schedulers: their version ("v1.26.1"). */
  kubeScheduler?: string;
}

/** The agents' config when the topology has no `agent` section: fast RTT, bandwidth only if asked. */
export function labAgentConfig(s: Scenario): Record<string, unknown> {
  if (s.topology.agent) return s.topology.agent;
  const measurements: unknown[] = [{ type: 'rtt', interval: s.lab.rttInterval, ping: { count: 5, spacing: '100ms', timeout: '1s' } }];
  if (s.lab.measure.includes('bandwidth'))
    // the interval stretches a sweep over that many slots: keep it short so the first sweep is
    // one slot per tournament round (the agents are stopped before the workload runs anyway)
    measurements.push({ type: 'bandwidth', interval: '10s', iperf3: { duration: '2s', omit: '0s' } });
  return { measurements };
}

export async function runLab(s: Scenario, name: string, opts: RunOptions): Promise<LabRun> {
  const cap = await netnsCapability();
  if (!cap.ok) throw new Error(`lab mode ${cap.reason}`);
  const progress = opts.progress;
  const topology = { ...s.topology, name: opts.labName ?? s.topology.name, agent: labAgentConfig(s) };
  const traffic = s.traffic && opts.duration !== undefined ? { ...s.traffic, duration: opts.duration } : s.traffic;
  const notes: string[] = [];

  const kube = opts.kube === false ? undefined : await kubeBinariesFor(opts, s, notes);
  progress(`  lab ${topology.name}: bringing up ${topology.nodes.length} nodes with agents${kube ? ` and a control plane (Kubernetes ${kube.version})` : ''}`);
  const upAt = Date.now() / 1000;
  let state: LabState | undefined;
  try {
    state = await labUpTopology(kube ? kubeTopology(s, topology) : topology, `scenario ${name}`, {
      agents: true,
      ...(kube ? { kube: { binDir: kube.dir, logLevel: 'warn' } } : {}),
      ...(opts.logger ? { log: opts.logger } : {}),
    });
    const agents = state.plan.nodes.map(agentUrl);
    const probe = new DirectSource(agents, 1, 3);
    const keys: LinkMetricKey[] = ['rtt_seconds', ...(s.lab.measure.includes('bandwidth') ? (['bandwidth_bytes_per_second'] as const) : [])];
    progress(`  waiting for the agents to measure every link (${s.lab.measure.join(', ')})`);
    await waitForSweep(probe, state.plan, keys, upAt, s.lab.sweepTimeout, progress);
    progress(`  links measured after ${(Date.now() / 1000 - upAt).toFixed(1)}s; placing pods`);
    if (!s.lab.measure.includes('bandwidth')) notes.push('bandwidth was not measured in the lab: it counts as neutral (unknown) for every link');
    const repeat = Math.max(1, opts.repeat ?? 1);

    if (kube) {
      const lab = state;
      const out = await runKubeArms(lab, s, traffic, repeat, progress, notes, async () => {
        const since = Date.now() / 1000;
        await waitForSweep(probe, lab.plan, keys, since, s.lab.sweepTimeout, progress);
        await new Promise((r) => setTimeout(r, 3000)); // the extender's next scrape
      });
      return { ...out, notes, kubeScheduler: kube.version };
    }

    const labName = topology.name;
    const runs = await placeScenario(s, {
      names: PLACEMENT_NAMES,
      source: () => new DirectSource(agents, 2, 3),
      applyEvent: async (e) => {
        const at = Date.now() / 1000;
        await labSet(labName, { from: e.change.from, to: e.change.to, raw: e.change.raw, patch: e.change.patch }, e.change.both);
        // three runs: the agents' RTT is the median of their last five
        await waitForRemeasure(probe, [[e.change.from, e.change.to], [e.change.to, e.change.from]], at, Math.max(60, 10 * s.lab.rttInterval), progress);
      },
      progress,
      ...(opts.logger ? { logger: opts.logger } : {}),
      run: name,
    });

    // The agents' probes would add traffic and queueing to what we measure next.
    for (const a of state.agents) await stopProcess(a);
    const measurements: Record<string, WorkloadMeasurement> = {};
    const skipped: Record<string, string> = {};
    if (!traffic) {
      notes.push('the scenario has no traffic section: placements only, no workload measured');
    } else {
      const pods = s.pods.map(podId);
      for (const run of runs) {
        const reps: WorkloadMeasurement[] = [];
        try {
          for (let rep = 1; rep <= repeat; rep++) {
            progress(`  ${run.name}: running the workload for ${traffic.warmup}s + ${traffic.duration}s with ${traffic.clients} clients${repeat > 1 ? ` (repetition ${rep}/${repeat})` : ''}`);
            const m = await measureWorkload({ state, traffic, pods, nodeOf: run.nodeOf, progress });
            reps.push(m);
            progress(describeMeasurement(run.name, m));
          }
          measurements[run.name] = aggregateMeasurements(reps);
        } catch (err) {
          skipped[run.name] = `not measured: ${(err as Error).message}`;
          progress(`  ${run.name}: ${skipped[run.name]}`);
        }
      }
    }
    return { runs, measurements, skipped, notes };
  } finally {
    // only a lab this run created (labUpTopology removes a half-made one itself)
    if (state) {
      progress(`  lab ${topology.name}: tearing down`);
      await labDown(topology.name).catch((err: Error) => progress(`  lab ${topology.name}: teardown problem: ${err.message}`));
    }
  }
}

/**
 * The Kubernetes binaries for lab mode through kube-scheduler: with `kube: true` (--kube) they must
 * be found (--kube-bin, $LPM_KUBE_BIN, PATH, ../shared/k8s/bin next to the package); by default
 * they are used when found. A scenario with link-change events keeps the extender-call path (its
 * arms run one after another here, and the events would have to be replayed per arm).
 */
async function kubeBinariesFor(opts: RunOptions, s: Scenario, notes: string[]): Promise<KubeBinaries | undefined> {
  const required = opts.kube === true;
  if (s.events.length) {
    if (required) throw new Error('--kube: scenarios with events are placed through the extender-call path only');
    notes.push('placed by calling the extender (the kube-scheduler path does not replay events)');
    return undefined;
  }
  const found = await locateKubeBinaries(packageRoot(), { ...(opts.kubeBin ? { dir: opts.kubeBin } : {}), required });
  if (!found.bins) notes.push('placed by calling the extender as kube-scheduler does (no Kubernetes binaries found: set LPM_KUBE_BIN for the real schedulers)');
  return found.bins;
}

/**
 * The three arms through the lab's kube-schedulers, `repeat` times: place (agents running), pause
 * the agents while the workload runs, resume them and wait for fresh measurements, delete the pods.
 * The first repetition's placements are the result's (and the expectations'); a later repetition
 * that placed differently is noted.
 */
async function runKubeArms(
  state: LabState,
  s: Scenario,
  traffic: ScenarioTraffic | undefined,
  repeat: number,
  progress: Progress,
  notes: string[],
  refresh: () => Promise<void>,
): Promise<Omit<LabRun, 'notes'>> {
  const arms = await kubeArms(state, s, progress);
  const pods = s.pods.map(podId);
  const first = new Map<PlacementName, Placement[]>();
  const reps = new Map<PlacementName, WorkloadMeasurement[]>();
  const skipped: Record<string, string> = {};
  if (!traffic) notes.push('the scenario has no traffic section: placements only, no workload measured');
  let needRefresh = false;
  for (let rep = 1; rep <= repeat; rep++) {
    for (const arm of PLACEMENT_NAMES) {
      if (needRefresh) {
        progress('  waiting for fresh measurements of every link');
        await refresh();
        needRefresh = false;
      }
      await arms.prepare(arm);
      progress(`  ${arm}: placing through ${arm === 'default' ? 'default-scheduler' : 'lpm-scheduler'}${repeat > 1 ? ` (repetition ${rep}/${repeat})` : ''}`);
      try {
        const placements = await arms.place(arm, rep);
        const nodeOf = new Map(placements.map((p) => [p.pod, p.node]));
        if (!first.has(arm)) first.set(arm, placements);
        else {
          const was = new Map(first.get(arm)!.map((p) => [p.pod, p.node]));
          const moved = [...nodeOf].filter(([pod, node]) => was.get(pod) !== node).map(([pod, node]) => `${pod} on ${node ?? 'none'}`);
          if (moved.length) notes.push(`${arm}, repetition ${rep}: placed differently from the first (${moved.join(', ')})`);
        }
        if (traffic && !skipped[arm]) {
          for (const a of state.agents) signal(a.pid, 'SIGSTOP');
          needRefresh = true;
          try {
            progress(`  ${arm}: running the workload for ${traffic.warmup}s + ${traffic.duration}s with ${traffic.clients} clients`);
            const m = await measureWorkload({ state, traffic, pods, nodeOf, progress, startServices: (specs) => arms.startServices(specs) });
            reps.set(arm, [...(reps.get(arm) ?? []), m]);
            progress(describeMeasurement(arm, m));
          } catch (err) {
            skipped[arm] = `not measured: ${(err as Error).message}`;
            progress(`  ${arm}: ${skipped[arm]}`);
          } finally {
            for (const a of state.agents) signal(a.pid, 'SIGCONT');
          }
        }
      } finally {
        await arms.clear();
      }
    }
  }
  const runs: PlacementRun[] = PLACEMENT_NAMES.map((name) => {
    const placements = first.get(name) ?? [];
    return { name, placements, nodeOf: new Map(placements.map((p) => [p.pod, p.node])) };
  });
  const measurements: Record<string, WorkloadMeasurement> = {};
  for (const [arm, ms] of reps) if (!skipped[arm]) measurements[arm] = aggregateMeasurements(ms);
  return { runs, measurements, skipped };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}
