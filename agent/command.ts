// `lpm agent --config FILE`: checks ping and iperf3, loads and validates the config, starts the
// agent, reloads the config when the file changes, and shuts down cleanly on SIGTERM/SIGINT.
import { readFile } from 'node:fs/promises';
import { LOG_LEVEL_FLAG, requireStr, str, type CommandSpec } from '../src/cli/command.js';
import { agentConfigSchema } from './config.js';
import { ConfigError, parseYamlConfig } from '../src/config/loadYaml.js';
import { createLogger } from '../src/log.js';
import { VERSION } from '../src/version.js';
import { Agent, resolveNodeName } from './agent.js';
import { ConfigWatcher } from './configWatcher.js';
import { checkTools, ToolError } from './tools/toolCheck.js';

export const agentCommand: CommandSpec = {
  name: 'agent',
  summary: 'Run the per-node link measurement agent: ping and iperf3 towards its peers over the L2S-M network, results on /metrics and /api/v1/links.',
  usage: 'agent --config FILE [--log-level LEVEL]',
  flags: {
    config: {
      type: 'string',
      short: 'c',
      value: 'FILE',
      description: 'agent config (YAML); reloaded when the file changes, an invalid new file is logged and ignored',
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
See the README, "The agent", for the config reference.`,
  async run(args) {
    const file = requireStr(args, 'config', agentCommand);
    const log = createLogger('agent', str(args, 'log-level') ?? 'info');

    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`, [(err as Error).message]);
    }
    const cfg = parseYamlConfig(text, agentConfigSchema, file);
    const node = resolveNodeName(cfg);

    try {
      const tools = await checkTools();
      log.info({ version: VERSION, ping: tools.ping, iperf3: tools.iperf3 }, 'tools found');
    } catch (err) {
      if (err instanceof ToolError) {
        process.stderr.write(`lpm agent: ${err.message}\n`);
        return 1;
      }
      throw err;
    }

    const agent = new Agent(cfg, node, log);
    await agent.start();
    const watcher = new ConfigWatcher({
      file,
      initialText: text,
      log,
      onConfig: async (next) => {
        await agent.apply(next);
        agent.metrics.configReloads.inc({ result: 'success' });
      },
      onInvalid: () => agent.metrics.configReloads.inc({ result: 'error' }),
    });
    watcher.start();

    await new Promise<void>((resolve) => {
      const shutdown = (signal: string) => {
        log.info({ signal }, 'shutting down');
        process.off('SIGTERM', onTerm);
        process.off('SIGINT', onInt);
        process.off('SIGHUP', onHup);
        watcher.stop();
        agent.stop().then(resolve, (err: unknown) => {
          log.error({ err: String(err) }, 'error while stopping');
          resolve();
        });
      };
      const onTerm = () => shutdown('SIGTERM');
      const onInt = () => shutdown('SIGINT');
      const onHup = () => void watcher.check();
      process.on('SIGTERM', onTerm);
      process.on('SIGINT', onInt);
      process.on('SIGHUP', onHup);
    });
    log.flush();
    return 0;
  },
};
