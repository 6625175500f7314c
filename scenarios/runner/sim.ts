// Sim mode: no root, no agents. The link matrix is what the agents would measure on the
// topology (topologyMatrix), served by the extender's static source; link changes edit the
// topology and the extenders reload before the next pod.
import { StaticSource } from '../../extender/sources/static.js';
import type { Logger } from '../../src/log.js';
import type { Scenario } from '../scenarioFile.js';
import { placeScenario, type PlacementRun, type Progress } from './placementRun.js';
import { applyLinkChange, topologyMatrix } from './topologyMatrix.js';
import { PLACEMENT_NAMES, type PlacementName } from './variants.js';

export async function simPlacements(
  s: Scenario,
  opts: { progress: Progress; logger?: Logger; names?: readonly PlacementName[]; run?: string },
): Promise<PlacementRun[]> {
  let links = s.topology.links;
  const nodes = s.topology.nodes;
  return placeScenario(s, {
    names: opts.names ?? PLACEMENT_NAMES,
    // the interval only matters for the background loop: every change is followed by a refresh
    source: () => new StaticSource({ matrix: () => topologyMatrix({ nodes, links }) }, 3600),
    applyEvent: async (e) => {
      links = applyLinkChange(links, e.change);
    },
    progress: opts.progress,
    ...(opts.logger ? { logger: opts.logger } : {}),
    run: opts.run ?? 'sim',
  });
}
