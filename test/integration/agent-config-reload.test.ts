// The config watcher on a real directory: plain rewrites, ConfigMap-style `..data` symlink swaps,
// invalid files (refused, old config kept) and a deleted file (old config kept).
import { mkdtemp, rename, rm, symlink, unlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigWatcher } from '../../agent/configWatcher.js';
import type { AgentConfig } from '../../agent/config.js';
import { createLogger } from '../../src/log.js';

const yaml = (target: string) => `node: node-a\naddress: 10.0.0.1\ntargets:\n  - { name: ${target}, address: 10.0.0.2 }\n`;

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function setup(layout: 'plain' | 'configmap') {
  const dir = await mkdtemp(join(tmpdir(), 'lpmag-reload-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  let version = 0;
  const write = async (text: string) => {
    if (layout === 'plain') return writeFile(join(dir, 'agent.yaml'), text);
    const v = `..v${++version}`;
    await mkdir(join(dir, v));
    await writeFile(join(dir, v, 'agent.yaml'), text);
    await symlink(v, join(dir, '..tmp'));
    await rename(join(dir, '..tmp'), join(dir, '..data'));
    if (version === 1) await symlink('..data/agent.yaml', join(dir, 'agent.yaml'));
  };
  await write(yaml('node-b'));
  const applied: AgentConfig[] = [];
  const invalid: string[] = [];
  const w = new ConfigWatcher({
    file: join(dir, 'agent.yaml'),
    initialText: yaml('node-b'),
    log: createLogger('reload-test', 'silent'),
    onConfig: (cfg) => void applied.push(cfg),
    onInvalid: (e) => void invalid.push(e),
    debounceMs: 50,
  });
  w.start();
  cleanups.push(() => w.stop());
  return { dir, write, applied, invalid, watcher: w };
}

describe('ConfigWatcher', () => {
  for (const layout of ['plain', 'configmap'] as const)
    it(`${layout}: applies a valid change, refuses an invalid one naming the field`, async () => {
      const { write, applied, invalid } = await setup(layout);
      await write(yaml('node-c'));
      await until(() => applied.length === 1);
      expect(applied[0]!.targets.map((t) => t.name)).toEqual(['node-c']);
      await write(yaml('node-c').replace('10.0.0.2', '10.0.0.999'));
      await until(() => invalid.length === 1);
      expect(invalid[0]).toMatch(/agent\.yaml:4: targets\[0\]\.address: must be an IPv4 or IPv6 address/);
      expect(applied).toHaveLength(1);
      await write(yaml('node-d'));
      await until(() => applied.length === 2);
      expect(applied[1]!.targets.map((t) => t.name)).toEqual(['node-d']);
    });

  it('ignores events that leave the text unchanged, and keeps the old config when the file is deleted', async () => {
    const { dir, write, applied, invalid, watcher } = await setup('plain');
    await write(yaml('node-b')); // same text
    await new Promise((r) => setTimeout(r, 300));
    expect(applied).toHaveLength(0);
    await unlink(join(dir, 'agent.yaml'));
    await new Promise((r) => setTimeout(r, 300));
    await watcher.check();
    expect(applied).toHaveLength(0);
    expect(invalid).toHaveLength(0);
    await write(yaml('node-e')); // and it comes back
    await until(() => applied.length === 1);
    expect(applied[0]!.targets[0]!.name).toBe('node-e');
  });
});
