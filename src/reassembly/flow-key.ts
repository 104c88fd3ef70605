/**
 * Symmetric flow lookup without building a key string per packet: both directions of a
 * connection order their endpoints the same way (lower address first, then lower port),
 * and the ordered parts index nested Maps — low address, high address, then both ports
 * packed in one small integer.
 *
 * VLAN ids and tunnel ids are deliberately not part of the key: both can differ between
 * the two directions of one connection (Cilium carries the sender's identity in the
 * VNI; a trunk may carry a request and its reply on different VLANs), and a packet seen
 * twice (inside and outside a tunnel, on two interfaces) then folds into one flow where
 * the copy is dropped as a retransmission.
 */

/** A flow's place in the key maps, kept on the flow so it can remove itself. */
export interface FlowKey {
  lo: string;
  hi: string;
  ports: number;
}

type PortMap<T> = Map<number, T>;
type HiMap<T> = Map<string, PortMap<T>>;

/** (low port, high port) → one int32: a small-integer key for the innermost Map. */
export function packPorts(loPort: number, hiPort: number): number {
  return (loPort << 16) | hiPort;
}

export class FlowKeyMap<T> {
  private readonly byLo = new Map<string, HiMap<T>>();

  get(lo: string, hi: string, ports: number): T | undefined {
    return this.byLo.get(lo)?.get(hi)?.get(ports);
  }

  set(key: FlowKey, value: T): void {
    let his = this.byLo.get(key.lo);
    if (!his) this.byLo.set(key.lo, (his = new Map()));
    let ports = his.get(key.hi);
    if (!ports) his.set(key.hi, (ports = new Map()));
    ports.set(key.ports, value);
  }

  /** Removes the entry and every Map it leaves empty, so a long capture does not leak. */
  delete(key: FlowKey): void {
    const his = this.byLo.get(key.lo);
    const ports = his?.get(key.hi);
    if (!his || !ports || !ports.delete(key.ports)) return;
    if (ports.size > 0) return;
    his.delete(key.hi);
    if (his.size === 0) this.byLo.delete(key.lo);
  }

  /** Address pairs held (for tests of the clean-up). */
  get addressCount(): number {
    return this.byLo.size;
  }
}
