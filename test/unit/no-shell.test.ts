// No shell anywhere: every external command lpm runs goes through execa (or child_process.spawn)
// with the program and an argument array, so an address, node or file name can never be read as
// shell syntax. A static check over the TypeScript sources, on the syntax tree (TypeScript's own
// parser), so comments, strings and RegExp#exec do not count. It fails on:
// - `shell:` set to anything but `false`, in any object literal (options are often built apart);
// - execa's command-string and script APIs: execaCommand, execaCommandSync, `$` (imported or as a
//   template tag: $`...`, $(opts)`...`), and template-tag execa`...`;
// - child_process's exec/execSync (they always use a shell), imported or called as cp.exec(...);
// - a command runner (execa, execaSync, execaNode, spawn, spawnSync, execFile, execFileSync) whose
//   arguments are a string instead of an array, or that runs a shell with -c.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const DIRS = ['src', 'agent', 'extender', 'scenarios', 'cli', 'bench'];
const RUNNERS = new Set(['execa', 'execaSync', 'execaNode', 'spawn', 'spawnSync', 'execFile', 'execFileSync']);
const SHELLS = /^(?:\/(?:usr\/)?bin\/)?(?:sh|bash|dash|zsh|ash|ksh)$/;
const FORBIDDEN_IMPORTS: Record<string, Set<string>> = {
  execa: new Set(['$', 'execaCommand', 'execaCommandSync']),
  child_process: new Set(['exec', 'execSync']),
};
const moduleName = (spec: string) => spec.replace(/^node:/, '');

/** Problems in one source file, as "file:line: what". */
export function shellUses(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const problems: string[] = [];
  const report = (node: ts.Node, what: string) =>
    problems.push(`${file}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}: ${what}`);
  // local names bound to child_process (import * as cp / import cp from) and to forbidden functions
  const childProcessNamespaces = new Set<string>();
  const forbiddenLocals = new Map<string, string>();

  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const mod = moduleName(node.moduleSpecifier.text);
      const clause = node.importClause;
      if (mod === 'child_process' && clause) {
        if (clause.name) childProcessNamespaces.add(clause.name.text);
        if (clause.namedBindings && ts.isNamespaceImport(clause.namedBindings)) childProcessNamespaces.add(clause.namedBindings.name.text);
      }
      const forbidden = FORBIDDEN_IMPORTS[mod];
      if (forbidden && clause?.namedBindings && ts.isNamedImports(clause.namedBindings))
        for (const el of clause.namedBindings.elements) {
          const imported = (el.propertyName ?? el.name).text;
          if (forbidden.has(imported)) {
            forbiddenLocals.set(el.name.text, `${mod}'s ${imported}`);
            report(el, `imports ${imported} from ${mod} (runs a shell or a command string)`);
          }
        }
    }
    if (ts.isPropertyAssignment(node) && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name)) && node.name.text === 'shell') {
      if (node.initializer.kind !== ts.SyntaxKind.FalseKeyword) report(node, `shell: ${node.initializer.getText(sf)}`);
    }
    if (ts.isShorthandPropertyAssignment(node) && node.name.text === 'shell') report(node, 'shell option (shorthand)');
    if (ts.isTaggedTemplateExpression(node)) {
      // $`cmd`, $(opts)`cmd`, execa`cmd`, execa(opts)`cmd`
      const tag = ts.isCallExpression(node.tag) ? node.tag.expression : node.tag;
      if (ts.isIdentifier(tag) && (tag.text === '$' || tag.text === 'execa' || forbiddenLocals.has(tag.text)))
        report(node, `template-string command (${tag.text}\`...\`)`);
    }
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const name = ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : '';
      const viaChildProcess =
        ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression) && childProcessNamespaces.has(callee.expression.text);
      if (name === 'execaCommand' || name === 'execaCommandSync') report(node, `${name}(...) runs a command string`);
      if (ts.isIdentifier(callee) && forbiddenLocals.has(name) && name !== '$') report(node, `${forbiddenLocals.get(name)}(...)`);
      if (viaChildProcess && (name === 'exec' || name === 'execSync')) report(node, `child_process.${name}(...) runs a shell`);
      const isRunner = ts.isIdentifier(callee) ? RUNNERS.has(name) : viaChildProcess && RUNNERS.has(name);
      if (isRunner) {
        const [cmd, args] = node.arguments;
        if (args && (ts.isStringLiteral(args) || ts.isTemplateExpression(args) || ts.isNoSubstitutionTemplateLiteral(args)))
          report(node, `${name}(...) with a string where the argument array belongs`);
        if (cmd && (ts.isStringLiteral(cmd) || ts.isNoSubstitutionTemplateLiteral(cmd))) {
          if (SHELLS.test(cmd.text)) {
            const first = args && ts.isArrayLiteralExpression(args) ? args.elements[0] : undefined;
            const dashC = first && ts.isStringLiteral(first) && /^-\w*c\w*$/.test(first.text);
            report(node, `${name}('${cmd.text}'${dashC ? ", ['-c', ...]" : ', ...'}) runs a shell`);
          } else if (/\s/.test(cmd.text)) report(node, `${name}('${cmd.text}') names a command line, not a program`);
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return problems;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') out.push(...tsFiles(p));
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

describe('no shell: external commands run with argument arrays', () => {
  const files = DIRS.flatMap((d) => tsFiles(join(ROOT, d)));

  it('scans the sources of every part (agent, extender, lab, scenarios, CLI, shared core)', () => {
    const rel = files.map((f) => relative(ROOT, f));
    for (const expected of ['agent/tools/ping.ts', 'agent/tools/iperf3Client.ts', 'agent/tools/iperf3Server.ts', 'scenarios/lab/ip.ts', 'scenarios/lab/processes.ts', 'cli/lpm.ts'])
      expect(rel).toContain(expected);
    // and the ones that run tools really do call execa/spawn (the check has something to look at)
    const runs = rel.filter((f) => /\b(execa|spawn)\(/.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(runs.length).toBeGreaterThanOrEqual(5);
  });

  it('finds no shell, command string or template command in src/, agent/, extender/, scenarios/, cli/', () => {
    const problems = files.flatMap((f) => shellUses(relative(ROOT, f), readFileSync(f, 'utf8')));
    expect(problems).toEqual([]);
  });

  it('the check catches every forbidden form, and leaves argument arrays, comments and RegExp#exec alone', () => {
    const bad = [
      `import { execa } from 'execa'; await execa('ping', ['-c', '1', host], { shell: true });`,
      `import { execa } from 'execa'; const opts = { shell: '/bin/bash' }; await execa('ping', [host], opts);`,
      `import { execaCommand } from 'execa'; await execaCommand('ping -c 1 ' + host);`,
      `import { $ } from 'execa'; await $\`ping -c 1 \${host}\`;`,
      `import { $ as run } from 'execa'; await run({ cwd: '/' })\`ls\`;`,
      `import { exec } from 'node:child_process'; exec('ping ' + host);`,
      `import { execSync } from 'child_process'; execSync(\`ip link show \${dev}\`);`,
      `import * as cp from 'node:child_process'; cp.exec('ls');`,
      `import cp from 'child_process'; cp.execSync('ls');`,
      `import { spawn } from 'node:child_process'; spawn('ip', ['link'], { shell: true });`,
      `import { spawn } from 'node:child_process'; spawn('sh', ['-c', 'ip link show ' + dev]);`,
      `import { execa } from 'execa'; await execa('bash', ['-c', cmd]);`,
      `import { execa } from 'execa'; await execa('ping', \`-c 1 \${host}\`);`,
      `import { execa } from 'execa'; await execa('ping -c 1 host');`,
      `import { execa } from 'execa'; await execa({ stdio: 'inherit' })\`ls\`;`,
    ];
    for (const src of bad) expect(shellUses('bad.ts', src), src).not.toEqual([]);

    const good = `
      // never { shell: true }, never execaCommand, never $\`...\` (comments do not count)
      import { execa } from 'execa';
      import { spawn } from 'node:child_process';
      const m = /^(\\d+)$/.exec(text); // RegExp#exec is not child_process.exec
      const note = 'runs without shell: true';
      await execa('ping', ['-n', '-c', String(count), target], { reject: false, shell: false });
      await execa(cmd, args, { timeout: 1000 });
      spawn('ip', ['netns', 'exec', ns, ...argv], { detached: true });
    `;
    expect(shellUses('good.ts', good)).toEqual([]);
  });
});
