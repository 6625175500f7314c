// A binary min-heap keyed by a number (due time), FIFO among equal keys, for the emulator's
// packet schedule: push and pop are O(log n) with thousands of packets in flight.

interface Entry<T> {
  key: number;
  seq: number;
  value: T;
}

export class MinHeap<T> {
  private items: Entry<T>[] = [];
  private seq = 0;

  get size(): number {
    return this.items.length;
  }

  /** Smallest key, or undefined when empty. */
  peekKey(): number | undefined {
    return this.items[0]?.key;
  }

  push(key: number, value: T): void {
    const items = this.items;
    items.push({ key, seq: this.seq++, value });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): { key: number; value: T } | undefined {
    const items = this.items;
    const top = items[0];
    if (!top) return undefined;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && this.less(items[l]!, items[m]!)) m = l;
        if (r < items.length && this.less(items[r]!, items[m]!)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return { key: top.key, value: top.value };
  }

  clear(): void {
    this.items = [];
  }

  private less(a: Entry<T>, b: Entry<T>): boolean {
    return a.key < b.key || (a.key === b.key && a.seq < b.seq);
  }
}
