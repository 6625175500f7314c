// The image build without docker (no engine on the test machines): the Dockerfile's build stage is
// replayed in a temporary directory holding exactly the files its COPY lines name, filtered by
// .dockerignore, with its own RUN build command; then the runtime stage is laid out (production
// node_modules, dist/ from the build stage, bin/, extender/web) in another, and the CLI is run from
// there: help for every component and an extender answering on loopback. `npm ci` is replaced by
// the repository's node_modules (see test/helpers/dockerBuild.ts): the one departure from docker.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/waitFor.js';
import {
  contextFiles,
  isIgnored,
  parseDockerfile,
  parseDockerignore,
  replayDockerfile,
  stageDir,
  type StageResult,
} from '../helpers/dockerBuild.js';

const ROOT = join(import.meta.dirname, '../..');
const read = (f: string) => readFile(join(ROOT, f), 'utf8');

const dirs: string[] = [];
const procs: ResultPromise[] = [];
const tempDir = async (prefix: string) => {
  const d = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await Promise.allSettled(procs);
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('.dockerignore and Dockerfile parsing (the replay follows docker)', () => {
  it('matches like docker: a directory pattern covers its contents, * stays in one directory, ! re-includes', () => {
    const p = parseDockerignore('# comment\n/test\n*.log\nbench/\ndocs\n!docs/keep.md\nsrc/**/*.tmp\n');
    expect(isIgnored('test', p)).toBe(true);
    expect(isIgnored('test/unit/a.test.ts', p)).toBe(true);
    expect(isIgnored('bench/main.ts', p)).toBe(true);
    expect(isIgnored('x.log', p)).toBe(true);
    expect(isIgnored('agent/x.log', p)).toBe(false);
    expect(isIgnored('docs/a.md', p)).toBe(true);
    expect(isIgnored('docs/keep.md', p)).toBe(false);
    expect(isIgnored('src/a.tmp', p)).toBe(true);
    expect(isIgnored('src/a/b/c.tmp', p)).toBe(true);
    expect(isIgnored('src/a.ts', p)).toBe(false);
    expect(isIgnored('testing/a.ts', p)).toBe(false);
  });

  it('the real context has the sources, and neither tests, bench nor node_modules', async () => {
    const files = await contextFiles(ROOT, parseDockerignore(await read('.dockerignore')));
    expect(files).toContain('cli/lpm.ts');
    expect(files).toContain('package-lock.json');
    expect(files).toContain('extender/web/index.html');
    const bad = [...files].filter((f) => /^(test|bench|node_modules|dist|\.git)\//.test(f));
    expect(bad).toEqual([]);
  });

  it('the Dockerfile has a build stage and a runtime stage copying from it', async () => {
    const stages = parseDockerfile(await read('Dockerfile'));
    expect(stages.map((s) => s.name)).toEqual(['build', undefined]);
    expect(stages[1]!.instructions.some((i) => i.op === 'COPY' && i.args.startsWith('--from=build'))).toBe(true);
  });
});

describe('replay failures are caught (what a broken Dockerfile would do to docker build)', () => {
  const mini = (buildCopies: string, runtimeCopies = '') =>
    `FROM node AS build\nWORKDIR /src\nCOPY package.json ./\n${buildCopies}\nFROM node\nWORKDIR /app\n${runtimeCopies}\n`;

  it('a COPY naming a missing file', async () => {
    const workDir = await tempDir('lpm-image-neg-');
    await expect(
      replayDockerfile({ contextDir: ROOT, dockerfile: mini('COPY no-such-dir ./no-such-dir'), dockerignore: '', workDir }),
    ).rejects.toThrow(/Dockerfile:4: COPY no-such-dir: not in the build context/);
  });

  it('a COPY naming a file .dockerignore excludes', async () => {
    const workDir = await tempDir('lpm-image-neg-');
    await expect(
      replayDockerfile({ contextDir: ROOT, dockerfile: mini('COPY bench ./bench'), dockerignore: await read('.dockerignore'), workDir }),
    ).rejects.toThrow(/COPY bench: not in the build context \(missing, or excluded by \.dockerignore\)/);
  });

  it('a COPY --from naming what the build stage did not produce', async () => {
    const workDir = await tempDir('lpm-image-neg-');
    await expect(
      replayDockerfile({ contextDir: ROOT, dockerfile: mini('', 'COPY --from=build /src/dist ./dist'), dockerignore: '', workDir }),
    ).rejects.toThrow(/COPY --from=build \/src\/dist: stage "build" has no \/src\/dist/);
  });

  it("the build referencing a file the context excludes fails the build stage's RUN", async () => {
    // The Dockerfile's own compile step over src/ alone (quicker than the whole product), with
    // src/units.ts (imported by src/config/fields.ts) excluded: tsc fails, as in docker build.
    const stages = parseDockerfile(await read('Dockerfile'));
    const build = stages[0]!.instructions;
    const compile = build.filter((i) => i.op === 'RUN').at(-1)!;
    const dockerfile = [
      'FROM node AS build',
      'WORKDIR /src',
      'COPY package.json package-lock.json ./',
      'RUN npm ci',
      ...build.filter((i) => i.op === 'COPY' && /tsconfig/.test(i.args)).map((i) => `COPY ${i.args}`),
      'COPY src ./src',
      `RUN ${compile.args}`,
    ].join('\n');
    const workDir = await tempDir('lpm-image-neg-');
    await expect(
      replayDockerfile({ contextDir: ROOT, dockerfile, dockerignore: `${await read('.dockerignore')}\nsrc/units.ts\n`, workDir }),
    ).rejects.toThrow(/RUN .* failed[\s\S]*units\.js/);
  }, 300_000);
});

describe('the image, built and run without docker', () => {
  let build: StageResult;
  let runtime: StageResult;
  let app = '';
  const steps: string[] = [];
  const lpm = (args: string[], timeout = 30_000) => {
    const [cmd, ...pre] = runtime.entrypoint!;
    // ENTRYPOINT ["node", "bin/lpm.js"]: the same node that runs the tests
    return execa(cmd === 'node' ? process.execPath : cmd!, [...pre, ...args], {
      cwd: app,
      env: { ...runtime.env },
      reject: false,
      timeout,
    });
  };

  beforeAll(async () => {
    const workDir = await tempDir('lpm-image-');
    [build, runtime] = (await replayDockerfile({
      contextDir: ROOT,
      dockerfile: await read('Dockerfile'),
      dockerignore: await read('.dockerignore'),
      workDir,
      log: (l) => steps.push(l),
    })) as [StageResult, StageResult];
    app = stageDir(runtime);
  }, 300_000);

  it('the build stage compiled the product only: the CLI, no bench, no tests', () => {
    const dist = stageDir(build, 'dist');
    expect(existsSync(join(dist, 'cli/lpm.js')), steps.join('\n')).toBe(true);
    expect(existsSync(join(dist, 'agent/command.js'))).toBe(true);
    expect(existsSync(join(dist, 'extender/command.js'))).toBe(true);
    expect(existsSync(join(dist, 'bench'))).toBe(false);
    expect(existsSync(join(dist, 'test'))).toBe(false);
  });

  it('the runtime stage has dist/, bin/, package.json, the web page and production dependencies only', () => {
    for (const f of ['dist/cli/lpm.js', 'bin/lpm.js', 'package.json', 'extender/web/index.html', 'node_modules/fastify/package.json'])
      expect(existsSync(join(app, f)), f).toBe(true);
    for (const dev of ['vitest', 'typescript', 'kubernetes-models']) expect(existsSync(join(app, 'node_modules', dev)), dev).toBe(false);
    expect(existsSync(join(app, 'src'))).toBe(false);
    expect(runtime.env.NODE_ENV).toBe('production');
  });

  it('the default command (CMD --help) and the components\' --help succeed', async () => {
    const def = await lpm(runtime.cmd ?? []);
    expect(def.exitCode, def.stderr).toBe(0);
    expect(def.stdout).toMatch(/Usage: lpm <command>/);
    const agent = await lpm(['agent', '--help']);
    expect(agent.exitCode, agent.stderr).toBe(0);
    expect(agent.stdout).toMatch(/Usage: lpm agent --config FILE/);
    const ext = await lpm(['extender', '--help']);
    expect(ext.exitCode, ext.stderr).toBe(0);
    expect(ext.stdout).toMatch(/Usage: lpm extender --config FILE/);
    const version = await lpm(['--version']);
    expect(version.stdout.trim()).toBe(JSON.parse(await read('package.json')).version);
  });

  it('the extender starts with a static source and answers on loopback', async () => {
    const cfgDir = await tempDir('lpm-image-cfg-');
    const cfg = join(cfgDir, 'extender.yaml');
    await writeFile(
      cfg,
      [
        'listen: 127.0.0.1:0',
        'kubernetes: { enabled: false }',
        'source:',
        '  type: static',
        '  links:',
        '    - { source: node-a, target: node-b, rtt: 2ms, bandwidth: 500Mbps }',
        '    - { source: node-b, target: node-a, rtt: 2ms, bandwidth: 500Mbps }',
        '',
      ].join('\n'),
    );
    const proc = lpm(['extender', '--config', cfg], 60_000);
    procs.push(proc);
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const url = await waitFor(
      'the extender to log its URL',
      async () => {
        if (proc.exitCode !== null) throw new Error(`exited ${proc.exitCode}: ${stderr}`);
        return /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(stderr)?.[1];
      },
      20_000,
      100,
    );
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    await waitFor('/readyz 200', async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined), 10_000, 100);
    // a scheduling call as kube-scheduler makes it (nodeCacheCapable: node names only)
    const prioritize = await fetch(`${url}/prioritize`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ Pod: { metadata: { name: 'p', namespace: 'default', uid: 'u1' }, spec: {} }, NodeNames: ['node-a', 'node-b'] }),
    });
    expect(prioritize.status).toBe(200);
    const scores = (await prioritize.json()) as Array<{ Host: string; Score: number }>;
    expect(scores.map((h) => h.Host)).toEqual(['node-a', 'node-b']);
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i); // extender/web/index.html, shipped next to dist/
    proc.kill('SIGTERM');
    const r = await proc;
    expect(r.exitCode, stderr).toBe(0);
  });
});
