// `lpm lab kubelet --state FILE` (internal; started by `lab up --kube`): the hollow kubelet of all
// the lab's nodes as a process of its own, which outlives `lab up`, like the emulator. It writes
// kubelet.ready.json once its first pod list is handled, and on SIGTERM stops every workload.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../../src/log.js';
import { readState, writeJsonAtomic } from '../state.js';
import { HollowKubelet } from './hollowKubelet.js';
import type { HollowNode } from './podStatus.js';
import { kubeDir } from './state.js';

export const kubeletKubeconfig = (lab: string) => join(kubeDir(lab), 'kubelet.kubeconfig');
export const kubeletReadyPath = (lab: string) => join(kubeDir(lab), 'kubelet.ready.json');
export const podLogDir = (lab: string) => join(kubeDir(lab), 'pods');

export async function runKubeletProcess(stateFile: string, log: Logger): Promise<number> {
  const raw = JSON.parse(await readFile(stateFile, 'utf8')) as { name?: string };
  const state = raw.name ? await readState(raw.name) : undefined;
  if (!state?.kube) throw new Error(`${stateFile}: not the state of a lab with --kube`);
  const nodes: HollowNode[] = state.plan.nodes.map((n) => ({ name: n.name, netns: n.netns, podIP: n.overlayAddress, hostIP: n.underlayAddress }));
  await mkdir(podLogDir(state.name), { recursive: true, mode: 0o700 });
  const kubelet = new HollowKubelet({ kubeconfig: kubeletKubeconfig(state.name), nodes, logDir: podLogDir(state.name), log });
  let stopping = false;
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  }).then((signal) => {
    stopping = true;
    return signal;
  });
  await Promise.race([kubelet.start(), stopped]);
  if (!stopping) {
    await writeJsonAtomic(kubeletReadyPath(state.name), { pid: process.pid, nodes: nodes.map((n) => n.name) });
    log.info({ lab: state.name, nodes: nodes.map((n) => n.name) }, 'hollow kubelet ready');
  }
  const signal = await stopped;
  log.info({ signal, pods: kubelet.pods().length }, 'hollow kubelet stopping: stopping workloads');
  await kubelet.stop(2);
  log.flush();
  return 0;
}
