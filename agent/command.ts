// `lpm agent --config FILE`: checks ping and iperf3, loads and validates the config, starts the
// agent, reloads the config when the file changes, and shuts down cleanly on SIGTERM/SIGINT.
import { bool, LOG_LEVEL_FLAG, requireStr, str, type CommandSpec } from '../src/cli/command.js';
import { ConfigError, readConfigText } from '../src/config/loadYaml.js';
import { installStopSignals } from '../src/cli/signals.js';
import { formatCheckPlan } from './checkPlan.js';
import { parseAgentConfigText } from './configFile.js';
import { createLogger } from '../src/log.js';
import { VERSION } from '../src/version.js';
import { Agent, resolveNodeName } from './agent.js';
import { ConfigWatcher } from './configWatcher.js';
import { checkTools, ToolError } from './tools/toolCheck.js';

export const agentCommand: CommandSpec = {
  name: 'agent',
  summary: 'Run the per-node link measurement agent: ping and iperf3 towards its targets (the other nodes) over the L2S-M network, results on /metrics and /api/v1/links.',
  usage: 'agent --config FILE [--check] [--log-level LEVEL]',
  flags: {
    config: {
      type: 'string',
      short: 'c',
      value: 'FILE',
      description:
        "agent config: lpm's YAML, or the original LPM's JSON (told apart by content); reloaded when the file changes, an invalid new file is logged and ignored",
    },
    check: {
      type: 'boolean',
      description: 'validate the config, print the plan (targets, addresses, interface, intervals, ports, commands) and exit: 0 valid, 2 invalid; measures nothing',
    },
    'log-level': LOG_LEVEL_FLAG,
  },
  details: `Endpoints (on the config's listen address, default 0.0.0.0:9105):
  /metrics         Prometheus metrics (lpm_link_*, lpm_probe_rtt_seconds, lpm_measurements_total, ...)
  /api/v1/links    JSON: every link this agent measured, each metric with value and timestamp
  /api/v1/history  JSON: the last results per link and measurement type
  /healthz         200 while the process runs
  /readyz          200 once the iperf3 server listens (and Kubernetes discovery has synced)

Needs ping (iputils) and iperf3 on PATH, and permission to send ICMP echo.
The node name comes from the config's "node" or the NODE_NAME environment variable.
An original LPM config (JSON with Nodename, MetricsNeighbourNodes, ...) is read as such: see
docs/migration.md; "lpm collector --config_file FILE" is the original's command line for the same.
See docs/agent.md for the config reference.`,
  async run(args) {
    const file = requireStr(args, 'config', agentCommand);
    return runAgent({ file, check: bool(args, 'check'), logLevel: str(args, 'log-level') ?? 'info', prog: 'lpm agent' });
  },
};

export interface RunAgentOptions {
  file: string;
  /** Print the plan and exit instead of running. */
  check: boolean;
  logLevel: string;
  /** How messages name the command ("lpm agent", "lpm collector"). */
  prog: string;
}

/** `lpm agent` and its alias `lpm collector`: load the config (either format), then check or run. */
export async function runAgent(o: RunAgentOptions): Promise<number> {
  const { file } = o;
  let text: string;
  try {
    text = await readConfigText(file);
  } catch (err) {
    throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`, [(err as Error).message]);
  }
  const parsed = parseAgentConfigText(text, file);
  const cfg = parsed.config;
  const node = resolveNodeName(cfg);
  if (o.check) {
    process.stdout.write(formatCheckPlan(file, parsed, node));
    return 0;
  }
  const log = createLogger('agent', o.logLevel);
  log.info({ file, format: parsed.format, ...(parsed.notes.length ? { notes: parsed.notes } : {}) }, 'config loaded');
  // From here on SIGTERM/SIGINT stop the agent cleanly (exit 0), even one arriving while it starts;
  // the handlers are never removed (see src/cli/signals.ts for why that matters).
  let watcher: ConfigWatcher | undefined;
  const signals = installStopSignals({ log, onHangup: () => void watcher?.check() });

  try {
    const tools = await checkTools();
    log.info({ version: VERSION, ping: tools.ping, iperf3: tools.iperf3 }, 'tools found');
  } catch (err) {
    if (err instanceof ToolError) {
      process.stderr.write(`${o.prog}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }

  const agent = new Agent(cfg, node, log);
  await agent.start();
  const running = new ConfigWatcher({
    file,
    initialText: text,
    log,
    onConfig: async (next) => {
      await agent.apply(next);
      agent.metrics.configReloads.inc({ result: 'success' });
    },
    onInvalid: () => agent.metrics.configReloads.inc({ result: 'error' }),
  });
  watcher = running;
  running.start();

  log.info({ signal: await signals.received }, 'shutting down');
  running.stop();
  try {
    await agent.stop();
  } catch (err) {
    log.error({ err: String(err) }, 'error while stopping');
  }
  log.flush();
  return 0;
}
