// `lab up --agents`: one real agent per node namespace, measuring over the overlay (its bridge
// address) and serving /metrics on its underlay address, which the host can reach through the
// root bridge (e.g. a Prometheus on the host).
import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { agentConfigSchema, type AgentConfigInput } from '../../agent/config.js';
import { formatPath } from '../../src/config/loadYaml.js';
import type { LabPlan, PlannedNode } from './plan.js';
import { spawnDetached } from './processes.js';
import { agentConfigPath, agentLogPath, type LabState } from './state.js';
import { lpmBin } from './paths.js';

export const AGENT_PORT = 9105;

/** Targets of a node's agent: nodes it has links to in both directions (a one-way link cannot carry a ping). */
export function agentTargets(plan: LabPlan, node: string): { name: string; address: string }[] {
  const has = (a: string, b: string) => plan.links.some((l) => l.from === a && l.to === b);
  return plan.nodes
    .filter((n) => n.name !== node && has(node, n.name) && has(n.name, node))
    .map((n) => ({ name: n.name, address: n.overlayAddress }));
}

/** The agent config of one node; `extra` (the topology's `agent` section) is merged over it. */
export function agentConfig(plan: LabPlan, node: PlannedNode, extra: Record<string, unknown> = {}): AgentConfigInput {
  const cfg = {
    node: node.name,
    address: node.overlayAddress,
    listen: `${node.underlayAddress}:${AGENT_PORT}`,
    targets: agentTargets(plan, node.name),
    ...extra,
  } as AgentConfigInput;
  const parsed = agentConfigSchema.safeParse(cfg);
  if (!parsed.success)
    throw new Error(
      `agent config for node ${node.name}: ${parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ')}`,
    );
  return cfg;
}

/** Writes each node's config and starts its agent inside the node's namespace. */
export async function startAgents(
  state: LabState,
  extra: Record<string, unknown>,
  save: () => Promise<void>,
): Promise<void> {
  const bin = lpmBin();
  for (const node of state.plan.nodes) {
    const cfg = agentConfig(state.plan, node, extra);
    const file = agentConfigPath(state.name, node.name);
    await writeFile(file, stringify(cfg), { mode: 0o600 });
    const log = agentLogPath(state.name, node.name);
    const pid = spawnDetached('ip', ['netns', 'exec', node.netns, process.execPath, bin, 'agent', '--config', file], log);
    state.agents.push({ node: node.name, pid, marker: `--config ${file}`, log, config: file });
    await save();
  }
}

/** The agent's HTTP base URL of a node (reachable from the root namespace). */
export const agentUrl = (node: PlannedNode) => `http://${node.underlayAddress}:${AGENT_PORT}`;
