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
import type { WorkloadMeasurement } from './result.js';
import type { RunOptions } from './run.js';
import { PLACEMENT_NAMES } from './variants.js';

export interface LabRun {
  runs: PlacementRun[];
  measurements: Record<string, WorkloadMeasurement>;
  skipped: Record<string, string>;
  notes: string[];
}

/** The agents' config when the topology has no `agent` section: fast RTT, bandwidth only if asked. */
export function labAgentConfig(s: Scenario): Record<string, unknown> {
  if (s.topology.agent) return s.topology.agent;
  const metrics: unknown[] = [{ type: 'rtt', interval: s.lab.rttInterval, ping: { count: 5, spacing: '100ms', timeout: '1s' } }];
  if (s.lab.measure.includes('bandwidth'))
    // the interval stretches a sweep over that many slots: keep it short so the first sweep is
    // one slot per tournament round (the agents are stopped before the workload runs anyway)
    metrics.push({ type: 'bandwidth', interval: '10s', iperf3: { duration: '2s', omit: '0s' } });
  return { metrics };
}

export async function runLab(s: Scenario, name: string, opts: RunOptions): Promise<LabRun> {
  const cap = await netnsCapability();
  if (!cap.ok) throw new Error(`lab mode ${cap.reason}`);
  const progress = opts.progress;
  const topology = { ...s.topology, name: opts.labName ?? s.topology.name, agent: labAgentConfig(s) };
  const traffic = s.traffic && opts.duration !== undefined ? { ...s.traffic, duration: opts.duration } : s.traffic;
  const notes: string[] = [];

  progress(`  lab ${topology.name}: bringing up ${topology.nodes.length} nodes with agents`);
  const upAt = Date.now() / 1000;
  let state: LabState | undefined;
  try {
    state = await labUpTopology(topology, `scenario ${name}`, { agents: true, ...(opts.logger ? { log: opts.logger } : {}) });
    const agents = state.plan.nodes.map(agentUrl);
    const probe = new DirectSource(agents, 1, 3);
    const keys: LinkMetricKey[] = ['rtt_seconds', ...(s.lab.measure.includes('bandwidth') ? (['bandwidth_bytes_per_second'] as const) : [])];
    progress(`  waiting for the agents to measure every link (${s.lab.measure.join(', ')})`);
    await waitForSweep(probe, state.plan, keys, upAt, s.lab.sweepTimeout, progress);
    progress(`  links measured after ${(Date.now() / 1000 - upAt).toFixed(1)}s; placing pods`);
    if (!s.lab.measure.includes('bandwidth')) notes.push('bandwidth was not measured in the lab: it counts as neutral (unknown) for every link');

    const labName = topology.name;
    const runs = await placeScenario(s, {
      names: PLACEMENT_NAMES,
      source: () => new DirectSource(agents, 2, 3),
      applyEvent: async (e) => {
        const at = Date.now() / 1000;
        await labSet(labName, { from: e.change.from, to: e.change.to, raw: e.change.raw, patch: e.change.patch }, e.change.both);
        await waitForRemeasure(probe, [[e.change.from, e.change.to], [e.change.to, e.change.from]], at, Math.max(30, 5 * s.lab.rttInterval), progress);
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
        progress(`  ${run.name}: running the workload for ${traffic.warmup}s + ${traffic.duration}s with ${traffic.clients} clients`);
        try {
          const m = await measureWorkload({ state, traffic, pods, nodeOf: run.nodeOf, progress });
          measurements[run.name] = m;
          progress(
            `  ${run.name}: ${m.requests} requests, p50 ${(m.p50 * 1000).toFixed(1)} ms, p95 ${(m.p95 * 1000).toFixed(1)} ms, ${m.interNodeBytes} inter-node bytes`,
          );
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
