// Link limits a pod may declare towards each of its peers:
//   lpm.l2sm.io/max-rtt: "5ms"            (any duration src/units.ts reads; a bare number is seconds)
//   lpm.l2sm.io/min-bandwidth: "100Mbps"  (any bandwidth src/units.ts reads)
// A value we cannot read is ignored with a warning (shown in the decision log), never an error:
// a typo in an annotation must not make a pod unschedulable.
import { formatBandwidth, formatDuration, parseBandwidth, parseDuration } from '../../src/units.js';

export const MAX_RTT_ANNOTATION = 'lpm.l2sm.io/max-rtt';
export const MIN_BANDWIDTH_ANNOTATION = 'lpm.l2sm.io/min-bandwidth';

export interface PodLimits {
  /** Seconds. */
  maxRtt?: number;
  /** Bytes per second. */
  minBandwidth?: number;
  /** Annotations that were ignored, and why. */
  warnings: string[];
}

export function parsePodLimits(annotations: Readonly<Record<string, string>>): PodLimits {
  const out: PodLimits = { warnings: [] };
  const rtt = annotations[MAX_RTT_ANNOTATION];
  if (rtt !== undefined) {
    try {
      const v = parseDuration(rtt);
      if (!Number.isFinite(v)) throw new Error(`"${rtt}" is not a finite duration`);
      out.maxRtt = v;
    } catch (err) {
      out.warnings.push(`${MAX_RTT_ANNOTATION} ignored: ${(err as Error).message}`);
    }
  }
  const bw = annotations[MIN_BANDWIDTH_ANNOTATION];
  if (bw !== undefined) {
    try {
      const v = parseBandwidth(bw);
      if (!Number.isFinite(v)) throw new Error(`"${bw}" is not a finite bandwidth`);
      out.minBandwidth = v;
    } catch (err) {
      out.warnings.push(`${MIN_BANDWIDTH_ANNOTATION} ignored: ${(err as Error).message}`);
    }
  }
  return out;
}

/** "max-rtt 10ms, min-bandwidth 100Mbps" for logs and decisions. */
export function describeLimits(l: PodLimits): string {
  const parts: string[] = [];
  if (l.maxRtt !== undefined) parts.push(`max-rtt ${formatDuration(l.maxRtt)}`);
  if (l.minBandwidth !== undefined) parts.push(`min-bandwidth ${formatBandwidth(l.minBandwidth)}`);
  return parts.join(', ') || 'none';
}
