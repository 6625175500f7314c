// `lpm demo` end to end, as CI's smoke test: the real CLI (bin/lpm.js, so `npm run build` must
// have run), under its own lab name (wdemo) so a running demo is never touched. As root: lab mode
// (namespaces, emulator, agents with real ping/iperf3, extender, Prometheus when installed);
// without network namespaces the demo itself falls back to sim mode, which is then what is tested.
// Afterwards nothing of the lab may be left: no namespace, no emulator/agent/Prometheus process.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown } from '../../scenarios/lab/lab.js';
import { listNetns } from '../../scenarios/lab/ip.js';
import { findByMarker, stopProcess } from '../../scenarios/lab/processes.js';
import { agentConfigPath, statePath } from '../../scenarios/lab/state.js';
import { built, kubeBinaries, kubeBins, missingCapabilities, netns, requireInCI } from '../helpers/capability.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'lpm.js');
const LAB = 'wdemo';
// How `lab down` and startLabPrometheus recognise this lab's processes.
const MARKERS = [`--state ${statePath(LAB)}`, `--config ${agentConfigPath(LAB, '')}`, `/lpm-lab-${LAB}`];

let labMode = false;

async function leftovers(): Promise<string[]> {
  const found: string[] = [];
  for (const ns of await listNetns().catch(() => [])) if (ns.startsWith(`lpm-${LAB}-`)) found.push(`namespace ${ns}`);
  for (const m of MARKERS) for (const pid of await findByMarker(m)) found.push(`process ${pid} (${m})`);
  if (existsSync(statePath(LAB))) found.push(`state file ${statePath(LAB)}`);
  return found;
}

function demo(args: string[]): ResultPromise<{ reject: false; all: true }> {
  return execa(process.execPath, [BIN, 'demo', '--lab', LAB, '--port', '0', ...args], {
    cwd: ROOT,
    reject: false,
    all: true,
    timeout: 170_000,
    env: { LPM_LOG_LEVEL: 'warn' },
  });
}

/** Resolves once the demo printed `text` (or rejects if it exits first). */
function waitForOutput(p: ResultPromise<{ reject: false; all: true }>, text: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const t = setTimeout(() => reject(new Error(`no "${text}" after ${timeoutMs} ms:\n${seen}`)), timeoutMs);
    p.all.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(text)) {
        clearTimeout(t);
        resolve(seen);
      }
    });
    void p.then(() => {
      clearTimeout(t);
      if (!seen.includes(text)) reject(new Error(`demo exited before "${text}":\n${seen}`));
    });
  });
}

beforeAll(async () => {
  expect(await missingCapabilities([built()])).toEqual([]);
  // Without network namespaces the demo runs, and is tested, in sim mode; with CI=true that fails.
  labMode = requireInCI('lpm demo in lab mode', await missingCapabilities([netns()]));
  expect(await leftovers()).toEqual([]);
});

afterAll(async () => {
  // only if a test failed half-way: the demo cleans up after itself
  await labDown(LAB).catch(() => undefined);
  for (const pid of await findByMarker(MARKERS[2]!)) await stopProcess({ pid, marker: MARKERS[2]! });
});

describe('lpm demo', () => {
  it('runs the whole flow, prints matrices and placements, exits 0 and leaves nothing behind', async () => {
    // the extender-call path; the kube-scheduler path is the next test
    const r = await demo(['--exit-after-first-decisions', '--sweep-timeout', '1m30s', '--no-kube']);
    const out = r.all ?? '';
    expect(r.exitCode, out).toBe(0);
    if (labMode) {
      expect(out).toContain('lpm demo (lab mode)');
      expect(out).toMatch(/Extender \(direct source\) listening on http:\/\/127\.0\.0\.1:\d+/);
      expect(out).toMatch(/links with RTT 12\/12, with bandwidth 12\/12/);
      expect(out).toContain('Round-trip time, measured (configured):');
      expect(out).toContain('Bandwidth, measured (configured):');
      // a measured value next to its configured one, e.g. "40.7 ms (40.0 ms)", "8.9 Mb/s (10.0 Mb/s)"
      expect(out).toMatch(/\d+\.\d+ ms \(40\.0 ms\)/);
      expect(out).toMatch(/\d+\.\d+ Mb\/s \(10\.0 Mb\/s\)/);
      // every measured pair within tolerance of its configured link (no RTT taken under our own tests)
      expect(out).toMatch(/Within tolerance: RTT 12\/12 pairs \(max\(0\.5 ms, 5 %\)\), bandwidth 12\/12 pairs/);
    } else {
      expect(out).toContain('Running in sim mode instead');
      expect(out).toContain('Round-trip time, configured');
    }
    // placements with their reasons: co-location wins for detector and uploader; tracker avoids
    // the cloud node, whose 10 Mbit/s link to the detector breaks its 25 Mbit/s minimum
    expect(out).toContain('demo/detector -> edge-a');
    expect(out).toMatch(/demo\/tracker -> (edge-b|core)/);
    expect(out).toMatch(/filtered cloud: lpm: bandwidth to edge-a \(peer demo\/detector\) is [\d.]+Mbps, under the pod's min-bandwidth 25Mbps/);
    expect(out).toContain('demo/uploader -> cloud');
    expect(out).toMatch(/why: cloud \[demo\/archive\] weight 2: co-located, quality 1/);
    expect(out).toContain('done: nothing left running.');
    expect(await leftovers()).toEqual([]);
  }, 180_000);

  it('places the example pods through the real kube-schedulers when the Kubernetes binaries exist', async (ctx) => {
    const missing = labMode ? await missingCapabilities([kubeBinaries()]) : ['network namespaces (lab mode)'];
    if (!requireInCI('lpm demo through kube-scheduler', missing)) {
      ctx.skip();
      return;
    }
    const r = await execa(process.execPath, [BIN, 'demo', '--lab', LAB, '--port', '0', '--kube', '--exit-after-first-decisions', '--sweep-timeout', '1m30s'], {
      cwd: ROOT,
      reject: false,
      all: true,
      timeout: 280_000,
      env: { LPM_LOG_LEVEL: 'warn', LPM_KUBE_BIN: kubeBins().dir },
    });
    const out = r.all ?? '';
    expect(r.exitCode, out).toBe(0);
    expect(out).toMatch(/a Kubernetes v1\.\d+\.\d+ control plane/);
    expect(out).toMatch(/Scheduling example pods through kube-scheduler v1\.\d+\.\d+: Pod objects with schedulerName lpm-scheduler/);
    // the same placements and reasons as the extender-call path, now with kube-scheduler's events
    expect(out).toContain('demo/detector -> edge-a');
    expect(out).toContain('kube-scheduler event: lpm-scheduler Scheduled: Successfully assigned demo/detector to edge-a');
    expect(out).toMatch(/demo\/tracker -> (edge-b|core)/);
    expect(out).toMatch(/filtered cloud: lpm: bandwidth to edge-a \(peer demo\/detector\) is [\d.]+Mbps, under the pod's min-bandwidth 25Mbps/);
    expect(out).toContain('demo/uploader -> cloud');
    expect(out).toContain('kube-scheduler event: lpm-scheduler Scheduled: Successfully assigned demo/uploader to cloud');
    expect(out).toMatch(/why: cloud \[demo\/archive\] weight 2: co-located, quality 1/);
    expect(out).toContain('done: nothing left running.');
    expect(await leftovers()).toEqual([]);
  }, 300_000);

  it('--sweep-timeout takes a duration; a value that is none, or out of range, is a usage error', async () => {
    const help = await execa(process.execPath, [BIN, 'demo', '--help'], { reject: false });
    expect(help.stdout).toMatch(/--sweep-timeout DURATION +how long to wait for the first full measurement sweep \(default: 90s\)/);
    for (const [value, message] of [
      ['soon', /lpm demo: --sweep-timeout: "soon" is not a duration/],
      ['0s', /lpm demo: --sweep-timeout: "0s" must be from 1s to 3600s/],
      ['2h', /lpm demo: --sweep-timeout: "2h" must be from 1s to 3600s/],
    ] as const) {
      const r = await demo(['--sweep-timeout', value]);
      expect(r.exitCode, r.all).toBe(2);
      expect(r.all).toMatch(message);
    }
    expect(await leftovers()).toEqual([]);
  }, 60_000);

  it('cleans up when interrupted while waiting for measurements (SIGINT)', async () => {
    const p = demo(['--no-kube']);
    await waitForOutput(p, labMode ? 'Waiting for the first full measurement sweep' : 'Press Ctrl-C', 60_000);
    p.kill('SIGINT');
    const r = await p;
    const out = r.all ?? '';
    expect(out).toContain('SIGINT received');
    expect(r.exitCode, out).toBe(labMode ? 130 : 0);
    expect(out).toContain('done: nothing left running.');
    expect(await leftovers()).toEqual([]);
  }, 120_000);

  it('keeps serving the web page until SIGTERM, then stops it', async () => {
    const p = demo(['--mode', 'sim']);
    const seen = await waitForOutput(p, 'Press Ctrl-C', 30_000);
    const url = /web page: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(seen)?.[1];
    expect(url, seen).toBeDefined();
    const page = await fetch(url!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>lpm');
    const res = await fetch(new URL('api/v1/decisions', url));
    const decisions = (await res.json()) as { decisions: Array<{ pod: string }> };
    expect(decisions.decisions.map((d) => d.pod)).toContain('demo/uploader');
    p.kill('SIGTERM');
    const r = await p;
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain('SIGTERM received');
    await expect(fetch(url!)).rejects.toThrow();
  }, 60_000);
});
