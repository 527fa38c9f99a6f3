// min-heap.ts: a binary min-heap of distinct items with O(log n) removal of any item (the run queue of SJF and EDF).
/*
 * Items are compared with `less`; an item's key must not change while it is
 * in the heap (take it out, change it, put it back). Removal by identity is
 * what a policy needs when a queued task blocks or dies: the heap remembers
 * each item's index, so remove() does not scan.
 */
export class MinHeap<T> {
  private readonly items: T[] = [];
  private readonly index = new Map<T, number>();

  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  has(item: T): boolean {
    return this.index.has(item);
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    if (this.index.has(item)) throw new Error('MinHeap: item is already in the heap');
    this.items.push(item);
    this.index.set(item, this.items.length - 1);
    this.up(this.items.length - 1);
  }

  pop(): T | undefined {
    const top = this.items[0];
    if (top !== undefined) this.remove(top);
    return top;
  }

  /** Take item out wherever it is; false if it was not in the heap. */
  remove(item: T): boolean {
    const i = this.index.get(item);
    if (i === undefined) return false;
    this.index.delete(item);
    const last = this.items.pop() as T;
    if (i < this.items.length) {
      // Move the last item into the hole, then restore order in whichever direction it violates.
      this.items[i] = last;
      this.index.set(last, i);
      this.up(i);
      this.down(this.index.get(last) as number);
    }
    return true;
  }

  /** Items in heap order (not sorted); for stats and tests. */
  values(): readonly T[] {
    return this.items;
  }

  private up(i: number): void {
    const a = this.items;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i], a[p])) break;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    const a = this.items;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && this.less(a[l], a[m])) m = l;
      if (r < a.length && this.less(a[r], a[m])) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(i: number, j: number): void {
    const a = this.items;
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
    this.index.set(a[i], i);
    this.index.set(a[j], j);
  }
}
