// Places a scenario's pods in arrival order for each compared placement at once (so a link
// change after pod X happens once, at the same point for all of them), each with its own
// extender over HTTP and its own pod store. Sim and lab mode differ only in the metric source
// and in how a link change is applied.
import type { Decision } from '../../extender/decisionLog.js';
import { createExtender, type Extender } from '../../extender/extender.js';
import { PodIndex } from '../../extender/pods/podIndex.js';
import type { MetricSource } from '../../extender/sources/source.js';
import type { Logger } from '../../src/log.js';
import { podId, type Scenario, type ScenarioEvent } from '../scenarioFile.js';
import { describePlacement, podStoreSink, SchedulingDriver, type Placement } from './driver.js';
import { ExtenderClient } from './extenderClient.js';
import { placementExtenderConfig, type PlacementName } from './variants.js';

export type Progress = (line: string) => void;

export interface PlacementRun {
  name: PlacementName;
  placements: Placement[];
  /** Pod id -> node (null: unschedulable). */
  nodeOf: Map<string, string | null>;
  /** The extender's decision log, oldest first (lpm, netmarks). */
  decisions?: Decision[];
}

interface Runner {
  name: PlacementName;
  driver: SchedulingDriver;
  extender?: Extender;
}

export interface PlaceOptions {
  names: readonly PlacementName[];
  /** A fresh metric source per extender. */
  source: () => MetricSource;
  /** Applies a link change (sim: new matrix; lab: `lab set` + new measurements). */
  applyEvent: (e: ScenarioEvent) => Promise<void>;
  progress: Progress;
  logger?: Logger;
  run: string;
}

export async function placeScenario(s: Scenario, opts: PlaceOptions): Promise<PlacementRun[]> {
  const nodes = s.topology.nodes.map((n) => n.name);
  const runners: Runner[] = [];
  try {
    for (const name of opts.names) {
      const config = placementExtenderConfig(s.extenderConfig, name);
      let extender: Extender | undefined;
      let client: ExtenderClient | undefined;
      const store = new PodIndex();
      if (config) {
        extender = await createExtender({ config, podStore: store, source: opts.source(), ...(opts.logger ? { logger: opts.logger } : {}) });
        const url = await extender.start({ host: '127.0.0.1', port: 0 });
        if (!(await extender.cache.refresh()))
          throw new Error(`extender (${name}) could not load the link matrix: ${extender.cache.lastError?.message ?? 'unknown error'}`);
        client = new ExtenderClient(url);
      }
      const driver = new SchedulingDriver({
        nodes,
        weight: s.scheduler.weight,
        spreadWeight: s.scheduler.spreadWeight,
        podsPerNode: s.scheduler.podsPerNode,
        capacity: s.scheduler.capacity,
        schedulerName: s.scheduler.schedulerName,
        ...(client ? { extender: client } : {}),
        sink: podStoreSink(store),
        run: opts.run,
      });
      runners.push({ name, driver, ...(extender ? { extender } : {}) });
    }

    for (const pod of s.pods) {
      const id = podId(pod);
      for (const r of runners) {
        const p = await r.driver.schedule(pod);
        opts.progress(`  ${r.name.padEnd(8)} ${id} -> ${describePlacement(p, s.scheduler.weight)}`);
      }
      for (const e of s.events.filter((x) => x.after === id)) {
        opts.progress(`  event after ${id}: set ${e.text}${e.change.both ? ' (both directions)' : ''}`);
        await opts.applyEvent(e);
        for (const r of runners) if (r.extender && !(await r.extender.cache.refresh()))
          throw new Error(`extender (${r.name}) could not reload the link matrix after "${e.text}": ${r.extender.cache.lastError?.message}`);
      }
    }
    return runners.map((r) => ({
      name: r.name,
      placements: r.driver.placements,
      nodeOf: new Map(r.driver.placements.map((p) => [p.pod, p.node])),
      ...(r.extender ? { decisions: r.extender.decisions.list().reverse() } : {}),
    }));
  } finally {
    for (const r of runners) await r.extender?.close();
  }
}
