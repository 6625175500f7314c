// A bare Kubernetes API for tests: etcd + kube-apiserver on loopback, nothing else (no scheduler,
// no nodes), with an admin kubeconfig (client certificate, group system:masters). Built from the
// lab control plane's own starters (scenarios/lab/kube: PKI, etcd, kube-apiserver with the flags
// ../shared/k8s/README.md lists), without the rest of `lab up --kube`.
// Binaries: the capability check kubeBinaries() of capability.ts finds them (kubeBins()).
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeBinaries } from '../../scenarios/lab/kube/binaries.js';
import { newToken, startApiserver, startEtcd } from '../../scenarios/lab/kube/controlPlane.js';
import { writeKubeconfig } from '../../scenarios/lab/kube/kubeconfig.js';
import { base64File, makePki } from '../../scenarios/lab/kube/pki.js';
import { stopProcess } from '../../scenarios/lab/processes.js';
import { freeLoopbackPort } from '../../scenarios/lab/prometheus.js';
import type { ProcessRecord } from '../../scenarios/lab/state.js';

export interface TestApiserver {
  /** Admin kubeconfig file. */
  kubeconfig: string;
  server: string;
  stop(): Promise<void>;
}

/**
 * Starts etcd and kube-apiserver with their files under `dir` (default: a new temporary
 * directory); stop() stops both and removes `dir` (also after a failed start).
 */
export async function startTestApiserver(bins: KubeBinaries, where?: string): Promise<TestApiserver> {
  const dir = where ?? (await mkdtemp(join(tmpdir(), 'lpm-test-apiserver-')));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const procs: ProcessRecord[] = [];
  const stop = async () => {
    for (const p of procs.reverse()) await stopProcess(p).catch(() => undefined);
    procs.length = 0;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const taken = new Set<number>();
    const port = async () => {
      for (;;) {
        const p = await freeLoopbackPort(0);
        if (!taken.has(p)) {
          taken.add(p);
          return p;
        }
      }
    };
    const [etcdClient, etcdPeer, apiPort] = [await port(), await port(), await port()];
    const pki = await makePki(join(dir, 'pki'));
    await startEtcd({ lab: 'test', dir, bin: bins.etcd, clientPort: etcdClient, peerPort: etcdPeer }, async (p) => {
      procs.push(p);
    });
    const api = await startApiserver(
      { dir, bin: bins, pki, etcdPort: etcdClient, port: apiPort, tokenFile: join(dir, 'tokens.csv') },
      [{ token: newToken(), user: 'lpm-test-unused', uid: 'lpm-test-unused', groups: [] }],
      async (p) => {
        procs.push(p);
      },
    );
    await api.agent.close();
    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfig = join(dir, 'kubeconfig');
    await writeKubeconfig(kubeconfig, {
      name: 'lpm-test',
      server,
      caData: await base64File(pki.caCert),
      userName: 'admin',
      user: { clientCertificateData: await base64File(pki.adminCert), clientKeyData: await base64File(pki.adminKey) },
    });
    return { kubeconfig, server, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
