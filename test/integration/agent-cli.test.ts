// `lpm agent` as a user runs it (built CLI): help, config errors and missing tools stop it at
// start-up with a message naming the problem.
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { built, describeWithCapabilities, iperf3, itWithCapabilities, missingCapabilities, ping } from '../helpers/capability.js';

const BIN = new URL('../../bin/lpm.js', import.meta.url).pathname;
const missing = await missingCapabilities([built()]);
const missingTools = await missingCapabilities([ping(), iperf3()]);
let dir = '';
const good = 'node: node-a\naddress: 127.0.0.1\nlisten: 127.0.0.1:0\ntargets:\n  - { name: node-b, address: 127.0.0.2 }\n';

const lpm = (args: string[], env: Record<string, string> = {}) =>
  execa(process.execPath, [BIN, ...args], { reject: false, env, extendEnv: !('PATH' in env), timeout: 30_000 });

describeWithCapabilities('lpm agent CLI (needs npm run build)', missing, () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lpmag-cli-'));
    await writeFile(join(dir, 'good.yaml'), good);
    await writeFile(join(dir, 'bad.yaml'), good.replace('127.0.0.2', 'nowhere'));
    await writeFile(join(dir, 'old.yaml'), good.replace('targets:', 'peers:') + 'metrics:\n  - { type: rtt }\n');
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('--help describes every flag', async () => {
    const r = await lpm(['agent', '--help']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/--config FILE/);
    expect(r.stdout).toMatch(/--log-level LEVEL/);
    expect(r.stdout).toMatch(/\/api\/v1\/links/);
  });

  it('without --config it is a usage error', async () => {
    const r = await lpm(['agent']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--config is required/);
  });

  it('an invalid config names file, line and field', async () => {
    const r = await lpm(['agent', '--config', join(dir, 'bad.yaml')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:5: targets\[0\]\.address: must be an IPv4 or IPv6 address/);
  });

  it('a config with the old keys names the new ones', async () => {
    const r = await lpm(['agent', '--config', join(dir, 'old.yaml')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/old\.yaml:5: peers: renamed to "targets"/);
    expect(r.stderr).toMatch(/old\.yaml:7: metrics: renamed to "measurements"/);
  });

  itWithCapabilities('a missing iperf3 or ping is named at start-up', missingTools, async () => {
    // A PATH holding only ping (then only iperf3): the agent must refuse to start.
    const onlyPing = join(dir, 'only-ping');
    const onlyIperf = join(dir, 'only-iperf3');
    await execa('mkdir', ['-p', onlyPing, onlyIperf]);
    const which = async (tool: string) => (await execa('sh', ['-c', 'command -v "$0"', tool])).stdout.trim();
    await symlink(await which('ping'), join(onlyPing, 'ping'));
    await symlink(await which('iperf3'), join(onlyIperf, 'iperf3'));
    const a = await lpm(['agent', '--config', join(dir, 'good.yaml')], { PATH: onlyPing });
    expect(a.exitCode).toBe(1);
    expect(a.stderr).toMatch(/iperf3 cannot be run \(not found on PATH\)/);
    const b = await lpm(['agent', '--config', join(dir, 'good.yaml')], { PATH: onlyIperf });
    expect(b.exitCode).toBe(1);
    expect(b.stderr).toMatch(/ping cannot be run \(not found on PATH\)/);
  });
});
