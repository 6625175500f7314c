// The hollow kubelet (kubemark's idea: a node agent that runs no containers) for every node of a
// lab: one process that follows the pods bound to the lab's nodes (a list+watch through
// src/kube/podWatch.ts) and does what a kubelet does for them, minus containers:
// - a new pod: status Running with the node's overlay address as pod IP (status subresource);
//   with `lpm.l2sm.io/lab-command`, its command runs inside the node's network namespace
//   (workload.ts) and its state is the first container's (exit -> restart per restartPolicy with
//   a capped backoff, or Succeeded/Failed);
// - a pod being deleted (deletionTimestamp): the workload is stopped (SIGTERM, SIGKILL after the
//   grace period) and the pod removed (delete with grace 0, as the kubelet does once containers
//   are gone); without this, pods bound to a node stay Terminating forever;
// - events: Started, Killing, Failed, BackOff, like the kubelet's.
// Work on one pod is serialised; different pods proceed in parallel.
import { join } from 'node:path';
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { describeKubeError, kubeConfigFor, watchPods, type PodWatch } from '../../../src/kube/podWatch.js';
import type { Logger } from '../../../src/log.js';
import { podStatusPatch, type HollowNode, type PodRunStatus, type Termination } from './podStatus.js';
import { podWorkload, Workload, type WorkloadExit } from './workload.js';

export const KUBELET_COMPONENT = 'lpm-hollow-kubelet';

export interface HollowKubeletOptions {
  kubeconfig: string;
  nodes: HollowNode[];
  /** Folder for workload output: NAMESPACE_NAME.log */
  logDir: string;
  log: Logger;
  /** Restart backoff of exited workloads (ms): doubles from min up to max. Default 1 s .. 30 s. */
  backoffMs?: { min: number; max: number };
  /** Longest grace period honoured on deletion (s). Default 30. */
  maxGraceSeconds?: number;
}

interface PodRun {
  uid: string;
  namespace: string;
  name: string;
  node: HollowNode;
  status: PodRunStatus;
  workload?: Workload;
  /** The spec to (re)start, when the pod has a command. */
  command?: { argv: string[]; env: Record<string, string> };
  restartTimer?: NodeJS.Timeout;
  terminating: boolean;
}

const podKey = (pod: V1Pod) => `${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name ?? ''}`;

export class HollowKubelet {
  private readonly nodes: Map<string, HollowNode>;
  private readonly kc: KubeConfig;
  private readonly api: CoreV1Api;
  private readonly runs = new Map<string, PodRun>();
  /** Latest object seen per uid, and the work queue per uid. */
  private readonly latest = new Map<string, V1Pod>();
  private readonly queues = new Map<string, Promise<void>>();
  /** Pods this kubelet has finished with (uids, oldest first): later events about them are echoes. */
  private readonly finished = new Set<string>();
  private watch: PodWatch | undefined;
  private stopped = false;

  constructor(private readonly opts: HollowKubeletOptions) {
    this.nodes = new Map(opts.nodes.map((n) => [n.name, n]));
    this.kc = kubeConfigFor({ kubeconfig: opts.kubeconfig });
    this.api = this.kc.makeApiClient(CoreV1Api);
  }

  /** Starts following pods; resolves once the first list is handled. */
  async start(): Promise<void> {
    this.watch = watchPods({
      connection: { kubeconfig: this.opts.kubeconfig },
      // every pod bound to some node; ours are picked by node name
      fieldSelector: 'spec.nodeName!=',
      fullObjects: true,
      onAdd: (pod) => this.enqueue(pod),
      onUpdate: (pod) => this.enqueue(pod),
      onDelete: (pod) => this.enqueue(pod, true),
      log: this.opts.log.child({ part: 'pod-watch' }),
      retryDelayMs: { min: 500, max: 5000 },
    });
    await this.watch.start();
    await this.idle();
  }

  /** Resolves when no pod work is queued. */
  async idle(): Promise<void> {
    while (this.queues.size) await Promise.all([...this.queues.values()]);
  }

  /** Pods this kubelet runs now (namespace/name -> node, workload PID). */
  pods(): { pod: string; node: string; pid?: number; phase: string }[] {
    return [...this.runs.values()].map((r) => ({
      pod: `${r.namespace}/${r.name}`,
      node: r.node.name,
      ...(r.workload?.running ? { pid: r.workload.pid } : {}),
      phase: r.status.phase,
    }));
  }

  /** Stops following pods and stops every workload (pods stay in the API, as when a node goes down). */
  async stop(graceSeconds = 5): Promise<void> {
    this.stopped = true;
    this.watch?.stop();
    const runs = [...this.runs.values()];
    for (const r of runs) clearTimeout(r.restartTimer);
    await Promise.all(runs.map((r) => r.workload?.stop(graceSeconds) ?? Promise.resolve()));
  }

  private enqueue(pod: V1Pod, deleted = false): void {
    const uid = pod.metadata?.uid;
    const nodeName = pod.spec?.nodeName;
    if (!uid || !nodeName || !this.nodes.has(nodeName) || this.stopped || this.finished.has(uid)) return;
    this.latest.set(uid, deleted ? { ...pod, metadata: { ...pod.metadata, deletionTimestamp: pod.metadata?.deletionTimestamp ?? new Date() } } : pod);
    const gone = deleted;
    const prev = this.queues.get(uid) ?? Promise.resolve();
    const next = prev
      .then(() => (this.stopped ? undefined : this.sync(uid, gone)))
      .catch((err: unknown) => this.opts.log.error({ pod: podKey(pod), err: describeKubeError(err) }, 'pod sync failed'))
      .finally(() => {
        if (this.queues.get(uid) === next) this.queues.delete(uid);
      });
    this.queues.set(uid, next);
  }

  private async sync(uid: string, gone: boolean): Promise<void> {
    const pod = this.latest.get(uid);
    if (!pod) return;
    const node = this.nodes.get(pod.spec!.nodeName!)!;
    let run = this.runs.get(uid);
    if (gone) {
      // removed from the API (force delete, or our own delete): stop what runs
      this.latest.delete(uid);
      if (run) await this.terminate(run, pod, false);
      return;
    }
    if (pod.metadata?.deletionTimestamp) {
      if (run?.terminating) return;
      run ??= this.adopt(uid, pod, node);
      await this.terminate(run, pod, true);
      return;
    }
    if (run) return; // already started; status updates echo back here
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return;
    run = this.adopt(uid, pod, node);
    await this.begin(run, pod);
  }

  private adopt(uid: string, pod: V1Pod, node: HollowNode): PodRun {
    const run: PodRun = {
      uid,
      namespace: pod.metadata!.namespace ?? 'default',
      name: pod.metadata!.name!,
      node,
      status: { phase: 'Pending', container: { state: 'waiting', reason: 'ContainerCreating' }, restartCount: 0, startTime: new Date() },
      terminating: false,
    };
    this.runs.set(uid, run);
    return run;
  }

  private async begin(run: PodRun, pod: V1Pod): Promise<void> {
    const w = podWorkload(pod);
    if (w.kind === 'invalid') {
      run.status = { ...run.status, phase: 'Pending', container: { state: 'waiting', reason: 'CreateContainerConfigError', message: w.error } };
      await this.writeStatus(run, pod);
      await this.event(run, pod, 'Warning', 'Failed', `Error: ${w.error}`);
      return;
    }
    if (w.kind === 'command') run.command = { argv: w.argv, env: w.env };
    this.launch(run, pod);
    await this.writeStatus(run, pod);
    if (run.workload)
      await this.event(run, pod, 'Normal', 'Started', `Started lab command in network namespace ${run.node.netns}: ${JSON.stringify(run.command!.argv)} (pid ${run.workload.pid})`);
  }

  /** Starts the workload (if any) and marks the pod Running. */
  private launch(run: PodRun, pod: V1Pod): void {
    if (!run.command) {
      run.status = { ...run.status, phase: 'Running', container: { state: 'running', startedAt: new Date() } };
      return;
    }
    const env = {
      POD_NAME: run.name,
      POD_NAMESPACE: run.namespace,
      POD_IP: run.node.podIP,
      NODE_NAME: run.node.name,
      ...run.command.env,
    };
    const logFile = join(this.opts.logDir, `${run.namespace}_${run.name}.log`);
    let wl: Workload;
    try {
      wl = new Workload(run.node.netns, run.command.argv, env, logFile);
    } catch (err) {
      run.status = { ...run.status, phase: 'Pending', container: { state: 'waiting', reason: 'RunContainerError', message: (err as Error).message } };
      return;
    }
    run.workload = wl;
    run.status = { ...run.status, phase: 'Running', container: { state: 'running', startedAt: wl.startedAt, pid: wl.pid } };
    this.opts.log.info({ pod: `${run.namespace}/${run.name}`, node: run.node.name, pid: wl.pid, argv: run.command.argv }, 'workload started');
    void wl.exited.then((exit) => this.exitedOnItsOwn(run, wl, exit, pod));
  }

  private exitedOnItsOwn(run: PodRun, wl: Workload, exit: WorkloadExit, pod: V1Pod): void {
    if (this.stopped || run.terminating || run.workload !== wl || this.runs.get(run.uid) !== run) return;
    const prev = this.queues.get(run.uid) ?? Promise.resolve();
    const next = prev
      .then(() => this.afterExit(run, wl, exit, this.latest.get(run.uid) ?? pod))
      .catch((err: unknown) => this.opts.log.error({ pod: `${run.namespace}/${run.name}`, err: describeKubeError(err) }, 'workload exit handling failed'))
      .finally(() => {
        if (this.queues.get(run.uid) === next) this.queues.delete(run.uid);
      });
    this.queues.set(run.uid, next);
  }

  private async afterExit(run: PodRun, wl: Workload, exit: WorkloadExit, pod: V1Pod): Promise<void> {
    if (this.stopped || run.terminating || this.runs.get(run.uid) !== run) return;
    const t: Termination = {
      exitCode: exit.exitCode,
      reason: exit.exitCode === 0 ? 'Completed' : 'Error',
      ...(exit.signal ? { message: `ended by ${exit.signal}` } : {}),
      startedAt: exit.startedAt,
      finishedAt: exit.finishedAt,
    };
    run.workload = undefined;
    const policy = pod.spec?.restartPolicy ?? 'Always';
    const restart = policy === 'Always' || (policy === 'OnFailure' && exit.exitCode !== 0);
    this.opts.log.info({ pod: `${run.namespace}/${run.name}`, exitCode: exit.exitCode, signal: exit.signal, restart }, 'workload exited');
    if (!restart) {
      run.status = { ...run.status, phase: exit.exitCode === 0 ? 'Succeeded' : 'Failed', container: { state: 'terminated', termination: t, pid: wl.pid } };
      await this.writeStatus(run, pod);
      return;
    }
    const { min, max } = this.opts.backoffMs ?? { min: 1000, max: 30_000 };
    const delay = Math.min(max, min * 2 ** run.status.restartCount);
    run.status = {
      ...run.status,
      lastTermination: t,
      container: { state: 'waiting', reason: 'CrashLoopBackOff', message: `back-off ${Math.round(delay / 1000)}s restarting the lab command` },
    };
    await this.writeStatus(run, pod);
    await this.event(run, pod, 'Warning', 'BackOff', `Back-off ${Math.round(delay / 1000)}s restarting the lab command (exit code ${exit.exitCode})`);
    run.restartTimer = setTimeout(() => {
      run.restartTimer = undefined;
      const prev = this.queues.get(run.uid) ?? Promise.resolve();
      const next = prev
        .then(async () => {
          if (this.stopped || run.terminating || this.runs.get(run.uid) !== run) return;
          run.status = { ...run.status, restartCount: run.status.restartCount + 1 };
          const current = this.latest.get(run.uid) ?? pod;
          this.launch(run, current);
          await this.writeStatus(run, current);
          if (run.workload) await this.event(run, current, 'Normal', 'Started', `Restarted lab command (pid ${run.workload.pid})`);
        })
        .catch((err: unknown) => this.opts.log.error({ pod: `${run.namespace}/${run.name}`, err: describeKubeError(err) }, 'restart failed'))
        .finally(() => {
          if (this.queues.get(run.uid) === next) this.queues.delete(run.uid);
        });
      this.queues.set(run.uid, next);
    }, delay);
  }

  /** Stops the workload; when the pod is still in the API (graceful deletion), removes it. */
  private async terminate(run: PodRun, pod: V1Pod, removeFromApi: boolean): Promise<void> {
    run.terminating = true;
    clearTimeout(run.restartTimer);
    const grace = Math.min(
      this.opts.maxGraceSeconds ?? 30,
      pod.metadata?.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30,
    );
    if (run.workload?.running) {
      if (removeFromApi) await this.event(run, pod, 'Normal', 'Killing', `Stopping lab command (pid ${run.workload.pid})`).catch(() => undefined);
      const exit = await run.workload.stop(grace);
      this.opts.log.info({ pod: `${run.namespace}/${run.name}`, pid: run.workload.pid, exitCode: exit.exitCode, signal: exit.signal }, 'workload stopped');
    }
    run.workload = undefined;
    if (removeFromApi) await this.removePod(run);
    this.runs.delete(run.uid);
    this.latest.delete(run.uid);
    this.finished.add(run.uid);
    if (this.finished.size > 10_000) this.finished.delete(this.finished.values().next().value!);
  }

  /**
   * Deletes the pod with grace 0, as the kubelet does once its containers are gone. On a pod that
   * is already terminating, the API's first such delete only shortens the grace period to 0 (an
   * update); the next one removes it. So: delete until it is gone.
   */
  private async removePod(run: PodRun): Promise<void> {
    const who = `${run.namespace}/${run.name}`;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await this.api.deleteNamespacedPod({
          name: run.name,
          namespace: run.namespace,
          // with a body, the API reads the options from it alone (query parameters are ignored)
          body: { gracePeriodSeconds: 0, preconditions: { uid: run.uid } },
        });
        await this.api.readNamespacedPod({ name: run.name, namespace: run.namespace }).then((p) => {
          if (p.metadata?.uid !== run.uid) throw Object.assign(new Error('replaced'), { code: 404 });
        });
      } catch (err) {
        const code = (err as { code?: number }).code;
        // 404: gone; 409: the precondition failed, a new pod of that name took its place
        if (code === 404 || code === 409) {
          this.opts.log.info({ pod: who }, 'pod removed');
          return;
        }
        throw err;
      }
    }
    throw new Error(`${who} is still there after 5 deletes with grace period 0`);
  }

  private async writeStatus(run: PodRun, pod: V1Pod): Promise<void> {
    if (this.stopped || run.terminating) return;
    try {
      await this.api.patchNamespacedPodStatus(
        { name: run.name, namespace: run.namespace, body: podStatusPatch(pod, run.node, run.status) },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
    } catch (err) {
      if ((err as { code?: number }).code === 404) return; // deleted meanwhile
      throw new Error(`status of ${run.namespace}/${run.name}: ${describeKubeError(err)}`);
    }
  }

  private async event(run: PodRun, pod: V1Pod, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = new Date();
    try {
      await this.api.createNamespacedEvent({
        namespace: run.namespace,
        body: {
          metadata: { name: `${run.name}.${Date.now().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`, namespace: run.namespace },
          involvedObject: {
            apiVersion: 'v1',
            kind: 'Pod',
            name: run.name,
            namespace: run.namespace,
            uid: run.uid,
            ...(pod.metadata?.resourceVersion ? { resourceVersion: pod.metadata.resourceVersion } : {}),
            ...(pod.spec?.containers?.[0] ? { fieldPath: `spec.containers{${pod.spec.containers[0].name}}` } : {}),
          },
          reason,
          message,
          type,
          source: { component: KUBELET_COMPONENT, host: run.node.name },
          reportingComponent: KUBELET_COMPONENT,
          reportingInstance: run.node.name,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (err) {
      this.opts.log.warn({ pod: `${run.namespace}/${run.name}`, reason, err: describeKubeError(err) }, 'cannot post event');
    }
  }
}
