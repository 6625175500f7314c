// A tiny command framework over node:util parseArgs: each command declares its flags once, and
// the same declaration drives parsing, validation and `--help`.
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/loadYaml.js';
import { ListenError } from '../listen.js';

export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  description: string;
  default?: string | boolean;
  multiple?: boolean;
  /** Placeholder shown in help, e.g. FILE. */
  value?: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** Usage line after `lpm`, e.g. "agent --config FILE". */
  usage: string;
  /** Longer help text shown after the flags. */
  details?: string;
  flags: Record<string, FlagSpec>;
  allowPositionals?: boolean;
  run(args: ParsedArgs): Promise<number | void>;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** Everything after a `--`, for commands that run another command. */
  rest: string[];
}

export const LOG_LEVEL_FLAG: FlagSpec = {
  type: 'string',
  description: 'log level: fatal, error, warn, info, debug, trace, silent',
  default: 'info',
  value: 'LEVEL',
};

export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseCommandArgs(spec: CommandSpec, argv: string[]): ParsedArgs {
  const dashdash = argv.indexOf('--');
  const own = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
  const rest = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean; default?: string | boolean }> =
    {};
  for (const [name, f] of Object.entries(spec.flags)) {
    options[name] = { type: f.type };
    if (f.short) options[name].short = f.short;
    if (f.multiple) options[name].multiple = true;
    if (f.default !== undefined) options[name].default = f.default;
  }
  try {
    const { values, positionals } = parseArgs({
      args: own,
      options,
      allowPositionals: spec.allowPositionals ?? false,
      strict: true,
    });
    return { values: values as ParsedArgs['values'], positionals, rest };
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nRun "lpm ${spec.name} --help" for usage.`);
  }
}

export function commandHelp(spec: CommandSpec, prog = 'lpm'): string {
  const lines = [`Usage: ${prog} ${spec.usage}`, '', spec.summary, ''];
  const flags = Object.entries(spec.flags);
  if (flags.length) {
    lines.push('Flags:');
    const rows = flags.map(([name, f]) => {
      const left = `  ${f.short ? `-${f.short}, ` : '    '}--${name}${f.type === 'string' ? ` ${f.value ?? 'VALUE'}` : ''}`;
      const def = f.default !== undefined && f.default !== false ? ` (default: ${String(f.default)})` : '';
      return [left, `${f.description}${def}`] as const;
    });
    const width = Math.max(...rows.map(([l]) => l.length)) + 2;
    for (const [l, r] of rows) lines.push(l.padEnd(width) + r);
    lines.push(`  -h, --help`.padEnd(width) + 'show this help');
  }
  if (spec.details) lines.push('', spec.details.trimEnd());
  return lines.join('\n') + '\n';
}

export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function requireStr(args: ParsedArgs, name: string, spec: CommandSpec): string {
  const v = str(args, name);
  if (!v) throw new UsageError(`--${name} is required.\nRun "lpm ${spec.name} --help" for usage.`);
  return v;
}

export function bool(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

/**
 * Runs one command with its arguments: `--help` prints the help, a usage or config error is
 * printed as `PROG NAME: message` and gives exit code 2; so does a listen address that cannot be
 * bound (ListenError: the command has stopped what it started before throwing it). Other errors
 * propagate.
 */
export async function runCommand(spec: CommandSpec, argv: string[], prog = 'lpm'): Promise<number> {
  const beforeDashDash = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  if (beforeDashDash.includes('--help') || beforeDashDash.includes('-h')) {
    process.stdout.write(commandHelp(spec, prog));
    return 0;
  }
  try {
    const code = await spec.run(parseCommandArgs(spec, argv));
    return typeof code === 'number' ? code : 0;
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError || err instanceof ListenError) {
      process.stderr.write(`${prog} ${spec.name}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
