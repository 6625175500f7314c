// The three placements a run compares, on the same links:
//   lpm       the extender as configured (link-aware);
//   netmarks  the extender's own scoring with link quality switched off: quality 1 on the
//             peer's node, 0 on any other (rttWeight = bandwidthWeight = 0 and unknownQuality = 0
//             make linkQuality() return 0), so raw(n) is NetMARKS' traffic-weight score;
//   default   no extender at all: kube-scheduler's spread only.
import type { ExtenderConfig } from '../../extender/config.js';

export const PLACEMENT_NAMES = ['lpm', 'netmarks', 'default'] as const;
export type PlacementName = (typeof PLACEMENT_NAMES)[number];

export const PLACEMENT_TITLES: Record<PlacementName, string> = {
  lpm: 'lpm (link-aware)',
  netmarks: 'NetMARKS-style (traffic weights only)',
  default: 'default (spread only)',
};

/** The extender config of a placement; undefined when it runs without the extender. */
export function placementExtenderConfig(base: ExtenderConfig, name: PlacementName): ExtenderConfig | undefined {
  switch (name) {
    case 'lpm':
      return base;
    case 'netmarks':
      return { ...base, scoring: { ...base.scoring, rttWeight: 0, bandwidthWeight: 0, unknownQuality: 0 } };
    case 'default':
      return undefined;
  }
}
