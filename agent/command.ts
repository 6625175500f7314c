// PLACEHOLDER: replaced by the real command implementation.
import type { CommandSpec } from '../src/cli/command.js';

export const agentCommand: CommandSpec = {
  name: 'agent',
  summary: 'not built yet',
  usage: 'agent',
  flags: {},
  async run() {
    throw new Error('lpm agent is not built yet');
  },
};
