// `lpm lab up --agents`: a real agent per node namespace, configured for that node's peers,
// measuring the emulated links; `lab down` stops the agents too.
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { linksReportSchema } from '../../src/linkMetrics.js';
import { netnsCapability } from '../../scenarios/lab/ip.js';
import { labDown } from '../../scenarios/lab/lab.js';
import { isAlive } from '../../scenarios/lab/processes.js';
import { readState } from '../../scenarios/lab/state.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'lpm.js');
const cap = await netnsCapability();
const built = existsSync(join(ROOT, 'dist', 'cli', 'lpm.js'));
const skipReason = !cap.ok ? cap.reason : !built ? 'dist/ missing: run "npm run build" first' : undefined;
if (skipReason) console.warn(`lab agent integration test skipped: ${skipReason}`);

const LAB = 'tagt';

describe.skipIf(skipReason !== undefined)('lpm lab up --agents', () => {
  afterAll(async () => {
    await labDown(LAB).catch(() => undefined);
  });

  it('starts one agent per node that measures the emulated RTT; down stops them', async () => {
    await labDown(LAB).catch(() => undefined);
    const dir = await mkdtemp(join(tmpdir(), 'lpm-lab-agents-'));
    const file = join(dir, 'lab.yaml');
    await writeFile(
      file,
      `name: ${LAB}
nodes: [a, b]
agent:
  metrics:
    - { type: rtt, interval: 1s, ping: { count: 10, spacing: 20ms } }
links:
  - { from: a, to: b, delay: 3ms, rate: 20Mbps }
  - { from: b, to: a, delay: 5ms, rate: 20Mbps }
`,
    );
    await execa(process.execPath, [BIN, 'lab', 'up', file, '--agents'], { env: { LPM_LOG_LEVEL: 'warn' } });
    const state = (await readState(LAB))!;
    expect(state.agents.map((a) => a.node)).toEqual(['a', 'b']);
    const a = state.plan.nodes.find((n) => n.name === 'a')!;
    // Agent a serves on its underlay address, reachable from the root namespace.
    let rtt: number | undefined;
    for (let i = 0; i < 60 && rtt === undefined; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const res = await fetch(`http://${a.underlayAddress}:9105/api/v1/links`).catch(() => undefined);
      if (!res?.ok) continue;
      const report = linksReportSchema.parse(await res.json());
      rtt = report.links.find((l) => l.target === 'b')?.metrics.rtt_seconds?.value;
    }
    expect(rtt, 'agent a never reported an RTT to b').toBeDefined();
    // The agent reports a mean over 10 pings; the configured round trip is 8 ms.
    expect(Math.abs(rtt! - 0.008)).toBeLessThan(0.002);

    await execa(process.execPath, [BIN, 'lab', 'down', LAB]);
    for (const p of state.agents) expect(await isAlive(p), `agent ${p.node}`).toBe(false);
    expect(await isAlive(state.emulator!)).toBe(false);
  });
});
