// An `iperf3 -s` left behind by an agent that died without stopping it (SIGKILL, OOM kill, a
// crash outside Node) keeps listening on the agent's port, so the next agent's own server fails
// with "Address already in use" and its /readyz stays 503 for good. Before it starts a server, the
// agent looks for that: the socket listening on the port (/proc/net/tcp and tcp6, in the agent's
// network namespace), the process holding it (/proc/PID/fd links to `socket:[INODE]`), and kills
// it when it is an `iperf3 -s` on that port that no running agent owns, logging what it killed.
// Anything else on the port is left alone and named in the log. Linux only; elsewhere (no /proc)
// it finds nothing.
import { readdir, readFile, readlink } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { Logger } from '../../src/log.js';

export interface ListeningSocket {
  /** The local address, as text ("0.0.0.0", "::", "127.0.0.1", "::ffff:10.0.0.1"). */
  address: string;
  port: number;
  inode: number;
}

/** `/proc/net/tcp` (ipv6 = false) or `/proc/net/tcp6` text -> the sockets in state LISTEN. */
export function parseProcNetTcp(text: string, ipv6: boolean): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '0A') continue; // 0A = TCP_LISTEN
    const [addrHex, portHex] = f[1]!.split(':');
    const inode = Number(f[9]);
    if (!addrHex || !portHex || !Number.isInteger(inode)) continue;
    out.push({ address: ipv6 ? hexToIPv6(addrHex) : hexToIPv4(addrHex), port: parseInt(portHex, 16), inode });
  }
  return out;
}

/** The kernel prints an IPv4 address as one 32-bit word in host byte order (little-endian here). */
function hexToIPv4(hex: string): string {
  const n = parseInt(hex, 16);
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff].join('.');
}

/** ... and an IPv6 address as four such words. */
function hexToIPv6(hex: string): string {
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let b = 3; b >= 0; b--) bytes.push(parseInt(word.slice(b * 2, b * 2 + 2), 16));
  }
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff)
    return `::ffff:${bytes.slice(12).join('.')}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // the longest run of zero groups becomes "::"
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (bestLen < 2) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

const WILDCARDS = new Set(['0.0.0.0', '::']);
const unmapped = (a: string) => (a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a);

/** Whether a socket listening on `address` keeps a server bound to `bind` (none: all addresses) from binding the same port. */
export function addressesConflict(address: string, bind: string | undefined): boolean {
  if (bind === undefined || WILDCARDS.has(bind) || WILDCARDS.has(address)) return true;
  return unmapped(address) === unmapped(bind);
}

/** Whether argv is an iperf3 server on `port` (`-p`/`--port`, default 5201). */
export function isIperf3Server(argv: readonly string[], port: number): boolean {
  const prog = argv[0]?.split('/').pop();
  if (prog !== 'iperf3') return false;
  if (!argv.includes('-s') && !argv.includes('--server')) return false;
  let p = 5201;
  argv.forEach((a, i) => {
    if (a === '-p' || a === '--port') p = Number(argv[i + 1]);
    else if (a.startsWith('--port=')) p = Number(a.slice(7));
  });
  return p === port;
}

/** Whether argv is a running lpm agent (`node .../lpm.js agent ...`, or the `collector` alias). */
export function isLpmAgent(argv: readonly string[]): boolean {
  const i = argv.findIndex((a) => /(^|\/)lpm(\.js)?$/.test(a));
  return i >= 0 && (argv[i + 1] === 'agent' || argv[i + 1] === 'collector');
}

export interface PortHolder {
  pid: number;
  argv: string[];
  ppid: number;
  socket: ListeningSocket;
}

/** Where the information comes from (a test may point it elsewhere). */
export interface ProcFs {
  root: string;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function argvOf(proc: string, pid: number): Promise<string[] | undefined> {
  const text = await readText(`${proc}/${pid}/cmdline`);
  return text === undefined ? undefined : text.split('\0').filter((a) => a.length > 0);
}

async function ppidOf(proc: string, pid: number): Promise<number | undefined> {
  const stat = await readText(`${proc}/${pid}/stat`);
  if (!stat) return undefined;
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[1]);
}

/** State letter of a process (R, S, Z...), undefined once it is gone. */
async function stateOf(proc: string, pid: number): Promise<string | undefined> {
  const stat = await readText(`${proc}/${pid}/stat`);
  return stat ? stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] : undefined;
}

/**
 * The processes holding a socket that listens on `port` and conflicts with `bind`, with the
 * sockets found but whose holder this process may not see (another user's, another PID namespace).
 */
export async function findPortHolders(
  port: number,
  bind: string | undefined,
  fs: ProcFs = { root: '/proc' },
): Promise<{ holders: PortHolder[]; unknown: ListeningSocket[] }> {
  const sockets = [
    ...parseProcNetTcp((await readText(`${fs.root}/net/tcp`)) ?? '', false),
    ...parseProcNetTcp((await readText(`${fs.root}/net/tcp6`)) ?? '', true),
  ].filter((s) => s.port === port && addressesConflict(s.address, bind));
  if (sockets.length === 0) return { holders: [], unknown: [] };
  const byInode = new Map(sockets.map((s) => [`socket:[${s.inode}]`, s]));
  const holders: PortHolder[] = [];
  const seen = new Set<number>();
  let pids: number[] = [];
  try {
    pids = (await readdir(fs.root)).filter((d) => /^\d+$/.test(d)).map(Number);
  } catch {
    return { holders, unknown: sockets };
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = await readdir(`${fs.root}/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to look at
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = await readlink(`${fs.root}/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const socket = byInode.get(link);
      if (!socket) continue;
      seen.add(socket.inode);
      const argv = await argvOf(fs.root, pid);
      const ppid = await ppidOf(fs.root, pid);
      if (argv && ppid !== undefined) holders.push({ pid, argv, ppid, socket });
      break;
    }
  }
  return { holders, unknown: sockets.filter((s) => !seen.has(s.inode)) };
}

export interface ReplaceStaleOptions {
  port: number;
  bind: string | undefined;
  log: Logger;
  /** This process: its own children are never touched. */
  self?: number;
  fs?: ProcFs;
  /** How long a killed server may take to exit after SIGTERM before SIGKILL (ms). */
  graceMs?: number;
}

/**
 * Kills a stale `iperf3 -s` holding `port` (see the top of the file). Returns the pids killed.
 * Never throws: a failure is logged and the caller starts its server anyway (which then fails and
 * is retried with backoff, as before).
 */
export async function replaceStaleIperf3(o: ReplaceStaleOptions): Promise<number[]> {
  const self = o.self ?? process.pid;
  const fs = o.fs ?? { root: '/proc' };
  const killed: number[] = [];
  try {
    const { holders, unknown } = await findPortHolders(o.port, o.bind, fs);
    for (const s of unknown)
      o.log.warn({ port: o.port, address: s.address, inode: s.inode }, 'iperf3 port is held by a process this agent cannot see; the server will retry');
    for (const h of holders) {
      const who = { pid: h.pid, command: h.argv.join(' '), parentPid: h.ppid, port: o.port, address: h.socket.address };
      if (h.pid === self || h.ppid === self) continue; // our own (a server still stopping)
      if (!isIperf3Server(h.argv, o.port)) {
        o.log.warn(who, 'iperf3 port is held by another program: not touching it; the server will retry');
        continue;
      }
      const parent = h.ppid > 1 ? await argvOf(fs.root, h.ppid) : undefined;
      if (parent && isLpmAgent(parent)) {
        o.log.warn({ ...who, parentCommand: parent.join(' ') }, 'iperf3 port is held by the server of another running agent: not touching it');
        continue;
      }
      o.log.warn(who, 'killing a stale iperf3 server holding the port (left behind by an agent that did not stop it)');
      await killAndWait(h.pid, fs.root, o.graceMs ?? 2000);
      killed.push(h.pid);
    }
  } catch (err) {
    o.log.warn({ port: o.port, err: String(err) }, 'looking for a stale iperf3 server failed');
  }
  return killed;
}

async function killAndWait(pid: number, proc: string, graceMs: number): Promise<void> {
  const gone = async () => {
    const state = await stateOf(proc, pid);
    return state === undefined || state === 'Z' || state === 'X'; // a zombie holds no socket
  };
  const waitGone = async (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (await gone()) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return gone();
  };
  const send = (signal: NodeJS.Signals) => {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone, or not ours to kill (then the port stays taken and the server retries)
    }
  };
  send('SIGTERM');
  if (await waitGone(graceMs)) return;
  send('SIGKILL');
  await waitGone(1000);
}
