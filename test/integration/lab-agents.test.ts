// `lpm lab up --agents`: a real agent per node namespace, configured for that node's targets,
// measuring the emulated links; `lab down` stops the agents too.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, expect, it } from 'vitest';
import { linksReportSchema } from '../../src/linkMetrics.js';
import { labDown } from '../../scenarios/lab/lab.js';
import { isAlive } from '../../scenarios/lab/processes.js';
import { readState } from '../../scenarios/lab/state.js';
import { built, describeWithCapabilities, iperf3, missingCapabilities, netns, ping, ROOT } from '../helpers/capability.js';

const BIN = join(ROOT, 'bin', 'lpm.js');
const missing = await missingCapabilities([netns(), built(), ping(), iperf3()]);

const LAB = 'tagt';

describeWithCapabilities('lpm lab up --agents', missing, () => {
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
  measurements:
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
