// `lpm collector --config_file FILE`: the original LPM's command line for its per-node measurer,
// which the L2S-M operator puts in every switch pod's LPM sidecar
// (`collector --config_file=/etc/lpm/lpm-config.json`). It runs the same agent as `lpm agent`;
// the config may be the original JSON (as the operator writes it) or our YAML.
import { bool, LOG_LEVEL_FLAG, str, type CommandSpec } from '../../src/cli/command.js';
import { runAgent } from '../command.js';
import { ORIGINAL_CONFIG_FILE } from './originalConfig.js';

export const collectorCommand: CommandSpec = {
  name: 'collector',
  summary: 'The original LPM\'s command line for the agent: "lpm collector --config_file FILE" runs "lpm agent --config FILE".',
  usage: 'collector [--config_file FILE] [--check] [--log-level LEVEL]',
  flags: {
    config_file: {
      type: 'string',
      value: 'FILE',
      default: ORIGINAL_CONFIG_FILE,
      description: 'agent config: the original LPM JSON (Nodename, MetricsNeighbourNodes, ...) or lpm YAML',
    },
    check: { type: 'boolean', description: 'validate the config, print the plan and exit (0 valid, 2 invalid); measures nothing' },
    'log-level': LOG_LEVEL_FLAG,
  },
  details: `With an original-format config lpm measures what it asks for (intervals in minutes; an omitted
interval is off), through probeInterface (ping -I, iperf3 --bind-dev; it waits for the interface),
keeps iperf3 servers on 5201 (TCP) and 5202 (UDP), and serves /metrics on :8090 with both the
original names (net_rtt_ms, net_jitter_ms, net_throughput_kbps) and lpm's (lpm_link_*).
See docs/migration.md.`,
  async run(args) {
    return runAgent({
      file: str(args, 'config_file') ?? ORIGINAL_CONFIG_FILE,
      check: bool(args, 'check'),
      logLevel: str(args, 'log-level') ?? 'info',
      prog: 'lpm collector',
    });
  },
};
