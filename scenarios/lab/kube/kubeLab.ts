// `lab up --kube`: a Kubernetes control plane for the lab, started after the namespaces, emulator,
// agents (and Prometheus): etcd + kube-apiserver on loopback, every lab node a Ready Node, the
// shipped RBAC, the lpm extender, two kube-schedulers (default-scheduler, lpm-scheduler) and the
// hollow kubelet. Each step is recorded in the lab state before the next, so `lab down` removes
// whatever a failed `up` left. Also what `lab status` shows of it, and the test hooks that
// restart the lpm-scheduler with other extender settings or the extender.
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../../src/log.js';
import { kubeConfigFor } from '../../../src/kube/podWatch.js';
import { lpmBin } from '../paths.js';
import { isAlive, spawnDetached, stopProcess } from '../processes.js';
import { freeLoopbackPort } from '../prometheus.js';
import { readState, statePath, writeState, type LabState, type ProcessRecord } from '../state.js';
import { findKubeBinaries, type KubeBinaries } from './binaries.js';
import { createObjects, kubeletRbac, LPM_NAMESPACE, serviceAccountToken, shippedRbac } from './bootstrap.js';
import { DEFAULT_SCHEDULER_USER, KUBELET_USER, newToken, startApiserver, startEtcd, type StaticToken } from './controlPlane.js';
import { labExtenderConfig, startLabExtender, type LabExtenderSource } from './extender.js';
import { kubeletKubeconfig, kubeletReadyPath } from './kubeletProcess.js';
import { writeKubeconfig, type KubeUser } from './kubeconfig.js';
import { registerNodes } from './nodes.js';
import { base64File, makePki } from './pki.js';
import {
  defaultSchedulerConfig,
  deleteLease,
  LPM_SCHEDULER,
  lpmSchedulerConfig,
  shippedSchedulerConfigText,
  startScheduler,
  type ExtenderOverrides,
} from './schedulers.js';
import { kubeDir, kubeProcesses, type KubeState } from './state.js';
import { probe, waitHttpReady } from './http.js';

export interface KubeOptions {
  /** --kube-bin: folder of kube-apiserver and kube-scheduler (else $LPM_KUBE_BIN, else PATH). */
  binDir?: string;
  /** Log level of the extender and the hollow kubelet. */
  logLevel?: string;
  /** Changes to the shipped extender block of lpm-scheduler (tests). */
  extenderOverrides?: ExtenderOverrides;
}

/** Checked before the lab creates anything: binaries found, the extender's port picked. */
export interface KubePrepared {
  bins: KubeBinaries;
  extenderPort: number;
}

export async function prepareKube(opts: KubeOptions): Promise<KubePrepared> {
  const bins = await findKubeBinaries(opts.binDir);
  return { bins, extenderPort: await freeLoopbackPort(0) };
}

/** Distinct free loopback ports (the preferred one first when free). */
async function freePorts(n: number, taken: Set<number>, preferred?: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = await freeLoopbackPort(out.length === 0 && preferred ? preferred : 0);
    if (!taken.has(p)) {
      taken.add(p);
      out.push(p);
    }
  }
  return out;
}

const adminKubeconfig = (lab: string) => join(kubeDir(lab), 'kubeconfig');
const componentKubeconfig = (lab: string, who: string) => join(kubeDir(lab), `${who}.kubeconfig`);

/** Starts the control plane for a lab whose network (and agents, Prometheus) are up. */
export async function kubeUp(
  state: LabState,
  prepared: KubePrepared,
  source: LabExtenderSource,
  opts: KubeOptions,
  save: () => Promise<void>,
  log?: Logger,
): Promise<void> {
  const { bins } = prepared;
  const dir = kubeDir(state.name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const taken = new Set([prepared.extenderPort]);
  const [apiserverPort] = await freePorts(1, taken, 6443);
  const [etcdClient, etcdPeer, defaultScheduler, lpmScheduler] = await freePorts(4, taken);
  const k: KubeState = {
    dir,
    bin: bins.dir,
    ...(bins.kubectl ? { kubectl: bins.kubectl } : {}),
    etcdBin: bins.etcd,
    version: bins.version,
    server: `https://127.0.0.1:${apiserverPort}`,
    kubeconfig: adminKubeconfig(state.name),
    ports: { etcdClient: etcdClient!, etcdPeer: etcdPeer!, apiserver: apiserverPort!, extender: prepared.extenderPort, defaultScheduler: defaultScheduler!, lpmScheduler: lpmScheduler! },
    schedulers: [],
    nodes: [],
  };
  state.kube = k;
  await save();

  const pki = await makePki(join(dir, 'pki'));
  const caData = await base64File(pki.caCert);
  const kubeconfigFor = (file: string, userName: string, user: KubeUser) =>
    writeKubeconfig(file, { name: `lpm-lab-${state.name}`, server: k.server, caData, userName, user });
  const tokens: StaticToken[] = [
    { token: newToken(), user: DEFAULT_SCHEDULER_USER, uid: DEFAULT_SCHEDULER_USER, groups: [] },
    { token: newToken(), user: KUBELET_USER, uid: KUBELET_USER, groups: [] },
  ];

  k.etcd = await startEtcd({ lab: state.name, dir, bin: bins.etcd, clientPort: etcdClient!, peerPort: etcdPeer! }, async (proc) => {
    k.etcd = proc;
    await save();
  });
  await save();
  log?.info({ lab: state.name, port: etcdClient }, 'etcd ready');
  // recorded as soon as it is spawned, so a failed wait still leaves it for `down`
  const api = await startApiserver(
    { dir, bin: bins, pki, etcdPort: etcdClient!, port: apiserverPort!, tokenFile: join(dir, 'tokens.csv') },
    tokens,
    async (proc: ProcessRecord) => {
      k.apiserver = proc;
      await save();
    },
  );
  await api.agent.close();
  log?.info({ lab: state.name, server: k.server }, 'kube-apiserver ready');

  await kubeconfigFor(k.kubeconfig, 'lpm-lab-admin', {
    clientCertificateData: await base64File(pki.adminCert),
    clientKeyData: await base64File(pki.adminKey),
  });
  const kc = kubeConfigFor({ kubeconfig: k.kubeconfig });
  await createObjects(kc, [...(await shippedRbac()), ...kubeletRbac()]);
  await registerNodes(kc, state.plan, bins.version, async (name) => {
    k.nodes.push(name);
    await save();
  });
  log?.info({ lab: state.name, nodes: k.nodes }, 'nodes registered');

  const extenderKc = componentKubeconfig(state.name, 'lpm-extender');
  const lpmSchedulerKc = componentKubeconfig(state.name, LPM_SCHEDULER);
  const defaultSchedulerKc = componentKubeconfig(state.name, 'default-scheduler');
  await kubeconfigFor(extenderKc, 'lpm-extender', { token: await serviceAccountToken(kc, LPM_NAMESPACE, 'lpm-extender') });
  await kubeconfigFor(lpmSchedulerKc, LPM_SCHEDULER, { token: await serviceAccountToken(kc, LPM_NAMESPACE, LPM_SCHEDULER) });
  await kubeconfigFor(defaultSchedulerKc, DEFAULT_SCHEDULER_USER, { token: tokens[0]!.token });
  await kubeconfigFor(kubeletKubeconfig(state.name), KUBELET_USER, { token: tokens[1]!.token });

  const extenderConfig = labExtenderConfig(state, { port: prepared.extenderPort, kubeconfig: extenderKc, source });
  k.extender = { ...(await startLabExtender(dir, extenderConfig, prepared.extenderPort, opts.logLevel)), source: source.type };
  await save();
  log?.info({ lab: state.name, url: k.extender.url, source: source.type }, 'lpm extender ready');

  // the two schedulers and the kubelet start side by side (each takes seconds on a busy machine)
  // all settled before a failure is thrown, so `down` (after a failed up) sees every process
  const started = await Promise.allSettled([
    startScheduler({
      name: 'default-scheduler',
      dir,
      bin: bins.scheduler,
      port: defaultScheduler!,
      kubeconfig: defaultSchedulerKc,
      config: defaultSchedulerConfig(defaultSchedulerKc),
    }),
    startLpmScheduler(state.name, k, opts.extenderOverrides),
    startKubelet(state.name, opts.logLevel, async (proc) => {
      k.kubelet = proc;
      await save();
    }),
  ]);
  for (const r of started) if (r.status === 'fulfilled' && r.value && 'name' in r.value) k.schedulers.push(r.value);
  await save();
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  log?.info({ lab: state.name, schedulers: k.schedulers.map((s) => s.name) }, 'kube-schedulers ready');
  log?.info({ lab: state.name }, 'hollow kubelet ready');
}

async function startLpmScheduler(lab: string, k: KubeState, overrides?: ExtenderOverrides) {
  const kubeconfig = componentKubeconfig(lab, LPM_SCHEDULER);
  return startScheduler({
    name: LPM_SCHEDULER,
    dir: k.dir,
    bin: join(k.bin, 'kube-scheduler'),
    port: k.ports.lpmScheduler,
    kubeconfig,
    config: lpmSchedulerConfig(await shippedSchedulerConfigText(), {
      extenderUrl: k.extender!.url,
      kubeconfig,
      ...(overrides ? { overrides } : {}),
    }),
  });
}

async function startKubelet(lab: string, logLevel: string | undefined, spawned: (p: ProcessRecord) => Promise<void>): Promise<ProcessRecord> {
  await rm(kubeletReadyPath(lab), { force: true });
  const log = join(kubeDir(lab), 'hollow-kubelet.log');
  const args = [lpmBin(), 'lab', 'kubelet', '--state', statePath(lab), ...(logLevel ? ['--log-level', logLevel] : [])];
  const pid = spawnDetached(process.execPath, args, log);
  const proc = { pid, marker: `kubelet --state ${statePath(lab)}`, log };
  await spawned(proc);
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    try {
      const ready = JSON.parse(await readFile(kubeletReadyPath(lab), 'utf8')) as { pid?: number };
      if (ready.pid === pid) return proc;
    } catch {
      /* not yet */
    }
    if (!(await isAlive(proc))) throw new Error(`hollow kubelet exited during start-up; see ${log}`);
    await sleep(100);
  }
  throw new Error(`hollow kubelet not ready after 30s; see ${log}`);
}

/**
 * Restarts lpm-scheduler with other extender settings (nodeCacheCapable, ignorable, ...), e.g. to
 * test both modes on one lab. Its lease is deleted so the new process leads at once.
 */
export async function restartLpmScheduler(lab: string, overrides: ExtenderOverrides = {}): Promise<void> {
  const state = await labWithKube(lab);
  const k = state.kube!;
  const old = k.schedulers.find((s) => s.name === LPM_SCHEDULER);
  if (old) await stopProcess(old);
  k.schedulers = k.schedulers.filter((s) => s.name !== LPM_SCHEDULER);
  await writeState(state);
  await deleteLease(kubeConfigFor({ kubeconfig: k.kubeconfig }), LPM_NAMESPACE, LPM_SCHEDULER);
  k.schedulers.push(await startLpmScheduler(lab, k, overrides));
  await writeState(state);
}

/** Stops the lab's extender, or starts it again with the same config and port. */
export async function setLabExtender(lab: string, running: boolean): Promise<void> {
  const state = await labWithKube(lab);
  const k = state.kube!;
  const ext = k.extender;
  if (!ext) throw new Error(`lab ${lab}: no extender recorded`);
  if (!running) {
    await stopProcess(ext);
    return;
  }
  if (await isAlive(ext)) return;
  const pid = spawnDetached(process.execPath, [lpmBin(), 'extender', '--config', ext.config], ext.log);
  k.extender = { ...ext, pid };
  await writeState(state);
  await waitHttpReady('lpm extender', `${ext.url}/healthz`, k.extender, { timeoutMs: 30_000 });
}

/**
 * Restarts the lab's extender with some top-level sections of its config replaced (e.g. the
 * scenario runner's `scoring` and `peers` per compared placement); same port, so the
 * lpm-scheduler keeps calling it. Waits for /healthz and briefly for /readyz.
 */
export async function reconfigureLabExtender(lab: string, sections: Record<string, unknown>): Promise<void> {
  const state = await labWithKube(lab);
  const k = state.kube!;
  const ext = k.extender;
  if (!ext) throw new Error(`lab ${lab}: no extender recorded`);
  const { parse, stringify } = await import('yaml');
  const { writeFile } = await import('node:fs/promises');
  const current = (parse(await readFile(ext.config, 'utf8')) ?? {}) as Record<string, unknown>;
  const next: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(sections)) {
    if (value === undefined) delete next[key];
    else next[key] = value;
  }
  await writeFile(ext.config, `# Generated by lpm lab up --kube (reconfigured).\n${stringify(next)}`, { mode: 0o600 });
  await stopProcess(ext);
  const pid = spawnDetached(process.execPath, [lpmBin(), 'extender', '--config', ext.config], ext.log);
  k.extender = { ...ext, pid };
  await writeState(state);
  await waitHttpReady('lpm extender', `${ext.url}/healthz`, k.extender, { timeoutMs: 30_000 });
  for (let i = 0; i < 50; i++) {
    const r = await probe(`${ext.url}/readyz`);
    if ('status' in r && r.status === 200) break;
    await sleep(200);
  }
}

async function labWithKube(lab: string): Promise<LabState> {
  const state = await readState(lab);
  if (!state) throw new Error(`lab ${lab} is not up (no ${statePath(lab)})`);
  if (!state.kube) throw new Error(`lab ${lab} was brought up without --kube`);
  return state;
}

/** Which control-plane processes run (name -> alive). */
export async function kubeAlive(k: KubeState | undefined): Promise<Record<string, boolean>> {
  const out: Record<string, boolean> = {};
  if (!k) return out;
  const named: [string, ProcessRecord | undefined][] = [
    ['etcd', k.etcd],
    ['kube-apiserver', k.apiserver],
    ['lpm-extender', k.extender],
    ...k.schedulers.map((s): [string, ProcessRecord] => [s.name, s]),
    ['hollow-kubelet', k.kubelet],
  ];
  for (const [name, p] of named) if (p) out[name] = await isAlive(p);
  return out;
}

export { kubeProcesses };
