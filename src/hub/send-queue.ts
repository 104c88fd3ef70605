/**
 * The bounded outbox of one live-stream client. A client that reads slower than entries
 * are made must never make the hub hold memory without bound, nor slow the tap down:
 * messages go to the socket while the bytes handed to it and not yet flushed stay under
 * `maxInFlightBytes`; beyond that they wait here, at most `maxQueued` messages and
 * `maxQueuedBytes` bytes, and the oldest waiting message is dropped to make room. Dropped
 * messages are counted and the client is told how many before the next message it gets,
 * so a UI can show the gap ("1 234 entries skipped").
 */

export interface SendQueueLimits {
  /** Messages waiting for the socket. */
  maxQueued: number;
  /** Bytes of the messages waiting for the socket. */
  maxQueuedBytes: number;
  /** Bytes handed to the socket whose write has not completed (the kernel buffer is full). */
  maxInFlightBytes: number;
}

export const DEFAULT_SEND_QUEUE_LIMITS: SendQueueLimits = {
  maxQueued: 1000,
  maxQueuedBytes: 8 * 1024 * 1024,
  maxInFlightBytes: 1024 * 1024,
};

/** Sends one text message; calls `done` once the socket has taken the bytes (ws's `send` callback). */
export type SendFn = (text: string, done: (err?: Error) => void) => void;

export interface SendQueue {
  /** Queues a message; never blocks, never throws. */
  push(text: string): void;
  /** Messages waiting now. */
  readonly queued: number;
  readonly queuedBytes: number;
  readonly inFlightBytes: number;
  /** Messages dropped since creation. */
  readonly dropped: number;
  /** Stop sending; what waits is released. */
  close(): void;
}

/**
 * `dropNotice(n)` makes the message that tells the client that n messages were dropped;
 * `onDrop(n)` is called for each drop (the hub counts them in a metric).
 */
export function createSendQueue(
  send: SendFn,
  limits: SendQueueLimits,
  dropNotice: (count: number) => string,
  onDrop: (count: number) => void = () => {},
): SendQueue {
  // A ring would avoid shift()'s copying, but the queue is short and shift() on a
  // small array is cheap in V8; keep it plain.
  const waiting: string[] = [];
  const waitingSizes: number[] = [];
  let queuedBytes = 0;
  let inFlightBytes = 0;
  let dropped = 0;
  let unreported = 0;
  let closed = false;

  function transmit(text: string, size: number): void {
    inFlightBytes += size;
    send(text, () => {
      // Errors end the connection; its close handler closes the queue.
      inFlightBytes -= size;
      pump();
    });
  }

  function pump(): void {
    while (!closed && inFlightBytes < limits.maxInFlightBytes && (waiting.length > 0 || unreported > 0)) {
      if (unreported > 0) {
        const n = unreported;
        unreported = 0;
        const notice = dropNotice(n);
        transmit(notice, Buffer.byteLength(notice));
        continue;
      }
      const size = waitingSizes.shift()!;
      queuedBytes -= size;
      transmit(waiting.shift()!, size);
    }
  }

  function dropOldest(): void {
    waiting.shift();
    queuedBytes -= waitingSizes.shift()!;
    dropped++;
    unreported++;
    onDrop(1);
  }

  return {
    push(text: string): void {
      if (closed) return;
      const size = Buffer.byteLength(text);
      if (waiting.length === 0 && unreported === 0 && inFlightBytes < limits.maxInFlightBytes) {
        transmit(text, size);
        return;
      }
      if (size > limits.maxQueuedBytes) {
        // Bigger than the whole queue: keeping it would mean dropping everything else.
        dropped++;
        unreported++;
        onDrop(1);
        return;
      }
      waiting.push(text);
      waitingSizes.push(size);
      queuedBytes += size;
      while (waiting.length > limits.maxQueued || queuedBytes > limits.maxQueuedBytes) dropOldest();
    },
    get queued() {
      return waiting.length;
    },
    get queuedBytes() {
      return queuedBytes;
    },
    get inFlightBytes() {
      return inFlightBytes;
    },
    get dropped() {
      return dropped;
    },
    close(): void {
      closed = true;
      waiting.length = 0;
      waitingSizes.length = 0;
      queuedBytes = 0;
    },
  };
}
