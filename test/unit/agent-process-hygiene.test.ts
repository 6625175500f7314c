// The agent's housekeeping, without tools: finding a stale `iperf3 -s` that holds the agent's port
// (agent/tools/staleIperf3.ts: /proc/net/tcp, /proc/PID/fd, what counts as stale) and the missing-
// config warning that is rate-limited (agent/configWatcher.ts). The real thing (a stale server
// killed, SIGKILL, SIGTERM after a restart, the warnings of the built CLI):
// test/integration/agent-process-hygiene.test.ts.
import { mkdir, mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  addressesConflict,
  findPortHolders,
  isIperf3Server,
  isLpmAgent,
  parseProcNetTcp,
} from '../../agent/tools/staleIperf3.js';
import { ConfigWatcher } from '../../agent/configWatcher.js';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1451 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0
   1: 00000000:2391 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1451 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000  1000        0 4444 1 0000000000000000 20 4 30 10 -1
   3: 0A0000C0:1451 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4545 1 0000000000000000 100 0 0 10 0
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1452 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 5252 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100000A:1451 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 5353 1 0000000000000000 100 0 0 10 0
   2: 00000000000000000000000001000000:1453 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 5454 1 0000000000000000 100 0 0 10 0
   3: 000080FE00000000FF00000001000000:1454 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 5555 1 0000000000000000 100 0 0 10 0
`;

describe('stale iperf3 servers: /proc parsing and what counts as stale', () => {
  it('reads the listening sockets of /proc/net/tcp and tcp6 (addresses in host byte order)', () => {
    expect(parseProcNetTcp(TCP, false)).toEqual([
      { address: '127.0.0.1', port: 5201, inode: 4242 },
      { address: '0.0.0.0', port: 9105, inode: 4343 },
      // line 2 is an established connection: not listening
      { address: '192.0.0.10', port: 5201, inode: 4545 },
    ]);
    expect(parseProcNetTcp(TCP6, true)).toEqual([
      { address: '::', port: 5202, inode: 5252 },
      { address: '::ffff:10.0.0.1', port: 5201, inode: 5353 },
      { address: '::1', port: 5203, inode: 5454 },
      { address: 'fe80::ff:0:1', port: 5204, inode: 5555 },
    ]);
    expect(parseProcNetTcp('', true)).toEqual([]);
  });

  it('a listener conflicts with our server when either side is a wildcard or both are the same address', () => {
    expect(addressesConflict('0.0.0.0', '10.0.0.1')).toBe(true);
    expect(addressesConflict('::', '10.0.0.1')).toBe(true);
    expect(addressesConflict('10.0.0.1', undefined)).toBe(true);
    expect(addressesConflict('10.0.0.1', '10.0.0.1')).toBe(true);
    expect(addressesConflict('::ffff:10.0.0.1', '10.0.0.1')).toBe(true);
    expect(addressesConflict('10.0.0.2', '10.0.0.1')).toBe(false); // another agent of a lab, same port
    expect(addressesConflict('::1', '127.0.0.1')).toBe(false);
  });

  it('only an iperf3 server on that very port is ours to replace; a running agent keeps its own', () => {
    expect(isIperf3Server(['iperf3', '-s', '-p', '5201', '--idle-timeout', '30'], 5201)).toBe(true);
    expect(isIperf3Server(['/usr/bin/iperf3', '--server', '--port=5202'], 5202)).toBe(true);
    expect(isIperf3Server(['iperf3', '-s'], 5201)).toBe(true); // iperf3's default port
    expect(isIperf3Server(['iperf3', '-s', '-p', '5202'], 5201)).toBe(false);
    expect(isIperf3Server(['iperf3', '-c', '10.0.0.2', '-p', '5201'], 5201)).toBe(false); // a client
    expect(isIperf3Server(['nc', '-l', '-p', '5201'], 5201)).toBe(false);
    expect(isLpmAgent(['/usr/bin/node', '/app/bin/lpm.js', 'agent', '--config', '/etc/lpm/agent.yaml'])).toBe(true);
    expect(isLpmAgent(['node', 'bin/lpm.js', 'collector', '--config_file', 'x.json'])).toBe(true);
    expect(isLpmAgent(['node', 'bin/lpm.js', 'extender', '--config', 'e.yaml'])).toBe(false);
    expect(isLpmAgent(['bash'])).toBe(false);
  });

  describe('findPortHolders on a /proc laid out in a directory', () => {
    let root = '';
    afterEach(async () => {
      if (root) await rm(root, { recursive: true, force: true });
    });

    async function proc(pid: number, o: { argv: string[]; ppid: number; sockets: number[] }) {
      await mkdir(join(root, String(pid), 'fd'), { recursive: true });
      await writeFile(join(root, String(pid), 'cmdline'), `${o.argv.join('\0')}\0`);
      await writeFile(join(root, String(pid), 'stat'), `${pid} (${o.argv[0]}) S ${o.ppid} ${pid} ${pid} 0 -1`);
      await symlink('/dev/null', join(root, String(pid), 'fd', '0'));
      for (const [i, inode] of o.sockets.entries()) await symlink(`socket:[${inode}]`, join(root, String(pid), 'fd', String(i + 3)));
    }

    it('maps the listening socket of the port to its process, and reports sockets nobody visible holds', async () => {
      root = await mkdtemp(join(tmpdir(), 'lpm-proc-'));
      await mkdir(join(root, 'net'));
      await writeFile(join(root, 'net', 'tcp'), TCP);
      await writeFile(join(root, 'net', 'tcp6'), TCP6);
      await proc(100, { argv: ['iperf3', '-s', '-p', '5201', '-B', '127.0.0.1'], ppid: 1, sockets: [4242] });
      await proc(200, { argv: ['node', 'bin/lpm.js', 'agent'], ppid: 1, sockets: [4343] });
      const both = await findPortHolders(5201, undefined, { root });
      expect(both.holders).toEqual([
        { pid: 100, argv: ['iperf3', '-s', '-p', '5201', '-B', '127.0.0.1'], ppid: 1, socket: { address: '127.0.0.1', port: 5201, inode: 4242 } },
      ]);
      // 192.0.0.10 and ::ffff:10.0.0.1 on 5201: held by processes this /proc does not show
      expect(both.unknown.map((s) => s.inode).sort()).toEqual([4545, 5353]);
      // bound to another address: no conflict, nothing to look for
      expect(await findPortHolders(5201, '10.9.9.9', { root })).toEqual({ holders: [], unknown: [] });
      expect((await findPortHolders(5201, '127.0.0.1', { root })).holders.map((h) => h.pid)).toEqual([100]);
      expect(await findPortHolders(6000, undefined, { root })).toEqual({ holders: [], unknown: [] });
    });
  });
});

describe('ConfigWatcher: a missing config file is warned about once, then rarely, and its return is logged', () => {
  let dir = '';
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('first warning at once, at most one per missingWarnEveryMs after, an info line when it is back', async () => {
    dir = await mkdtemp(join(tmpdir(), 'lpm-watch-'));
    const file = join(dir, 'agent.yaml');
    const text = 'node: node-a\naddress: 10.0.0.1\ntargets:\n  - { name: node-b, address: 10.0.0.2 }\n';
    await writeFile(file, text);
    const lines: Array<{ level: number; msg: string; [k: string]: unknown }> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as (typeof lines)[number]);
        done();
      },
    });
    const log = pino({ level: 'info' }, sink);
    const watcher = new ConfigWatcher({ file, initialText: text, log, onConfig: () => undefined, missingWarnEveryMs: 400 });
    const warnings = () => lines.filter((l) => l.level === 40);
    try {
      await unlink(file);
      for (let i = 0; i < 20; i++) await watcher.check(); // a busy directory: many events
      await new Promise((r) => setImmediate(r));
      expect(warnings().map((l) => l.msg)).toEqual(['config file cannot be read (deleted?); keeping the running config']);
      await new Promise((r) => setTimeout(r, 450));
      for (let i = 0; i < 5; i++) await watcher.check();
      await new Promise((r) => setImmediate(r));
      expect(warnings()).toHaveLength(2);
      expect(warnings()[1]).toMatchObject({ msg: 'config file still cannot be read; keeping the running config', checksSinceLastWarning: 20, code: 'ENOENT' });
      await writeFile(file, text);
      await watcher.check();
      await new Promise((r) => setImmediate(r));
      expect(lines.at(-1)).toMatchObject({ level: 30, msg: 'config file is readable again' });
      // missing again: warned at once again
      await unlink(file);
      await watcher.check();
      await new Promise((r) => setImmediate(r));
      expect(warnings()).toHaveLength(3);
    } finally {
      watcher.stop();
    }
  });
});
