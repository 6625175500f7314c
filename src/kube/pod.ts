// What lpm reads of a Kubernetes pod, and the one rule for when a pod no longer counts. Shared by
// the agent (agent pods -> measurement targets) and the extender (pod placement cache, peers).

/**
 * The parts of a V1Pod lpm reads: structurally compatible with @kubernetes/client-node's V1Pod
 * and with the slim pods of podWatch.ts.
 */
export interface PodLike {
  metadata?: {
    namespace?: string;
    name?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: unknown;
  };
  spec?: { nodeName?: string };
  status?: { podIP?: string; phase?: string };
}

/** The phases of a finished pod: it takes no place on a node and is nobody's peer or target. */
export const FINISHED_POD_PHASES: readonly string[] = ['Succeeded', 'Failed'];

/** Is a pod in this phase (status.phase; undefined = not reported yet) finished? */
export function isFinishedPhase(phase: string | undefined): boolean {
  return phase !== undefined && FINISHED_POD_PHASES.includes(phase);
}

/**
 * The same rule as a field selector, for a list + watch: the server leaves finished pods out, so
 * a pod that finishes is reported as deleted.
 */
export const UNFINISHED_PODS_FIELD_SELECTOR = FINISHED_POD_PHASES.map((p) => `status.phase!=${p}`).join(',');
