// One scenario file, one mode: load, place (and in lab mode measure), check expectations.
import { basename } from 'node:path';
import { loadYamlConfig } from '../../src/config/loadYaml.js';
import type { Logger } from '../../src/log.js';
import { scenarioSchema, type Scenario, type ScenarioMode } from '../scenarioFile.js';
import { checkExpectations } from './expectations.js';
import type { PlacementRun, Progress } from './placementRun.js';
import type { ScenarioResult, WorkloadMeasurement } from './result.js';
import { simPlacements } from './sim.js';

export interface RunOptions {
  mode: ScenarioMode;
  progress: Progress;
  logger?: Logger;
  /** Lab mode: lab name instead of the topology's. */
  labName?: string;
  /** Lab mode: override traffic.duration (seconds). */
  duration?: number;
  /** Cluster mode: kubeconfig path (default: KUBECONFIG / ~/.kube/config). */
  kubeconfig?: string;
  /**
   * Lab mode: place through the lab's real kube-schedulers (`lab up --kube`). true: required;
   * false: never (the runner calls the extender itself); undefined: when the binaries are found.
   */
  kube?: boolean;
  /** Lab mode: folder of kube-apiserver and kube-scheduler (else $LPM_KUBE_BIN, PATH, ../shared/k8s/bin). */
  kubeBin?: string;
  /** Lab mode: measured repetitions per placement (the table shows the median and min–max). */
  repeat?: number;
}

export async function loadScenario(file: string): Promise<Scenario> {
  return loadYamlConfig(file, scenarioSchema);
}

export const scenarioName = (s: Scenario, file: string) => s.name ?? basename(file).replace(/\.ya?ml$/, '');

export async function runScenarioFile(file: string, opts: RunOptions): Promise<ScenarioResult> {
  const s = await loadScenario(file);
  return runScenario(s, file, opts);
}

export async function runScenario(s: Scenario, file: string, opts: RunOptions): Promise<ScenarioResult> {
  const started = Date.now();
  const name = scenarioName(s, file);
  const notes: string[] = [];
  if (!s.modes.includes(opts.mode)) notes.push(`the scenario lists modes ${s.modes.join(', ')}, not ${opts.mode}`);
  opts.progress(`scenario ${name} (${file}): ${s.pods.length} pods on ${s.topology.nodes.length} nodes, mode ${opts.mode}`);

  let runs: PlacementRun[];
  let measurements: Partial<Record<string, WorkloadMeasurement>> = {};
  let kubeScheduler: string | undefined;
  const skipped: Partial<Record<string, string>> = {};
  if (opts.mode === 'sim') {
    runs = await simPlacements(s, { progress: opts.progress, ...(opts.logger ? { logger: opts.logger } : {}), run: name });
  } else if (opts.mode === 'lab') {
    const { runLab } = await import('./lab.js');
    const lab = await runLab(s, name, opts);
    runs = lab.runs;
    measurements = lab.measurements;
    Object.assign(skipped, lab.skipped);
    notes.push(...lab.notes);
    kubeScheduler = lab.kubeScheduler;
  } else {
    const { runCluster } = await import('./cluster.js');
    runs = await runCluster(s, name, opts);
  }

  // cluster mode has only the lpm placement: expectations about the others cannot be checked
  const checkable = s.expect.filter((e) => runs.some((r) => r.name === e.placement));
  if (checkable.length < s.expect.length)
    notes.push(`${s.expect.length - checkable.length} expectation(s) about the netmarks/default placements skipped (not run in ${opts.mode} mode)`);
  const expectations = checkExpectations(checkable, (placement, pod) => runs.find((r) => r.name === placement)?.nodeOf.get(pod));
  return {
    name,
    file,
    mode: opts.mode,
    startedAt: new Date(started).toISOString(),
    durationSeconds: (Date.now() - started) / 1000,
    topology: s.topology,
    placements: runs.map((r) => ({
      name: r.name,
      placements: r.placements,
      ...(measurements[r.name] ? { measurement: measurements[r.name] } : {}),
      ...(skipped[r.name] ? { skipped: skipped[r.name] } : {}),
    })),
    expectations,
    ok: expectations.every((e) => e.ok),
    calls: (s.traffic?.calls ?? []).map((c): [string, string] => [c.from, c.to]),
    notes,
    ...(kubeScheduler ? { kubeScheduler } : {}),
    ...(opts.mode === 'lab' && (opts.repeat ?? 1) > 1 ? { repeat: opts.repeat! } : {}),
  };
}
