// Limits every config shares (src/config/fields.ts, src/config/loadYaml.ts), in both the agent's and
// the extender's config: intervals of at least 1s (0 made a refresh loop spin: ~500 refreshes a
// second), durations that 0 makes meaningless, ports 1..65535 (and listen ports up to 65535: 99999
// was accepted), and YAML that cannot blow up: an alias bomb ("billion laughs") or an oversized
// file is a ConfigError naming FILE:LINE (exit 2 from the CLI), never the yaml package's own error.
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { agentConfigSchema } from '../../agent/config.js';
import { parseAgentConfigText } from '../../agent/configFile.js';
import { extenderConfigSchema } from '../../extender/config.js';
import { aliasBomb, loadYamlConfig, MAX_ALIAS_COUNT, MAX_CONFIG_BYTES, MAX_NESTING_DEPTH, parseYamlConfig } from '../../src/config/loadYaml.js';
import { requireStr, runCommand, type CommandSpec } from '../../src/cli/command.js';
import { configProblems } from '../helpers/configProblems.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const AGENT = ['node: node-a', 'address: 10.0.0.1', 'targets:', '  - { name: node-b, address: 10.0.0.2 }'];
const agentProblems = (...extra: string[]) =>
  configProblems(() => parseYamlConfig([...AGENT, ...extra].join('\n'), agentConfigSchema, 'agent.yaml'));
const agentOk = (...extra: string[]) => parseYamlConfig([...AGENT, ...extra].join('\n'), agentConfigSchema, 'agent.yaml');

const EXTENDER = ['source:', '  type: static', '  links: []', 'kubernetes: { enabled: false }'];
const extenderProblems = (lines: string[]) =>
  configProblems(() => parseYamlConfig(lines.join('\n'), extenderConfigSchema, 'extender.yaml'));
const extenderOk = (lines: string[]) => parseYamlConfig(lines.join('\n'), extenderConfigSchema, 'extender.yaml');

describe('agent config: intervals, durations and ports', () => {
  it.each([
    ['measurements[0].interval', ['measurements:', '  - { type: rtt, interval: 0s }'], 'agent.yaml:6: measurements[0].interval: must be at least 1s (got 0s)'],
    ['measurements[0].interval', ['measurements:', '  - { type: rtt, interval: 500ms }'], 'agent.yaml:6: measurements[0].interval: must be at least 1s (got 500ms)'],
    ['ping.spacing', ['measurements:', '  - { type: rtt, ping: { spacing: 0 } }'], 'agent.yaml:6: measurements[0].ping.spacing: must be at least 2ms (got 0s)'],
    ['ping.timeout', ['measurements:', '  - { type: rtt, ping: { timeout: 0s } }'], 'agent.yaml:6: measurements[0].ping.timeout: must be at least 10ms (got 0s)'],
    ['iperf3.duration', ['measurements:', '  - { type: bandwidth, iperf3: { duration: 0 } }'], 'agent.yaml:6: measurements[0].iperf3.duration: must be at least 1s (got 0s)'],
    ['udpRate', ['measurements:', '  - { type: udp-jitter, iperf3: { udpRate: 0Mbps } }'], 'agent.yaml:6: measurements[0].iperf3.udpRate: must be more than 0'],
    ['iperf3.idleTimeout', ['iperf3: { idleTimeout: 0s }'], 'agent.yaml:5: iperf3.idleTimeout: must be at least 1s (got 0s)'],
    ['iperf3.slot', ['iperf3: { slot: 0s }'], 'agent.yaml:5: iperf3.slot: must be at least 1s (got 0s)'],
    ['iperf3.port', ['iperf3: { port: 0 }'], 'agent.yaml:5: iperf3.port: must be a port number from 1 to 65535'],
    ['iperf3.port', ['iperf3: { port: 99999 }'], 'agent.yaml:5: iperf3.port: must be a port number from 1 to 65535'],
    ['iperf3.udpPort', ['iperf3: { udpPort: 70000 }'], 'agent.yaml:5: iperf3.udpPort: must be a port number from 1 to 65535'],
    ['listen', ['listen: 0.0.0.0:99999'], 'agent.yaml:5: listen: port 99999 is out of range: must be 1-65535 (or 0 for any free port)'],
  ])('%s out of range is refused, naming the field and line', (_field, extra, message) => {
    expect(agentProblems(...extra)).toContain(message);
  });

  it('accepts the smallest sensible values and the usual ones', () => {
    const cfg = agentOk(
      'listen: 127.0.0.1:65535',
      'iperf3: { port: 1, udpPort: 65535, idleTimeout: 1s }',
      'measurements:',
      '  - { type: rtt, interval: 1s, ping: { spacing: 2ms, timeout: 10ms } }',
      '  - { type: bandwidth, interval: 1s, iperf3: { duration: 1s, omit: 0s } }',
    );
    expect(cfg.measurements.map((m) => m.interval)).toEqual([1, 1]);
    expect(cfg.iperf3).toMatchObject({ port: 1, udpPort: 65535, idleTimeout: 1 });
    // port 0 = any free port, for a listen address only (tests, in-process servers)
    expect(agentOk('listen: 127.0.0.1:0').listen).toBe('127.0.0.1:0');
  });
});

describe('extender config: intervals, timeouts and the listen port', () => {
  const source = (type: string, extra: string) =>
    type === 'static'
      ? ['source:', '  type: static', '  links: []', `  ${extra}`, 'kubernetes: { enabled: false }']
      : type === 'direct'
        ? ['source:', '  type: direct', '  agents: [http://127.0.0.1:9105]', `  ${extra}`]
        : ['source:', '  type: prometheus', '  url: http://127.0.0.1:9090', `  ${extra}`];

  it.each([
    ['static', 'interval: 0s', 'extender.yaml:4: source.interval: must be at least 1s (got 0s)'],
    ['direct', 'interval: 0', 'extender.yaml:4: source.interval: must be at least 1s (got 0s)'],
    ['prometheus', 'interval: 100ms', 'extender.yaml:4: source.interval: must be at least 1s (got 100ms)'],
    ['direct', 'timeout: 0s', 'extender.yaml:4: source.timeout: must be at least 100ms (got 0s)'],
    ['prometheus', 'timeout: 0s', 'extender.yaml:4: source.timeout: must be at least 100ms (got 0s)'],
  ])('%s source: %s is refused', (type, extra, message) => {
    expect(extenderProblems(source(type, extra))).toContain(message);
  });

  it.each([
    ['staleness: { rttInterval: 0s }', 'extender.yaml:5: staleness.rttInterval: must be at least 1s (got 0s)'],
    ['staleness: { bandwidthInterval: 0s }', 'extender.yaml:5: staleness.bandwidthInterval: must be at least 1s (got 0s)'],
    ['staleness: { bandwidthWindow: 0s }', 'extender.yaml:5: staleness.bandwidthWindow: must be at least 1s (got 0s)'],
    ['staleness: { rttMaxAge: 0s }', 'extender.yaml:5: staleness.rttMaxAge: must be at least 1s (got 0s)'],
    ['staleness: { bandwidthMaxAge: 0s }', 'extender.yaml:5: staleness.bandwidthMaxAge: must be at least 1s (got 0s)'],
    ['peers: { traffic: { url: "http://127.0.0.1:9090", interval: 0s } }', 'extender.yaml:5: peers.traffic.interval: must be at least 1s (got 0s)'],
    ['peers: { traffic: { url: "http://127.0.0.1:9090", timeout: 0s } }', 'extender.yaml:5: peers.traffic.timeout: must be at least 100ms (got 0s)'],
    ['listen: 0.0.0.0:99999', 'extender.yaml:5: listen: port 99999 is out of range: must be 1-65535 (or 0 for any free port)'],
    ['listen: "0.0.0.0:123456"', 'extender.yaml:5: listen: port 123456 is out of range: must be 1-65535 (or 0 for any free port)'],
  ])('%s is refused', (extra, message) => {
    expect(extenderProblems([...EXTENDER, extra])).toContain(message);
  });

  it('accepts 1s intervals, 0s shutdown settings and a static link aged 0s', () => {
    const cfg = extenderOk([
      'source:',
      '  type: static',
      '  interval: 1s',
      '  links: [{ source: a, target: b, rtt: 1ms, age: 0s }]',
      'kubernetes: { enabled: false }',
      'staleness: { rttInterval: 1s, bandwidthInterval: 1s, bandwidthWindow: 1s, rttMaxAge: 1s, bandwidthMaxAge: 1s }',
      'shutdownDelay: 0s',
      'shutdownTimeout: 0s',
      'listen: 127.0.0.1:65535',
    ]);
    expect(cfg.source.interval).toBe(1);
    expect(cfg.shutdownTimeout).toBe(0);
  });
});

// The classic "billion laughs": nine levels of ten aliases each, 10^9 strings when expanded.
const BILLION_LAUGHS = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]',
  'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]',
  'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]',
  'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]',
  'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]',
  'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]',
  'h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]',
  'i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h,*h]',
].join('\n');

describe('YAML limits: alias bombs and oversized files are ConfigErrors naming file:line', () => {
  it('an alias bomb in the agent config: refused at the line where it explodes, quickly', () => {
    const started = Date.now();
    const problems = configProblems(() => parseAgentConfigText(`${AGENT.join('\n')}\n${BILLION_LAUGHS}\n`, 'agent.yaml'));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^agent\.yaml:\d+: YAML aliases: \*[a-i] expands the document more than 100-fold \(an alias bomb\?\); write the values out$/);
    const line = Number(/^agent\.yaml:(\d+):/.exec(problems[0]!)![1]);
    expect(line).toBeGreaterThan(AGENT.length + 1); // on one of the alias lines, not line 1
    expect(line).toBeLessThanOrEqual(AGENT.length + 9);
  });

  it('an alias bomb in the extender config, too', () => {
    const problems = configProblems(() => parseYamlConfig(`${EXTENDER.join('\n')}\n${BILLION_LAUGHS}\n`, extenderConfigSchema, 'extender.yaml'));
    expect(problems[0]).toMatch(/^extender\.yaml:\d+: YAML aliases: /);
  });

  it('the line is where the yaml package trips (the same rule, replayed)', () => {
    // the yaml package trips too: prove both agree on the alias
    const doc = parseDocument(BILLION_LAUGHS);
    expect(() => doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT })).toThrow(/Excessive alias count/);
    const bomb = aliasBomb(doc, MAX_ALIAS_COUNT);
    expect(bomb?.source).toBeDefined();
    // and a document just under the limit passes both
    const fine = parseDocument('a: &a [1, 2]\nb: [*a, *a, *a]\n');
    expect(fine.toJS({ maxAliasCount: MAX_ALIAS_COUNT })).toEqual({ a: [1, 2], b: [[1, 2], [1, 2], [1, 2]] });
    expect(aliasBomb(fine, MAX_ALIAS_COUNT)).toBeUndefined();
  });

  it('ordinary anchors and aliases still work', () => {
    const cfg = agentOk('measurements:', '  - { type: rtt, ping: &p { count: 3, spacing: 0.2s } }', '  - { type: rtt, targets: [node-b], ping: *p }');
    expect(cfg.measurements.map((m) => m.ping.count)).toEqual([3, 3]);
  });

  it('a file over the size limit is refused at the line where it crosses the limit', () => {
    const filler = `# ${'x'.repeat(1000)}\n`;
    const text = `${AGENT.join('\n')}\n${filler.repeat(Math.ceil(MAX_CONFIG_BYTES / filler.length) + 10)}`;
    const problems = configProblems(() => parseYamlConfig(text, agentConfigSchema, 'agent.yaml'));
    const crossing = Buffer.from(text).subarray(0, MAX_CONFIG_BYTES + 1).toString().split('\n').length;
    expect(problems).toEqual([`agent.yaml:${crossing}: file too large: more than ${MAX_CONFIG_BYTES} bytes (the limit for a config file)`]);
  });

  it('nesting deeper than MAX_NESTING_DEPTH is refused before the (recursive) composer sees it', () => {
    // 20000 levels crashed V8 itself (fatal out-of-memory in its RegExp compiler): no catch helps
    const flow = configProblems(() => parseYamlConfig(`${AGENT.join('\n')}\nx: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`, agentConfigSchema, 'agent.yaml'));
    expect(flow).toEqual([`agent.yaml:5: YAML: nested more than ${MAX_NESTING_DEPTH} levels deep`]);
    const block = configProblems(() => parseAgentConfigText(`${AGENT.join('\n')}\n\n\nx:\n  ${'- '.repeat(20_000)}y\n`, 'agent.yaml'));
    expect(block).toEqual([`agent.yaml:8: YAML: nested more than ${MAX_NESTING_DEPTH} levels deep`]);
    // a realistic depth is fine
    const nested = parseYamlConfig(`x: ${'['.repeat(MAX_NESTING_DEPTH - 1)}1${']'.repeat(MAX_NESTING_DEPTH - 1)}`, z.object({ x: z.unknown() }), 'e.yaml');
    expect(JSON.stringify(nested.x)).toBe(`${'['.repeat(MAX_NESTING_DEPTH - 1)}1${']'.repeat(MAX_NESTING_DEPTH - 1)}`);
  });

  it('through the command framework: a config loaded with an alias bomb exits 2 with one FILE:LINE line', async () => {
    // what `lpm extender --config FILE` does before anything else (loadYamlConfig, then runCommand's ConfigError handling)
    const extenderCommand: CommandSpec = {
      name: 'extender',
      summary: '',
      usage: '',
      flags: { config: { type: 'string', value: 'FILE', description: '' } },
      run: async (args) => {
        await loadYamlConfig(requireStr(args, 'config', extenderCommand), extenderConfigSchema);
        return 0;
      },
    };
    const dir = mkdtempSync(join(tmpdir(), 'lpm-limits-'));
    const stderr: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    try {
      const file = join(dir, 'extender.yaml');
      writeFileSync(file, `${EXTENDER.join('\n')}\n${BILLION_LAUGHS}\n`);
      process.stderr.write = (chunk: string | Uint8Array) => {
        stderr.push(String(chunk));
        return true;
      };
      const code = await runCommand(extenderCommand, ['--config', file]);
      expect(code).toBe(2);
    } finally {
      process.stderr.write = write;
      rmSync(dir, { recursive: true, force: true });
    }
    expect(stderr.join('')).toMatch(/^lpm extender: .*extender\.yaml:\d+: YAML aliases: \*[a-i] expands the document more than 100-fold/);
  });
});
