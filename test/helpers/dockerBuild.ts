// A docker-less replay of the Dockerfile, for test/integration/image-build.test.ts: there is no
// docker engine on the test machines, yet the image must not break when files move. It reads the
// Dockerfile and .dockerignore the way `docker build` does and does the same file work:
// - the build context is the repository minus what .dockerignore excludes (Docker's rules: Go
//   filepath.Match patterns plus `**`, a pattern excludes what it matches and everything under it,
//   `!` re-includes, the last matching line wins);
// - each stage gets its own temporary root directory; WORKDIR, COPY (from the context, or
//   --from=STAGE out of an earlier stage's root) and ENV are applied in order;
// - RUN lines are run for real in the build stage, with one replacement: `npm ci` becomes a
//   symlink to the repository's node_modules (no network here; the lockfile is the same). In the
//   runtime stage `npm ci --omit=dev` becomes a copy of the production packages only (the tree
//   `npm ls --omit=dev` shows, so a dev dependency used at run time fails the test), and apt-get
//   lines (ping, iperf3, setcap: system packages) are skipped.
// A COPY naming something that is not in the context (missing, or excluded by .dockerignore), a
// COPY --from naming a path the earlier stage did not produce, and a failing RUN all throw.
import { cp, lstat, mkdir, readdir, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, dirname, join, posix, relative, resolve } from 'node:path';
import { execa } from 'execa';

export interface Instruction {
  op: string;
  args: string;
  /** 1-based line of the instruction's first line. */
  line: number;
}

export interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Instructions by stage; comments and blank lines dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!;
    if (/^\s*(#|$)/.test(line)) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      i++;
      const next = lines[i]!;
      if (/^\s*#/.test(next)) continue; // comment lines inside a continuation are dropped too
      line = line.replace(/\\\s*$/, ' ') + next.trim();
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile:${start + 1}: cannot parse "${line}"`);
    const op = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!f) throw new Error(`Dockerfile:${start + 1}: cannot parse FROM "${args}"`);
      stages.push({ from: f[1]!, ...(f[2] ? { name: f[2] } : {}), instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`Dockerfile:${start + 1}: ${op} before the first FROM`);
    stage.instructions.push({ op, args, line: start + 1 });
  }
  return stages;
}

export interface CopySpec {
  from?: string;
  sources: string[];
  dest: string;
}

/** `COPY [--from=S] [--chown=..] [--chmod=..] [--link] SRC... DEST`, or the JSON array form. */
export function parseCopy(args: string, line = 0): CopySpec {
  let rest = args;
  let from: string | undefined;
  for (;;) {
    const flag = /^--([a-z-]+)(?:=(\S+))?\s+/.exec(rest);
    if (!flag) break;
    if (flag[1] === 'from') from = flag[2];
    else if (!['chown', 'chmod', 'link'].includes(flag[1]!)) throw new Error(`Dockerfile:${line}: COPY --${flag[1]} is not replayed by this test`);
    rest = rest.slice(flag[0].length);
  }
  const parts = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/);
  if (parts.length < 2) throw new Error(`Dockerfile:${line}: COPY needs a source and a destination`);
  return { ...(from ? { from } : {}), sources: parts.slice(0, -1), dest: parts.at(-1)! };
}

// --- .dockerignore ---------------------------------------------------------------------------

export interface IgnorePattern {
  text: string;
  negate: boolean;
  re: RegExp;
}

const escapeRe = (c: string) => c.replace(/[.+^${}()|[\]\\*?]/g, '\\$&');

/** Docker's pattern syntax (Go filepath.Match plus `**`) as an anchored RegExp over slash paths. */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      i++;
      if (pattern[i + 1] === '/') {
        i++;
        re += '(?:.*/)?'; // `**/`: zero or more directories
      } else re += '.*';
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        const body = pattern.slice(i + 1, end);
        re += `[${body.startsWith('^') || body.startsWith('!') ? '^' + body.slice(1) : body}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`);
}

export function parseDockerignore(text: string): IgnorePattern[] {
  const out: IgnorePattern[] = [];
  for (const raw of text.split('\n')) {
    let line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1).trim();
    const clean = posix.normalize(line.replace(/^\/+/, '')).replace(/\/+$/, '');
    if (!clean || clean === '.') continue;
    out.push({ text: raw.trim(), negate, re: globToRegExp(clean) });
  }
  return out;
}

/** Whether .dockerignore keeps `rel` (a slash path) out of the context: it or a parent matches. */
export function isIgnored(rel: string, patterns: IgnorePattern[]): boolean {
  const parts = rel.split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const p of patterns) if (candidates.some((c) => p.re.test(c))) ignored = !p.negate;
  return ignored;
}

/** Every file of the build context (slash paths relative to `root`). */
export async function contextFiles(root: string, patterns: IgnorePattern[]): Promise<Set<string>> {
  const files = new Set<string>();
  const canSkipDirs = !patterns.some((p) => p.negate);
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(join(root, dir), { withFileTypes: true })) {
      const rel = dir ? `${dir}/${e.name}` : e.name;
      const ignored = isIgnored(rel, patterns);
      if (e.isDirectory()) {
        if (ignored && canSkipDirs) continue;
        await walk(rel);
      } else if (!ignored) files.add(rel);
    }
  };
  await walk('');
  return files;
}

// --- replay ----------------------------------------------------------------------------------

export interface ReplayOptions {
  /** Repository root: the build context, and the node_modules that stand in for `npm ci`. */
  contextDir: string;
  dockerfile: string;
  dockerignore: string;
  /** Parent of the stages' temporary roots. */
  workDir: string;
  /** Stop after this many stages (e.g. 1: the build stage only). */
  stages?: number;
  log?: (line: string) => void;
}

export interface StageResult {
  name?: string;
  root: string;
  workdir: string;
  env: Record<string, string>;
  entrypoint?: string[];
  cmd?: string[];
}

const SHELL_SYNTAX = /[&|;<>$`'"\\(){}*?~]/;

/**
 * The production packages installed in `dir` (the dependency tree `npm ls --omit=dev` walks, not
 * extraneous leftovers), as paths relative to it.
 */
async function productionPackages(dir: string): Promise<string[]> {
  const r = await execa('npm', ['ls', '--omit=dev', '--all', '--json', '--long'], { cwd: dir, reject: false });
  type Node = { path?: string; extraneous?: boolean; deduped?: boolean; dependencies?: Record<string, Node> };
  const root = JSON.parse(String(r.stdout)) as Node;
  // npm prints a package's dependencies once, at its first occurrence ("deduped" elsewhere):
  // index the full entries by path, then walk from the root, skipping extraneous packages.
  const full = new Map<string, Node>();
  const index = (n: Node) => {
    for (const d of Object.values(n.dependencies ?? {})) {
      if (d.path && (!full.has(d.path) || Object.keys(d.dependencies ?? {}).length)) full.set(d.path, d);
      index(d);
    }
  };
  index(root);
  const paths = new Set<string>();
  const walk = (n: Node) => {
    for (const d of Object.values(n.dependencies ?? {})) {
      if (d.extraneous || !d.path || paths.has(d.path)) continue;
      paths.add(d.path);
      walk(full.get(d.path) ?? d);
    }
  };
  walk(root);
  const list = [...paths].map((p) => relative(dir, p)).filter((p) => p.startsWith('node_modules/'));
  if (list.length === 0) throw new Error(`npm ls --omit=dev found no packages in ${dir}: ${String(r.stderr)}`);
  return list;
}

export async function replayDockerfile(opts: ReplayOptions): Promise<StageResult[]> {
  const log = opts.log ?? (() => undefined);
  const patterns = parseDockerignore(opts.dockerignore);
  const context = await contextFiles(opts.contextDir, patterns);
  const stages = parseDockerfile(opts.dockerfile).slice(0, opts.stages);
  const done: StageResult[] = [];

  for (const [index, stage] of stages.entries()) {
    const result: StageResult = { ...(stage.name ? { name: stage.name } : {}), root: join(opts.workDir, `stage${index}`), workdir: '/', env: {} };
    await mkdir(result.root, { recursive: true });
    const inRoot = (p: string) => join(result.root, posix.isAbsolute(p) ? p : posix.join(result.workdir, p));
    const runtime = index > 0;
    for (const ins of stage.instructions) {
      const where = `Dockerfile:${ins.line}`;
      switch (ins.op) {
        case 'WORKDIR':
          result.workdir = posix.resolve(result.workdir, ins.args);
          await mkdir(inRoot('.'), { recursive: true });
          break;
        case 'ENV': {
          const kv = /^(\w+)(?:=|\s+)(.*)$/.exec(ins.args);
          if (!kv) throw new Error(`${where}: cannot parse ENV ${ins.args}`);
          result.env[kv[1]!] = kv[2]!.replace(/^"(.*)"$/, '$1');
          break;
        }
        case 'COPY': {
          const spec = parseCopy(ins.args, ins.line);
          const many = spec.sources.length > 1 || spec.dest.endsWith('/');
          for (const src of spec.sources) {
            let target = inRoot(spec.dest);
            if (spec.from !== undefined) {
              const from = done.find((s, i) => s.name === spec.from || String(i) === spec.from);
              if (!from) throw new Error(`${where}: COPY --from=${spec.from}: no such earlier stage`);
              const path = join(from.root, posix.resolve(from.workdir, src));
              if (!existsSync(path)) throw new Error(`${where}: COPY --from=${spec.from} ${src}: stage "${spec.from}" has no ${src}`);
              const isDir = (await lstat(path)).isDirectory();
              if (!isDir && many) target = join(target, basename(src));
              await mkdir(isDir ? target : dirname(target), { recursive: true });
              await cp(path, target, { recursive: true, verbatimSymlinks: true });
              log(`${where}: COPY --from=${spec.from} ${src} -> ${spec.dest}`);
              continue;
            }
            const rel = posix.normalize(src.replace(/^\/+/, '')).replace(/\/+$/, '');
            if (/[*?[]/.test(rel)) throw new Error(`${where}: COPY with a wildcard (${src}) is not replayed by this test`);
            const under = rel === '.' ? [...context] : [...context].filter((f) => f === rel || f.startsWith(`${rel}/`));
            if (under.length === 0)
              throw new Error(`${where}: COPY ${src}: not in the build context (missing, or excluded by .dockerignore)`);
            const isFile = under.length === 1 && under[0] === rel;
            if (isFile && many) target = join(target, basename(rel));
            for (const f of under) {
              const to = isFile ? target : join(target, rel === '.' ? f : f.slice(rel.length + 1));
              await mkdir(dirname(to), { recursive: true });
              await cp(join(opts.contextDir, f), to, { verbatimSymlinks: true });
            }
            log(`${where}: COPY ${src} -> ${spec.dest} (${under.length} file(s))`);
          }
          break;
        }
        case 'RUN': {
          const cwd = inRoot('.');
          const cmd = ins.args;
          if (runtime && /^apt-get\b/.test(cmd)) {
            log(`${where}: skipped (system packages): ${cmd.slice(0, 60)}...`);
            break;
          }
          if (/^npm ci\b/.test(cmd)) {
            if (runtime) {
              if (!/--omit=dev\b/.test(cmd)) throw new Error(`${where}: the runtime stage installs dev dependencies (${cmd})`);
              // Stand-in for `npm ci --omit=dev`: the production packages of the repository's
              // node_modules, copied (not linked: a dev dependency must not be reachable).
              for (const pkg of await productionPackages(opts.contextDir))
                await cp(join(opts.contextDir, pkg), join(cwd, pkg), {
                  recursive: true,
                  verbatimSymlinks: true,
                  filter: (p) => !relative(join(opts.contextDir, pkg), p).split('/').includes('node_modules'),
                });
              log(`${where}: npm ci --omit=dev replaced by a copy of the production packages`);
            } else {
              // Stand-in for `npm ci` (no network on the test machines): the repository's own
              // node_modules, installed from the same package-lock.json.
              if (!existsSync(join(cwd, 'package-lock.json'))) throw new Error(`${where}: npm ci without package-lock.json`);
              await symlink(join(opts.contextDir, 'node_modules'), join(cwd, 'node_modules'), 'dir');
              log(`${where}: npm ci replaced by a symlink to the repository's node_modules`);
            }
            break;
          }
          if (runtime) throw new Error(`${where}: runtime RUN not replayed by this test: ${cmd}`);
          if (SHELL_SYNTAX.test(cmd)) throw new Error(`${where}: RUN with shell syntax is not replayed by this test: ${cmd}`);
          const [prog, ...args] = cmd.split(/\s+/);
          const r = await execa(prog!, args, { cwd, env: { ...result.env }, reject: false, all: true, timeout: 300_000 });
          if (r.exitCode !== 0) throw new Error(`${where}: RUN ${cmd} failed (exit ${r.exitCode}):\n${String(r.all).slice(-4000)}`);
          log(`${where}: RUN ${cmd}: ok`);
          break;
        }
        case 'ENTRYPOINT':
        case 'CMD': {
          const argv = JSON.parse(ins.args) as string[];
          if (ins.op === 'ENTRYPOINT') result.entrypoint = argv;
          else result.cmd = argv;
          break;
        }
        case 'USER':
        case 'EXPOSE':
        case 'ARG':
        case 'LABEL':
          break;
        default:
          throw new Error(`${where}: ${ins.op} is not replayed by this test`);
      }
    }
    done.push(result);
  }
  return done;
}

/** Absolute path of a stage's directory, e.g. appDir(runtime) for WORKDIR /app. */
export const stageDir = (s: StageResult, p = '.') => resolve(s.root, `.${posix.resolve(s.workdir, p)}`);
