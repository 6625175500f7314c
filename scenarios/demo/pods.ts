// The example pods the demo schedules, and the scheduler settings it drives them with. A small
// edge video pipeline: a camera feed on edge-a and an archive in the cloud are already running;
// then a detector that must stay within 15 ms of the camera, a tracker that needs 25 Mbit/s to the
// detector, and an uploader that talks mostly to the archive. Each shows a different reason.
import type { ScenarioPod } from '../scenarioFile.js';

export const DEMO_NAMESPACE = 'demo';

const pod = (name: string, labels: Record<string, string>, annotations: Record<string, string> = {}, nodeName?: string): ScenarioPod => ({
  namespace: DEMO_NAMESPACE,
  name,
  labels,
  annotations,
  ...(nodeName ? { nodeName } : {}),
});

/** Pods in arrival order; the first two are already bound (nodeName). */
export function demoPods(): ScenarioPod[] {
  return [
    pod('camera', { app: 'camera' }, {}, 'edge-a'),
    pod('archive', { app: 'archive' }, {}, 'cloud'),
    pod('detector', { app: 'detector' }, { 'lpm.l2sm.io/peers': 'app=camera', 'lpm.l2sm.io/max-rtt': '15ms' }),
    pod('tracker', { app: 'tracker' }, { 'lpm.l2sm.io/peers': 'app=detector', 'lpm.l2sm.io/min-bandwidth': '25Mbps' }),
    pod('uploader', { app: 'uploader' }, {
      'lpm.l2sm.io/peers': 'app=archive; app=tracker',
      'lpm.l2sm.io/peer-weights': 'app=archive: 2; app=tracker: 1',
    }),
  ];
}

/**
 * kube-scheduler as the demo models it (see scenarios/runner/driver.ts): the extender's weight in
 * the KubeSchedulerConfiguration, a spreading plugin, and room for two pods per node, so the
 * first node fills up and later pods must pick among the others by their links.
 */
export const DEMO_SCHEDULER = { weight: 5, spreadWeight: 1, podsPerNode: 2, schedulerName: 'lpm-scheduler' } as const;
