// Thin wrappers over iproute2 (`ip`) for network namespaces and links. Every call goes through
// execa with an argument array; names are validated first so nothing odd reaches the kernel.
import { execa } from 'execa';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/; // IFNAMSIZ-1 for links
// Namespaces are files under /run/netns, so they may be longer (lab nodes: lpm-LAB-NODE).
const NETNS_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function checkName(kind: string, name: string): string {
  if (kind === 'namespace') {
    if (!NETNS_NAME.test(name)) throw new Error(`invalid namespace name "${name}" (1-63 chars of A-Z a-z 0-9 _ . -)`);
    return name;
  }
  if (!NAME.test(name)) throw new Error(`invalid ${kind} name "${name}" (1-15 chars of A-Z a-z 0-9 _ . -)`);
  return name;
}

/** Runs `ip ARGS...` (optionally inside a namespace) and returns stdout; throws with stderr on failure. */
export async function ip(args: string[], netns?: string): Promise<string> {
  const full = netns ? ['-n', checkName('namespace', netns), ...args] : args;
  const r = await execa('ip', full, { reject: false });
  if (r.exitCode !== 0) throw new Error(`ip ${full.join(' ')}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
  return r.stdout;
}

/** Runs `bridge ARGS...` (iproute2's fdb tool), optionally inside a namespace. */
export async function bridge(args: string[], netns?: string): Promise<string> {
  const full = netns ? ['-n', checkName('namespace', netns), ...args] : args;
  const r = await execa('bridge', full, { reject: false });
  if (r.exitCode !== 0) throw new Error(`bridge ${full.join(' ')}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
  return r.stdout;
}

/** Argument vector that runs a command inside a namespace: ['ip','netns','exec',NS,...cmd]. */
export function inNetns(netns: string, cmd: string[]): [string, string[]] {
  return ['ip', ['netns', 'exec', checkName('namespace', netns), ...cmd]];
}

export async function listNetns(): Promise<string[]> {
  const out = await ip(['netns', 'list']);
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

export async function addNetns(name: string): Promise<void> {
  await ip(['netns', 'add', checkName('namespace', name)]);
  await ip(['link', 'set', 'lo', 'up'], name);
}

/** Deletes a namespace if it exists (idempotent, so cleanup can run after a partial setup). */
export async function deleteNetns(name: string): Promise<void> {
  if ((await listNetns()).includes(name)) await ip(['netns', 'delete', name]);
}

/** Names of links in a namespace (or the root one). */
export async function listLinks(netns?: string): Promise<string[]> {
  const out = await ip(['-o', 'link', 'show'], netns);
  return out
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((n): n is string => !!n);
}

/** Deletes a link if it exists. */
export async function deleteLink(name: string, netns?: string): Promise<void> {
  if ((await listLinks(netns)).includes(name)) await ip(['link', 'delete', checkName('link', name)], netns);
}

/** Whether this process may create network namespaces (root, iproute2 present). */
export async function netnsCapability(): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'needs root (network namespaces)' };
  const probe = `lpmprobe${process.pid % 100000}`;
  try {
    await addNetns(probe);
    await deleteNetns(probe);
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `cannot create network namespaces: ${(err as Error).message}` };
  }
}
