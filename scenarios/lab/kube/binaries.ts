// Finding the control-plane programs for `lab up --kube`: kube-apiserver and kube-scheduler (and
// kubectl, only to print how to use the lab) from --kube-bin DIR, else $LPM_KUBE_BIN, else PATH;
// etcd from PATH or Debian's /usr/bin/etcd (package etcd-server). Version 1.26 or later.
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { execa } from 'execa';

export const KUBE_BIN_ENV = 'LPM_KUBE_BIN';
export const MIN_KUBE_MINOR = 26;

export interface KubeBinaries {
  /** Folder of kube-apiserver and kube-scheduler. */
  dir: string;
  apiserver: string;
  scheduler: string;
  /** Only when it sits next to them (kubectl on PATH may be another program). */
  kubectl?: string;
  etcd: string;
  /** "v1.26.1" */
  version: string;
  /** "3.4.23" */
  etcdVersion: string;
}

const WHERE =
  'They come with Kubernetes (v1.26 or later): the official kubernetes-server-linux-amd64.tar.gz ' +
  '(https://dl.k8s.io/release/v1.26.1/kubernetes-server-linux-amd64.tar.gz) has them in kubernetes/server/bin/.';

async function executable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Full path of `name` on PATH, or undefined. */
export async function onPath(name: string, path = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    if (await executable(file)) return file;
  }
  return undefined;
}

/** "Kubernetes v1.26.1" -> { version: 'v1.26.1', minor: 26 }. */
export function parseKubeVersion(text: string): { version: string; minor: number } | undefined {
  const m = /\bv(\d+)\.(\d+)\.(\d+)\S*/.exec(text);
  if (!m) return undefined;
  return { version: m[0], minor: Number(m[1]) === 1 ? Number(m[2]) : 1000 };
}

/**
 * The programs `lab up --kube` runs. `dirFlag` is --kube-bin; `env` gives LPM_KUBE_BIN and PATH.
 * Throws a message that says where the binaries are looked for and where to get them.
 */
export async function findKubeBinaries(dirFlag?: string, env: NodeJS.ProcessEnv = process.env): Promise<KubeBinaries> {
  let dir = dirFlag || env[KUBE_BIN_ENV] || undefined;
  const from = dirFlag ? '--kube-bin' : dir ? KUBE_BIN_ENV : undefined;
  if (dir) {
    const missing: string[] = [];
    for (const p of ['kube-apiserver', 'kube-scheduler']) if (!(await executable(join(dir, p)))) missing.push(p);
    if (missing.length)
      throw new Error(
        `${from} ${dir}: no executable ${missing.join(' or ')} there; give the folder of kube-apiserver and kube-scheduler ` +
          `with --kube-bin DIR or the ${KUBE_BIN_ENV} environment variable. ${WHERE}`,
      );
  } else {
    const apiserver = await onPath('kube-apiserver', env.PATH);
    const scheduler = apiserver ? join(dirname(apiserver), 'kube-scheduler') : undefined;
    if (!apiserver || !scheduler || !(await executable(scheduler)))
      throw new Error(
        `kube-apiserver and kube-scheduler not found: give their folder with --kube-bin DIR or the ${KUBE_BIN_ENV} ` +
          `environment variable (or put them on PATH). ${WHERE}`,
      );
    dir = dirname(apiserver);
  }
  const apiserver = join(dir, 'kube-apiserver');
  const scheduler = join(dir, 'kube-scheduler');
  const v = await execa(apiserver, ['--version'], { reject: false, timeout: 10_000 });
  const parsed = parseKubeVersion(`${v.stdout}`);
  if (v.exitCode !== 0 || !parsed) throw new Error(`${apiserver} --version failed: ${(v.stderr || v.stdout || v.shortMessage || '').trim()}`);
  if (parsed.minor < MIN_KUBE_MINOR)
    throw new Error(`${apiserver} is Kubernetes ${parsed.version}; lab up --kube needs v1.${MIN_KUBE_MINOR} or later. ${WHERE}`);
  const kubectl = join(dir, 'kubectl');
  const etcd = (await onPath('etcd', env.PATH)) ?? ((await executable('/usr/bin/etcd')) ? '/usr/bin/etcd' : undefined);
  if (!etcd)
    throw new Error("etcd not found on PATH or at /usr/bin/etcd: install Debian's etcd-server package (apt-get install etcd-server)");
  const ev = await execa(etcd, ['--version'], { reject: false, timeout: 10_000 });
  const etcdVersion = /etcd Version:\s*(\S+)/.exec(ev.stdout)?.[1];
  if (ev.exitCode !== 0 || !etcdVersion) throw new Error(`${etcd} --version failed: ${(ev.stderr || ev.stdout || ev.shortMessage || '').trim()}`);
  return {
    dir,
    apiserver,
    scheduler,
    ...((await executable(kubectl)) ? { kubectl } : {}),
    etcd,
    version: parsed.version,
    etcdVersion,
  };
}

/**
 * The binaries when they can be found, for callers that fall back to another path without them
 * (the scenario runner's lab mode, the demo): `dir`, else $LPM_KUBE_BIN, else PATH, else
 * ../shared/k8s/bin next to the package (`packageRoot`). With `required`, a failure throws.
 */
export async function locateKubeBinaries(
  packageRoot: string,
  opts: { dir?: string; required?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<{ bins?: KubeBinaries; error?: string }> {
  const env = opts.env ?? process.env;
  const shared = join(packageRoot, '..', 'shared', 'k8s', 'bin');
  let dir = opts.dir ?? env[KUBE_BIN_ENV];
  if (!dir && !(await onPath('kube-apiserver', env.PATH)) && (await executable(join(shared, 'kube-apiserver')))) dir = shared;
  try {
    return { bins: await findKubeBinaries(dir, env) };
  } catch (err) {
    if (opts.required) throw err;
    return { error: (err as Error).message };
  }
}
