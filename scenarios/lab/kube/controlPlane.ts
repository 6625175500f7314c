// etcd and kube-apiserver on loopback: the lab cluster's API. Facts they rely on (checked with
// v1.26): the apiserver authenticates client certificates from our CA and the bearer tokens of a
// token file, authorizes with RBAC, signs service-account tokens with our RSA key (TokenRequest
// works without a controller-manager), and runs without the ServiceAccount admission plugin (it
// waits for token controllers that never run) and without TaintNodesByCondition (nothing would
// remove the not-ready taint from new Nodes).
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Agent } from 'undici';
import { spawnDetached } from '../processes.js';
import type { ProcessRecord } from '../state.js';
import type { KubeBinaries } from './binaries.js';
import { tlsAgent, waitHttpReady } from './http.js';
import { SERVICE_CLUSTER_IP_RANGE, type Pki } from './pki.js';

/** Users of the token file: the default scheduler (bootstrap RBAC knows it) and the hollow kubelet. */
export const DEFAULT_SCHEDULER_USER = 'system:kube-scheduler';
export const KUBELET_USER = 'lpm-lab-hollow-kubelet';
export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export interface StaticToken {
  token: string;
  user: string;
  uid: string;
  groups: string[];
}

export const newToken = () => randomBytes(24).toString('hex');

/** kube-apiserver --token-auth-file: `token,user,uid,"group1,group2"` per line. */
export function tokenFileText(tokens: StaticToken[]): string {
  for (const t of tokens)
    if (/[,"\n]/.test(t.token + t.user + t.uid) || t.groups.some((g) => /[,"\n]/.test(g)))
      throw new Error(`token file: "${t.user}" has a comma, quote or newline`);
  return tokens.map((t) => [t.token, t.user, t.uid, ...(t.groups.length ? [`"${t.groups.join(',')}"`] : [])].join(',')).join('\n') + '\n';
}

export interface EtcdOptions {
  lab: string;
  dir: string;
  bin: string;
  clientPort: number;
  peerPort: number;
}

export function etcdArgs(o: EtcdOptions): string[] {
  const client = `http://127.0.0.1:${o.clientPort}`;
  const peer = `http://127.0.0.1:${o.peerPort}`;
  return [
    '--name', `lpm-${o.lab}`,
    '--data-dir', join(o.dir, 'etcd-data'),
    '--listen-client-urls', client,
    '--advertise-client-urls', client,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `lpm-${o.lab}=${peer}`,
    '--initial-cluster-state', 'new',
    '--initial-cluster-token', `lpm-lab-${o.lab}`,
    '--logger', 'zap',
    '--log-level', 'warn',
  ];
}

/** Starts etcd and waits for GET /health. */
export async function startEtcd(o: EtcdOptions, spawned?: (p: ProcessRecord) => Promise<void>): Promise<ProcessRecord> {
  await mkdir(join(o.dir, 'etcd-data'), { recursive: true, mode: 0o700 });
  const log = join(o.dir, 'etcd.log');
  const pid = spawnDetached(o.bin, etcdArgs(o), log);
  const rec = { pid, marker: join(o.dir, 'etcd-data'), log };
  await spawned?.(rec);
  await waitHttpReady('etcd', `http://127.0.0.1:${o.clientPort}/health`, rec, {
    timeoutMs: 30_000,
    ok: (body) => /"health":\s*"true"/.test(body),
  });
  return rec;
}

export interface ApiserverOptions {
  dir: string;
  bin: KubeBinaries;
  pki: Pki;
  etcdPort: number;
  port: number;
  tokenFile: string;
}

export function apiserverArgs(o: ApiserverOptions): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${o.etcdPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${o.port}`,
    `--cert-dir=${join(o.dir, 'pki')}`,
    `--tls-cert-file=${o.pki.servingCert}`,
    `--tls-private-key-file=${o.pki.servingKey}`,
    `--client-ca-file=${o.pki.caCert}`,
    `--token-auth-file=${o.tokenFile}`,
    '--authorization-mode=RBAC',
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${o.pki.saPub}`,
    `--service-account-signing-key-file=${o.pki.saKey}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    '--disable-admission-plugins=ServiceAccount,TaintNodesByCondition',
    '--profiling=false',
    '--v=1',
  ];
}

/** Writes the token file, starts kube-apiserver and waits for /readyz (RBAC bootstrap included). */
export async function startApiserver(
  o: ApiserverOptions,
  tokens: StaticToken[],
  spawned?: (p: ProcessRecord) => Promise<void>,
): Promise<{ proc: ProcessRecord; agent: Agent }> {
  await writeFile(o.tokenFile, tokenFileText(tokens), { mode: 0o600 });
  const log = join(o.dir, 'kube-apiserver.log');
  const pid = spawnDetached(o.bin.apiserver, apiserverArgs(o), log);
  const proc = { pid, marker: `--token-auth-file=${o.tokenFile}`, log };
  await spawned?.(proc);
  const agent = await tlsAgent({ ca: o.pki.caCert, cert: o.pki.adminCert, key: o.pki.adminKey });
  await waitHttpReady('kube-apiserver', `https://127.0.0.1:${o.port}/readyz`, proc, { agent, timeoutMs: 90_000 });
  return { proc, agent };
}
