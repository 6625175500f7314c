// What `lab up --kube` records in the lab state file (state.kube): where the control plane's files
// are, its ports, and its processes (PID + command-line marker, like the emulator and agents), so
// `lab status` can show it and `lab down` can stop it from another process, even after a crash.
import { join } from 'node:path';
import { labDir, type ProcessRecord } from '../state.js';

/** Folder of a lab's control plane: PKI, kubeconfigs, configs, etcd data, logs. Removed by `down`. */
export const kubeDir = (lab: string) => join(labDir(), `${lab}.kube`);

/**
 * In the command line of every control-plane process of the lab (their config or data paths are
 * under kubeDir): how `down` finds what a crashed `up` did not record. Lab names have no dots, so
 * "/run/lpm/labs/a.kube/" is never inside another lab's path.
 */
export const kubeMarker = (lab: string) => `${kubeDir(lab)}/`;

export type SchedulerName = 'default-scheduler' | 'lpm-scheduler';

export interface SchedulerRecord extends ProcessRecord {
  name: SchedulerName;
  /** kube-scheduler's secure port on 127.0.0.1 (/healthz, /metrics). */
  port: number;
  config: string;
}

export interface KubeState {
  dir: string;
  /** Folder of kube-apiserver, kube-scheduler (and kubectl when there). */
  bin: string;
  /** kubectl by full path, when it is in `bin`. */
  kubectl?: string;
  etcdBin: string;
  /** kube-apiserver --version, e.g. "v1.26.1". */
  version: string;
  /** https://127.0.0.1:PORT */
  server: string;
  /** Admin kubeconfig (client certificate in system:masters). */
  kubeconfig: string;
  ports: { etcdClient: number; etcdPeer: number; apiserver: number; extender: number; defaultScheduler: number; lpmScheduler: number };
  etcd?: ProcessRecord;
  apiserver?: ProcessRecord;
  extender?: ProcessRecord & { url: string; config: string; source: 'direct' | 'prometheus' };
  schedulers: SchedulerRecord[];
  kubelet?: ProcessRecord;
  /** Nodes registered in the API. */
  nodes: string[];
}

/** Every process of the control plane, in the order `down` stops them (workloads first). */
export function kubeProcesses(k: KubeState | undefined): ProcessRecord[] {
  if (!k) return [];
  return [
    ...(k.kubelet ? [k.kubelet] : []),
    ...k.schedulers,
    ...(k.extender ? [k.extender] : []),
    ...(k.apiserver ? [k.apiserver] : []),
    ...(k.etcd ? [k.etcd] : []),
  ];
}
