/**
 * Bounded window of in-flight append messages to one follower, identified by the last index each
 * carried (ascending). The leader stops sending appends while the window is full.
 */
export class Inflights {
  private readonly items: number[] = [];

  constructor(readonly capacity: number) {}

  get count(): number {
    return this.items.length;
  }

  full(): boolean {
    return this.items.length >= this.capacity;
  }

  /** Record an append whose last entry has index `lastIndex` (≥ every index already held). */
  add(lastIndex: number): void {
    this.items.push(lastIndex);
  }

  /** Forget every in-flight append whose last index is ≤ `index` (acknowledged). */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.items.length && (this.items[n] ?? 0) <= index) n++;
    if (n > 0) this.items.splice(0, n);
  }

  /** Forget the oldest in-flight append (used on heartbeat responses to unblock a full window). */
  freeFirstOne(): void {
    this.items.shift();
  }

  reset(): void {
    this.items.length = 0;
  }
}
