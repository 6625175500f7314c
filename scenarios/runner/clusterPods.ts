// Cluster mode's pure parts: the Pod manifest a scenario pod becomes, and what a Pod's status
// says about its scheduling.
import type { V1Pod } from '@kubernetes/client-node';
import type { Scenario, ScenarioPod } from '../scenarioFile.js';

/** Label on every pod cluster mode creates, so leftovers can be found: `kubectl delete pod -l ...`. */
export const SCENARIO_LABEL = 'lpm.l2sm.io/scenario';

export function clusterPod(pod: ScenarioPod, s: Pick<Scenario, 'scheduler'>, scenario: string): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: pod.name,
      namespace: pod.namespace,
      labels: { ...pod.labels, [SCENARIO_LABEL]: scenario },
      annotations: { ...pod.annotations },
    },
    spec: {
      // a pre-placed pod is bound by us, as the scenario says; the others go to our scheduler
      ...(pod.nodeName !== undefined ? { nodeName: pod.nodeName } : { schedulerName: s.scheduler.schedulerName }),
      containers: [
        {
          name: 'app',
          image: 'registry.k8s.io/pause:3.9',
          resources: { requests: { cpu: '10m', memory: '16Mi' } },
        },
      ],
      terminationGracePeriodSeconds: 0,
    },
  };
}

export type PodOutcome = { state: 'scheduled'; node: string } | { state: 'unschedulable'; message: string } | { state: 'pending' };

/** Where a pod went: spec.nodeName, or PodScheduled=False with reason Unschedulable. */
export function podOutcome(p: V1Pod): PodOutcome {
  if (p.spec?.nodeName) return { state: 'scheduled', node: p.spec.nodeName };
  const c = p.status?.conditions?.find((x) => x.type === 'PodScheduled');
  if (c && c.status === 'False' && c.reason === 'Unschedulable') return { state: 'unschedulable', message: c.message ?? '' };
  return { state: 'pending' };
}
