// The default-like score kube-scheduler's own plugins would add: spreading by load, in the spirit
// of NodeResourcesFit's LeastAllocated strategy. Every scenario pod requests the same, so a node's
// load is its pod count over its capacity (`scheduler.podsPerNode`): 0..100, fewer pods -> higher.
// A full node fails the NodeResourcesFit-like filter.

export function spreadScore(podsOnNode: number, podsPerNode: number): number {
  if (podsPerNode <= 0) return 0;
  return Math.round((100 * Math.max(0, podsPerNode - podsOnNode)) / podsPerNode);
}

export const nodeHasRoom = (podsOnNode: number, podsPerNode: number) => podsOnNode < podsPerNode;
