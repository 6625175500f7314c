// What `lab up --kube` prints about the control plane, and the control-plane part of `lab status`.
import { join } from 'node:path';
import type { LabState } from '../state.js';
import { LAB_COMMAND_ANNOTATION } from './workload.js';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => '    ' + r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/** kubectl by full path (a `kubectl` on PATH may be another program), or a placeholder. */
export const kubectlCommand = (state: LabState) => state.kube?.kubectl ?? join(state.kube?.bin ?? 'KUBE_BIN', 'kubectl');

/** How to use the lab cluster: printed by `lab up --kube`. */
export function kubeUsage(state: LabState): string {
  const k = state.kube!;
  const kubectl = `${kubectlCommand(state)} --kubeconfig ${k.kubeconfig}`;
  return [
    `kubernetes ${k.version} at ${k.server} (etcd on 127.0.0.1:${k.ports.etcdClient}); nodes ${k.nodes.join(', ')}`,
    `  kubeconfig ${k.kubeconfig}`,
    `  try: ${kubectl} get nodes`,
    `  schedulers: default-scheduler, and lpm-scheduler (pods with schedulerName: lpm-scheduler) calling the lpm extender at ${k.extender?.url ?? '?'} (source ${k.extender?.source ?? '?'})`,
    `  pods get their node's overlay address as pod IP; annotate one with ${LAB_COMMAND_ANNOTATION}: '["iperf3", "-s"]' to run that command in its node's namespace`,
    `  logs: ${k.dir}/*.log, workload output in ${k.dir}/pods/`,
    '',
  ].join('\n');
}

/** The control plane in `lab status`: processes (running or not when `alive` is given), ports, kubeconfig. */
export function formatKubeStatus(state: LabState, alive?: Record<string, boolean>): string {
  const k = state.kube!;
  const lines = [`  kubernetes ${k.version} at ${k.server}, kubeconfig ${k.kubeconfig}`];
  lines.push(`    ${kubectlCommand(state)} --kubeconfig ${k.kubeconfig} get nodes`);
  const rows = [['PROCESS', 'PID', 'STATE', 'ADDRESS', 'LOG']];
  const row = (name: string, p: { pid: number; log: string } | undefined, address: string) => {
    if (!p) return;
    const st = alive ? (alive[name] ? 'running' : 'NOT RUNNING') : 'started';
    rows.push([name, String(p.pid), st, address, p.log]);
  };
  row('etcd', k.etcd, `http://127.0.0.1:${k.ports.etcdClient}`);
  row('kube-apiserver', k.apiserver, k.server);
  row('lpm-extender', k.extender, `${k.extender?.url ?? ''} (source ${k.extender?.source ?? '?'})`);
  for (const s of k.schedulers) row(s.name, s, `https://127.0.0.1:${s.port}`);
  row('hollow-kubelet', k.kubelet, `nodes ${k.nodes.join(', ')}`);
  lines.push(table(rows).trimEnd());
  return lines.join('\n') + '\n';
}
