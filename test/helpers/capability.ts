// What a test needs from the machine (root, network namespaces, the built CLI, Kubernetes
// binaries, etcd, prometheus, promtool, openssl, chromium, iperf3, ping, setpriv, setcap), checked
// once per file. Locally a missing capability skips the tests and says why; in CI (CI=true)
// nothing is skipped silently: the suite fails with a test that names what is missing.
//
//   const missing = await missingCapabilities([netns(), built(), kubeBinaries()]);
//   describeWithCapabilities('lab up --kube', missing, () => { ... });
//   itWithCapabilities('one test that needs more', await missingCapabilities([setpriv()]), async () => { ... });
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { describe, it } from 'vitest';
import { netnsCapability } from '../../scenarios/lab/ip.js';
import { findKubeBinaries, KUBE_BIN_ENV, onPath, type KubeBinaries } from '../../scenarios/lab/kube/binaries.js';
import { prometheusAvailable } from '../../scenarios/lab/prometheus.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');

/** A check: undefined when present, else what is missing (a short sentence). */
export type Check = () => Promise<string | undefined>;

export const isCI = (env: NodeJS.ProcessEnv = process.env) => /^(1|true|yes)$/i.test((env.CI ?? '').trim());

/** Runs the checks; the reasons of those that failed. */
export async function missingCapabilities(checks: Check[]): Promise<string[]> {
  const out: string[] = [];
  for (const c of checks) {
    const why = await c();
    if (why) out.push(why);
  }
  return out;
}

/** What to do with tests that need capabilities, given what is missing and the environment. */
export type CapabilityDecision =
  | { action: 'run' }
  | { action: 'fail'; message: string }
  | { action: 'skip'; reason: string };

/**
 * The one decision every helper below applies: nothing missing, run; something missing and
 * CI=true, fail with a message naming it; otherwise skip, saying why.
 */
export function capabilityDecision(title: string, missing: string[], env: NodeJS.ProcessEnv = process.env): CapabilityDecision {
  if (missing.length === 0) return { action: 'run' };
  const why = missing.join('; ');
  if (isCI(env)) return { action: 'fail', message: `CI=true, and "${title}" cannot run: missing ${why}` };
  return { action: 'skip', reason: why };
}

const CI_TEST = 'has what it needs (CI=true: a missing capability fails instead of skipping)';

/**
 * describe() when nothing is missing. Otherwise: with CI=true, a suite with one failing test that
 * names what is missing; without, a skipped suite whose title says why (and a warning).
 */
export function describeWithCapabilities(title: string, missing: string[], body: () => void): void {
  const d = capabilityDecision(title, missing);
  if (d.action === 'run') {
    describe(title, body);
  } else if (d.action === 'fail') {
    describe(title, () => {
      it(CI_TEST, () => {
        throw new Error(d.message);
      });
    });
  } else {
    console.warn(`${title}: skipped: ${d.reason}`);
    describe.skip(`${title} (skipped: ${d.reason})`, body);
  }
}

type TestFn = () => Promise<void> | void;
/**
 * it() when nothing is missing (one test of a suite that needs more than the rest). Otherwise:
 * with CI=true, the test fails naming what is missing; without, it is skipped, its title saying why.
 */
export function itWithCapabilities(title: string, missing: string[], fn: TestFn): void;
export function itWithCapabilities(title: string, missing: string[], options: { timeout?: number }, fn: TestFn): void;
export function itWithCapabilities(title: string, missing: string[], a: { timeout?: number } | TestFn, b?: TestFn): void {
  const [options, fn] = typeof a === 'function' ? [{}, a] : [a, b!];
  const d = capabilityDecision(title, missing);
  if (d.action === 'run') {
    it(title, options, fn);
  } else if (d.action === 'fail') {
    it(title, () => {
      throw new Error(d.message);
    });
  } else {
    console.warn(`${title}: skipped: ${d.reason}`);
    it.skip(`${title} (skipped: ${d.reason})`, options, fn);
  }
}

/**
 * For a test that has a fallback of its own when a capability is absent (the demo in sim mode,
 * the benchmark saying why it did not measure): throws with CI=true when something is missing
 * (call it in a test or hook), else warns and returns false so the test checks the fallback.
 */
export function requireInCI(title: string, missing: string[]): boolean {
  const d = capabilityDecision(title, missing);
  if (d.action === 'fail') throw new Error(d.message);
  if (d.action === 'skip') console.warn(`${title}: without ${d.reason}: the fallback is what is tested`);
  return d.action === 'run';
}

export const root = (): Check => async () => (process.getuid?.() === 0 ? undefined : 'root (run the tests as root)');

/** Root and network namespaces (iproute2). */
export const netns = (): Check => async () => {
  const cap = await netnsCapability();
  return cap.ok ? undefined : `network namespaces: ${cap.reason}`;
};

/** The compiled CLI (bin/lpm.js imports dist/). */
export const built = (): Check => async () =>
  existsSync(join(ROOT, 'dist', 'cli', 'lpm.js')) ? undefined : 'the built CLI: run "npm run build" first (dist/ is missing)';

/** True when `name args` runs and exits 0 (e.g. `promtool --version`). */
export async function programRuns(name: string, args: readonly string[] = ['--version']): Promise<boolean> {
  const r = await execa(name, args, { reject: false, timeout: 20_000, stdin: 'ignore' });
  return r.exitCode === 0;
}

/** A program that answers `args` (e.g. --version) with exit code 0. */
export const program = (name: string, args: string[] = ['--version'], hint = ''): Check => async () =>
  (await programRuns(name, args)) ? undefined : `${name}${hint ? ` (${hint})` : ''}`;

/** Prometheus, by the lab's own check (the lab starts it when it is there). */
export const prometheus = (): Check => async () =>
  (await prometheusAvailable()) ? undefined : "prometheus (Debian's prometheus package; scripts/setup.sh installs it)";
export const promtool = () => program('promtool', ['--version'], "Debian's prometheus package");
export const openssl = () => program('openssl', ['version']);
/** Debian's Chromium at the path the browser tests launch (never a downloaded browser). */
export const chromium = (path = '/usr/bin/chromium') => program(path, ['--version'], 'apt package chromium: run "bash scripts/setup.sh"');
export const iperf3 = () => program('iperf3', ['--version'], 'apt package iperf3');
export const ping = () => program('ping', ['-V'], 'iputils-ping');
/** ping that may send ICMP echo here (one to 127.0.0.1). */
export const pingSends = () => program('ping', ['-n', '-c', '1', '-W', '1', '127.0.0.1'], 'iputils ping allowed to send ICMP echo');
export const setpriv = () => program('setpriv', ['--version'], 'util-linux');
/** setcap (libcap2-bin), also where /usr/sbin is not on PATH. */
export const setcap = (): Check => async () =>
  (await onPath('setcap', `${process.env.PATH ?? ''}:/usr/sbin:/sbin`)) ? undefined : 'setcap (libcap2-bin)';

/**
 * Folder of kube-apiserver, kube-scheduler and kubectl for tests: $LPM_KUBE_BIN, else the shared
 * ../shared/k8s/bin next to the repository when it exists.
 */
export function kubeBinDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env[KUBE_BIN_ENV]) return env[KUBE_BIN_ENV];
  const shared = resolve(ROOT, '..', 'shared', 'k8s', 'bin');
  return existsSync(join(shared, 'kube-apiserver')) ? shared : undefined;
}

let found: KubeBinaries | undefined;
/** The binaries kubeBinaries() found (after the check ran). */
export const kubeBins = (): KubeBinaries => {
  if (!found) throw new Error('kubeBinaries() has not found the Kubernetes binaries');
  return found;
};

/** kube-apiserver, kube-scheduler (v1.26+), kubectl and etcd. */
export const kubeBinaries = (): Check => async () => {
  try {
    const dir = kubeBinDir();
    found = await findKubeBinaries(undefined, { ...process.env, ...(dir ? { [KUBE_BIN_ENV]: dir } : {}) });
    if (!found.kubectl) return `kubectl in ${found.dir}`;
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
};
