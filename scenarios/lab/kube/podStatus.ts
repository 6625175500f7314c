// The pod status the hollow kubelet writes (pure): phase, pod IP = the node's overlay address,
// host IP = its underlay address, conditions, and one status per container. Containers are not
// run, except the workload command (see workload.ts), whose state stands for the first
// container's; the others are shown running. Sent as a strategic merge patch of the status
// subresource, so the scheduler's PodScheduled condition stays (conditions merge by type).
import type { V1Pod } from '@kubernetes/client-node';

export interface HollowNode {
  name: string;
  netns: string;
  /** Overlay address: the pod IP of every pod on the node. */
  podIP: string;
  /** Underlay address: the node's InternalIP. */
  hostIP: string;
}

export interface Termination {
  exitCode: number;
  reason: string;
  message?: string;
  startedAt: Date;
  finishedAt: Date;
}

/** What the first container is doing. */
export type ContainerState =
  | { state: 'running'; startedAt: Date; pid?: number }
  | { state: 'waiting'; reason: string; message?: string }
  | { state: 'terminated'; termination: Termination; pid?: number };

export interface PodRunStatus {
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  container: ContainerState;
  restartCount: number;
  lastTermination?: Termination;
  /** When the kubelet first took the pod on. */
  startTime: Date;
}

/** RFC 3339 in whole seconds, as the API writes times. */
export const apiTime = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

const terminated = (t: Termination, pid?: number) => ({
  terminated: {
    exitCode: t.exitCode,
    reason: t.reason,
    ...(t.message ? { message: t.message } : {}),
    startedAt: apiTime(t.startedAt),
    finishedAt: apiTime(t.finishedAt),
    ...(pid ? { containerID: containerId(pid) } : {}),
  },
});

export const containerId = (pid: number) => `lpm-lab://${pid}`;

/** PID of a workload from a container status's containerID (`lpm-lab://PID`). */
export function workloadPid(containerID: string | undefined): number | undefined {
  const m = /^lpm-lab:\/\/(\d+)$/.exec(containerID ?? '');
  return m ? Number(m[1]) : undefined;
}

export function podStatusPatch(pod: V1Pod, node: HollowNode, run: PodRunStatus, now = new Date()): { status: Record<string, unknown> } {
  const c = run.container;
  const ready = run.phase === 'Running' && c.state === 'running';
  const t = apiTime(now);
  const cond = (type: string, ok: boolean, reason?: string) => ({
    type,
    status: ok ? 'True' : 'False',
    lastProbeTime: null,
    lastTransitionTime: t,
    ...(!ok && reason ? { reason } : {}),
  });
  const done = run.phase === 'Succeeded' || run.phase === 'Failed';
  const notReady = done ? 'PodCompleted' : 'ContainersNotReady';
  const containers = pod.spec?.containers ?? [];
  const containerStatuses = containers.map((spec, i) => {
    const first = i === 0;
    let state: Record<string, unknown>;
    let containerID: string | undefined;
    if (!first) {
      state = done ? terminated({ exitCode: 0, reason: 'Completed', startedAt: run.startTime, finishedAt: now }) : { running: { startedAt: apiTime(run.startTime) } };
    } else if (c.state === 'running') {
      state = { running: { startedAt: apiTime(c.startedAt) } };
      if (c.pid) containerID = containerId(c.pid);
    } else if (c.state === 'waiting') {
      state = { waiting: { reason: c.reason, ...(c.message ? { message: c.message } : {}) } };
    } else {
      state = terminated(c.termination, c.pid);
      if (c.pid) containerID = containerId(c.pid);
    }
    return {
      name: spec.name,
      image: spec.image ?? '',
      imageID: '',
      ...(containerID ? { containerID } : {}),
      ready: first ? ready : run.phase === 'Running',
      started: first ? c.state === 'running' : run.phase === 'Running',
      restartCount: first ? run.restartCount : 0,
      state,
      lastState: first && run.lastTermination ? terminated(run.lastTermination) : {},
    };
  });
  return {
    status: {
      phase: run.phase,
      hostIP: node.hostIP,
      podIP: node.podIP,
      podIPs: [{ ip: node.podIP }],
      startTime: apiTime(run.startTime),
      conditions: [cond('Initialized', true), cond('ContainersReady', ready, notReady), cond('Ready', ready, notReady)],
      containerStatuses,
    },
  };
}
