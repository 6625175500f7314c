// Round-robin tournament by the circle method: n players meet each other exactly once over
// n-1 rounds (n even) or n rounds (n odd: one player sits out, the "bye", in every round), and
// nobody plays twice in a round. The agents use it to give every pair of nodes a bandwidth-test
// slot in which neither node is busy with anyone else, with no coordinator: every agent computes
// the same schedule from the same sorted node list.

/** A pair of player indices, lower index first. */
export type Pairing = readonly [number, number];

/** Rounds of the tournament for n players (0..n-1). n < 2 gives no rounds. */
export function roundRobinRounds(n: number): Pairing[][] {
  if (!Number.isInteger(n) || n < 0) throw new Error(`player count must be a non-negative integer, got ${n}`);
  if (n < 2) return [];
  const m = n % 2 === 0 ? n : n + 1; // player m-1 is the bye when n is odd
  const ring = Array.from({ length: m - 1 }, (_, i) => i + 1); // player 0 stays put, the rest rotate
  const rounds: Pairing[][] = [];
  for (let r = 0; r < m - 1; r++) {
    const order = [0, ...ring.slice(r), ...ring.slice(0, r)];
    const round: Pairing[] = [];
    for (let i = 0; i < m / 2; i++) {
      const a = order[i]!;
      const b = order[m - 1 - i]!;
      if (a >= n || b >= n) continue; // the bye
      round.push(a < b ? [a, b] : [b, a]);
    }
    rounds.push(round);
  }
  return rounds;
}

/** Opponent of player `self` in a round, or undefined for a bye. */
export function opponentIn(round: readonly Pairing[], self: number): number | undefined {
  for (const [a, b] of round) {
    if (a === self) return b;
    if (b === self) return a;
  }
  return undefined;
}
