// A component that cannot bind its address must not run half-started: `lpm extender`, `lpm agent`,
// the lab's emulator process and `lpm demo` exit non-zero (2, like a config error) within seconds,
// with one line naming the address and the reason, having stopped what they started. The ports
// are taken by a net.Server of this test on 127.0.0.1 (built CLI: run `npm run build` first).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExtender } from '../../extender/extender.js';
import { extenderConfigSchema } from '../../extender/config.js';
import type { MetricSource } from '../../extender/sources/source.js';
import { LinkMatrix } from '../../src/linkMatrix.js';
import { ListenError } from '../../src/listen.js';
import { createLogger } from '../../src/log.js';
import type { startEmulator as StartEmulator } from '../../scenarios/lab/emulator.js';
import type { LabPlan } from '../../scenarios/lab/plan.js';
import { built, describeWithCapabilities, missingCapabilities } from '../helpers/capability.js';

const BIN = new URL('../../bin/lpm.js', import.meta.url).pathname;
const missing = await missingCapabilities([built()]);

/** Well within "a few seconds", with room for a loaded two-core machine. */
const EXIT_WITHIN_MS = 10_000;

let dir = '';
let taken: Server;
let port = 0;
const servers: Array<{ close(cb?: () => void): unknown }> = [];

const listenLoopback = async <S extends Server | HttpServer>(srv: S, p = 0): Promise<S> => {
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(p, '127.0.0.1', () => resolve());
  });
  servers.push(srv);
  return srv;
};
const portOf = (srv: Server | HttpServer) => (srv.address() as AddressInfo).port;

/** A loopback port nothing listens on (the kernel's pick, released again). */
const freePort = async () => {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const p = portOf(s);
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return p;
};

/** Whether 127.0.0.1:p can be bound now (nothing of ours left listening there). */
const isFree = async (p: number) => {
  const s = createServer();
  return new Promise<boolean>((resolve) => {
    s.once('error', () => resolve(false));
    s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
  });
};

const lpm = async (args: string[]) => {
  const started = performance.now();
  // a timeout far past EXIT_WITHIN_MS: a process that keeps running is killed, and reported below
  const r = await execa(process.execPath, [BIN, ...args], { reject: false, timeout: 30_000 });
  return { ...r, ms: performance.now() - started };
};

function expectCleanFailure(r: Awaited<ReturnType<typeof lpm>>, line: RegExp) {
  expect(r.timedOut, `still running after 30 s; stderr:\n${r.stderr}`).toBe(false);
  expect(r.exitCode, r.stderr).toBe(2);
  expect(r.stderr).toMatch(line);
  expect(r.ms).toBeLessThan(EXIT_WITHIN_MS);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lpm-port-taken-'));
  taken = await listenLoopback(createServer());
  port = portOf(taken);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describeWithCapabilities('port already taken: the built CLI exits non-zero and says why (needs npm run build)', missing, () => {
  it('lpm extender', async () => {
    const cfg = join(dir, 'extender.yaml');
    await writeFile(
      cfg,
      `listen: 127.0.0.1:${port}\nkubernetes: { enabled: false }\nsource:\n  type: static\n  links:\n    - { source: a, target: b, rtt: 1ms }\n`,
    );
    const r = await lpm(['extender', '--config', cfg]);
    expectCleanFailure(r, new RegExp(`^lpm extender: cannot listen on 127\\.0\\.0\\.1:${port}: address already in use$`, 'm'));
  });

  it('lpm extender with Kubernetes enabled: the pod informer is not left running (nor started)', async () => {
    // a fake API server on loopback that counts requests: the extender binds before it lists pods
    let requests = 0;
    const api = await listenLoopback(
      createHttpServer((_req, res) => {
        requests++;
        res.writeHead(500).end();
      }),
    );
    const cfg = join(dir, 'extender-kube.yaml');
    await writeFile(
      cfg,
      `listen: 127.0.0.1:${port}\nkubernetes: { enabled: true, server: "http://127.0.0.1:${portOf(api)}" }\n` +
        `source:\n  type: static\n  links: []\n`,
    );
    const r = await lpm(['extender', '--config', cfg]);
    expectCleanFailure(r, new RegExp(`^lpm extender: cannot listen on 127\\.0\\.0\\.1:${port}: address already in use$`, 'm'));
    expect(requests).toBe(0);
  });

  it('lpm agent (its iperf3 server is not left running either)', async () => {
    const iperf3Port = await freePort();
    const cfg = join(dir, 'agent.yaml');
    await writeFile(
      cfg,
      [
        'node: node-a',
        'address: 127.0.0.1',
        `listen: 127.0.0.1:${port}`,
        `iperf3: { port: ${iperf3Port} }`,
        'targets:',
        '  - { name: node-b, address: 127.0.0.2 }',
        '',
      ].join('\n'),
    );
    const r = await lpm(['agent', '--config', cfg]);
    expectCleanFailure(r, new RegExp(`^lpm agent: cannot listen on 127\\.0\\.0\\.1:${port}: address already in use$`, 'm'));
    expect(await isFree(iperf3Port)).toBe(true);
  });

  it('lpm demo (sim mode): the web page port', async () => {
    const r = await lpm(['demo', '--mode', 'sim', '--port', String(port), '--exit-after-first-decisions']);
    expectCleanFailure(r, new RegExp(`^lpm demo: cannot listen on 127\\.0\\.0\\.1:${port}: address already in use$`, 'm'));
    expect(r.stdout).toMatch(/done: nothing left running/);
  });

  it('the lab emulator process: a link socket on an address this host does not have', async () => {
    // What `lpm lab up` starts (lpm lab emulator --state FILE), with a plan whose emulator address
    // is TEST-NET-1 (192.0.2.1, never assigned): its first UDP bind fails. No namespace is needed.
    const state = join(dir, 'lab-state.json');
    await writeFile(state, JSON.stringify({ version: 1, name: 'pt', compensate: true, plan: testPlan('192.0.2.1') }));
    const r = await lpm(['lab', 'emulator', '--state', state]);
    expectCleanFailure(r, /^lpm lab emulator: cannot listen on 192\.0\.2\.1:0 \(UDP, (link a->b|sending to a)\): address not available on this host$/m);
  });
});

function testPlan(emulatorAddress: string): LabPlan {
  const node = (name: string, index: number) => ({
    name,
    index,
    netns: `lpm-pt-${name}`,
    overlayAddress: `10.200.0.${index}`,
    underlayAddress: '127.0.0.1',
    mac: `02:4c:50:00:00:0${index}`,
    vethRoot: `lpm-pt-${index}`,
  });
  return {
    name: 'pt',
    overlaySubnet: '10.200.0.0/24',
    overlayPrefix: 24,
    underlaySubnet: '127.0.0.0/8',
    underlayPrefix: 8,
    emulatorAddress,
    rootBridge: 'lpm-pt',
    vni: 100,
    vxlanPort: 4789,
    nodes: [node('a', 1), node('b', 2)],
    links: [
      { from: 'a', to: 'b', delay: 0, jitter: 0, loss: 0, rate: null, queue: 0.1 },
      { from: 'b', to: 'a', delay: 0, jitter: 0, loss: 0, rate: null, queue: 0.1 },
    ],
  };
}

/** Sockets, servers and timers of this process, by kind (process.getActiveResourcesInfo). */
const resources = () => {
  const count: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) count[r] = (count[r] ?? 0) + 1;
  return count;
};

describe('port already taken, at the function level: nothing is left open', () => {
  it('the lab emulator: HTTP API port taken after the link sockets are bound', async () => {
    const log = createLogger('test', 'silent');
    const settle = () => new Promise((r) => setTimeout(r, 200));
    const before = resources();
    // the link sockets live in the emulator's worker threads (ended with them); this process
    // counts the HTTP API's server
    // the built emulator: its worker threads load compiled .js files (npm run build first)
    const { startEmulator } = (await import(new URL('../../dist/scenarios/lab/emulator.js', import.meta.url).href)) as { startEmulator: typeof StartEmulator };
    const running = await startEmulator(testPlan('127.0.0.1'), log);
    expect((resources().TCPServerWrap ?? 0) - (before.TCPServerWrap ?? 0)).toBe(1);
    await running.close();
    await settle();
    expect(resources().UDPWrap ?? 0).toBe(before.UDPWrap ?? 0);
    expect(resources().TCPServerWrap ?? 0).toBe(before.TCPServerWrap ?? 0);

    const err = await startEmulator(testPlan('127.0.0.1'), log, { httpPort: port }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // (the built code's ListenError: the same class, compiled)
    const compiled = (await import(new URL('../../dist/src/listen.js', import.meta.url).href)) as { ListenError: typeof ListenError };
    expect(err).toBeInstanceOf(compiled.ListenError);
    expect((err as Error).message).toBe(`cannot listen on 127.0.0.1:${port} (HTTP API): address already in use`);
    // every socket it had opened is closed again, the HTTP server too
    await settle();
    const after = resources();
    expect(after.UDPWrap ?? 0).toBe(before.UDPWrap ?? 0);
    expect(after.TCPServerWrap ?? 0).toBe(before.TCPServerWrap ?? 0);
  });

  it('the extender: start() rejects with a ListenError and never refreshes its matrix', async () => {
    let fetches = 0;
    const source: MetricSource = {
      type: 'static',
      interval: 0.05,
      fetch: async () => {
        fetches++;
        return new LinkMatrix();
      },
    };
    const config = extenderConfigSchema.parse({ source: { type: 'static', links: [] }, kubernetes: { enabled: false } });
    const ext = await createExtender({ config, source });
    const before = resources();
    await expect(ext.start({ host: '127.0.0.1', port })).rejects.toThrow(
      new ListenError(`127.0.0.1:${port}`, 'address already in use', 'EADDRINUSE'),
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(fetches).toBe(0);
    expect(resources().Timeout ?? 0).toBeLessThanOrEqual(before.Timeout ?? 0);
  });
});
