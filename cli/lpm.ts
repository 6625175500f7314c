// The one entry point: `lpm <command>`. Commands are loaded lazily so `lpm agent` does not pay
// for the extender's imports, and the other way round.
import { runCommand, type CommandSpec } from '../src/cli/command.js';

const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandSpec> }> = {
  agent: {
    summary: 'run the per-node link measurement agent',
    load: async () => (await import('../agent/command.js')).agentCommand,
  },
  collector: {
    summary: 'the original LPM\'s command line: "collector --config_file FILE" runs the agent',
    load: async () => (await import('../agent/lpmCompat/collectorCommand.js')).collectorCommand,
  },
  extender: {
    summary: 'run the kube-scheduler extender (filter + prioritize by measured links)',
    load: async () => (await import('../extender/command.js')).extenderCommand,
  },
  export: {
    summary: 'keep a NetworkTopology (CODECO SWM QoS scheduler) up to date from the measured links: export networktopology',
    load: async () => (await import('../extender/export/command.js')).exportCommand,
  },
  exporter: {
    summary: 'the original LPM\'s command line: "exporter --target swm" runs export networktopology',
    load: async () => (await import('../extender/export/command.js')).exporterCommand,
  },
  lab: {
    summary: 'emulated L2S-M overlay on this machine: lab up|down|status|exec|set',
    load: async () => (await import('../scenarios/lab/command.js')).labCommand,
  },
  demo: {
    summary: 'show the whole pipeline on this machine: emulated overlay, agents, extender, example pods, web page',
    load: async () => (await import('../scenarios/demo/command.js')).demoCommand,
  },
  scenario: {
    summary: 'run scenario files: place pods through the extender (sim, lab, cluster) and check expectations',
    load: async () => (await import('../scenarios/runner/command.js')).scenarioCommand,
  },
};

function topHelp(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length)) + 4;
  return [
    'lpm: network-aware pod placement for Kubernetes clusters running the L2S-M overlay',
    '',
    'Usage: lpm <command> [flags]',
    '',
    'Commands:',
    ...names.map((n) => `  ${n.padEnd(width)}${COMMANDS[n]!.summary}`),
    '',
    'Run "lpm <command> --help" for the flags of a command.',
    '',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(topHelp());
    return name ? 0 : 2;
  }
  if (name === '--version') {
    const { VERSION } = await import('../src/version.js');
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`lpm: unknown command "${name}"\n\n${topHelp()}`);
    return 2;
  }
  return runCommand(await entry.load(), rest);
}
