// The shared capability helper (test/helpers/capability.ts): with CI=true a missing capability is a
// failing test that names it, never a skip; without CI it is a skip that says why.
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { capabilityDecision, missingCapabilities, program, ROOT } from '../helpers/capability.js';

describe('capabilityDecision', () => {
  const missing = ['iperf3 (the agent runs iperf3)', 'network namespaces: not root'];

  it('nothing missing: run, CI or not', () => {
    expect(capabilityDecision('t', [], { CI: 'true' })).toEqual({ action: 'run' });
    expect(capabilityDecision('t', [], {})).toEqual({ action: 'run' });
  });

  it('CI=true and something missing: fail, naming the suite and everything missing', () => {
    for (const CI of ['true', '1', 'TRUE', 'yes']) {
      const d = capabilityDecision('lab faults', missing, { CI });
      expect(d.action).toBe('fail');
      expect(d.action === 'fail' && d.message).toBe('CI=true, and "lab faults" cannot run: missing iperf3 (the agent runs iperf3); network namespaces: not root');
    }
  });

  it('without CI (unset, empty or false): skip, with the reason', () => {
    for (const env of [{}, { CI: '' }, { CI: 'false' }, { CI: '0' }]) {
      expect(capabilityDecision('lab faults', missing, env)).toEqual({ action: 'skip', reason: 'iperf3 (the agent runs iperf3); network namespaces: not root' });
    }
  });
});

describe('checks', () => {
  it('a program that is not there is named (with its hint); one that runs is not', async () => {
    expect(await missingCapabilities([program('lpm-no-such-tool', ['--version'], 'a hint'), program(process.execPath, ['--version'])])).toEqual([
      'lpm-no-such-tool (a hint)',
    ]);
  });
});

// The helper as vitest runs it: a fixture file whose suite and test need a program nobody has.
describe('describeWithCapabilities and itWithCapabilities in a real vitest run', () => {
  type Report = {
    numFailedTests: number;
    numPendingTests: number;
    numPassedTests: number;
    testResults: { assertionResults: { fullName: string; status: string; failureMessages: string[] }[] }[];
  };
  const run = async (CI: string | undefined) => {
    const env: Record<string, string | undefined> = { ...process.env, CI };
    const r = await execa(process.execPath, [`${ROOT}/node_modules/vitest/vitest.mjs`, 'run', '--config', 'test/fixtures/capability/vitest.config.ts', '--reporter=json'], {
      cwd: ROOT,
      env,
      extendEnv: false,
      reject: false,
      timeout: 90_000,
    });
    const json = r.stdout.slice(r.stdout.indexOf('{'));
    return { exitCode: r.exitCode, report: JSON.parse(json) as Report };
  };
  const results = (report: Report) => report.testResults.flatMap((f) => f.assertionResults);

  it('CI=true: fails, naming what is missing; nothing is skipped', { timeout: 120_000 }, async () => {
    const { exitCode, report } = await run('true');
    expect(exitCode).toBe(1);
    expect(report.numPendingTests).toBe(0);
    expect(report.numFailedTests).toBe(2);
    expect(report.numPassedTests).toBe(1);
    for (const t of results(report).filter((r) => r.status === 'failed')) {
      expect(t.failureMessages.join('\n')).toMatch(/CI=true, and "(suite|test) that needs lpm-no-such-tool" cannot run: missing lpm-no-such-tool \(a program nobody has\)/);
    }
  });

  it('without CI: skips, the titles saying why; the run passes', { timeout: 120_000 }, async () => {
    const { exitCode, report } = await run(undefined);
    expect(exitCode).toBe(0);
    expect(report.numFailedTests).toBe(0);
    expect(report.numPassedTests).toBe(1);
    const skipped = results(report).filter((r) => r.status !== 'passed');
    expect(skipped.map((t) => t.status)).toEqual(['skipped', 'skipped']);
    for (const t of skipped) expect(t.fullName).toContain('(skipped: lpm-no-such-tool (a program nobody has))');
  });
});
