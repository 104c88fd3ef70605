/**
 * An intrusive doubly linked list of flows ordered by last activity (head = idlest).
 * Packet time only moves forward inside the table (it keeps the latest time seen), so
 * moving a flow to the tail on each packet keeps the list sorted: idle expiry walks from
 * the head and stops at the first live flow, and LRU eviction takes the head.
 *
 * `mark` is the last item of a prefix a walker has already visited (the idle notices of
 * the flow table): items leave that prefix when they are moved or removed, and new ones
 * join at the tail, so the walker goes on from `mark.next` and never visits one twice for
 * the same idle spell.
 */
export interface Linked<T> {
  prev: T | null;
  next: T | null;
  /** The list the item is on, if any. */
  list: object | null;
}

export class FlowList<T extends Linked<T>> {
  head: T | null = null;
  tail: T | null = null;
  size = 0;
  mark: T | null = null;

  push(item: T): void {
    item.list = this;
    item.prev = this.tail;
    item.next = null;
    if (this.tail) this.tail.next = item;
    else this.head = item;
    this.tail = item;
    this.size++;
  }

  remove(item: T): void {
    if (item.list !== this) return;
    if (this.mark === item) this.mark = item.prev;
    if (item.prev) item.prev.next = item.next;
    else this.head = item.next;
    if (item.next) item.next.prev = item.prev;
    else this.tail = item.prev;
    item.prev = item.next = null;
    item.list = null;
    this.size--;
  }

  moveToTail(item: T): void {
    if (this.tail === item) return;
    this.remove(item);
    this.push(item);
  }
}
