/**
 * Telling the server from the client when the handshake was not seen. Ports are only a
 * hint (the protocol layer probes both directions anyway), so the rule is kept small.
 */

/** Ports above 1023 that are servers often enough in a cluster to outrank an ephemeral port. */
const SERVER_PORTS = new Set([
  53, 1883, 2181, 2379, 3000, 3306, 4317, 4318, 5000, 5432, 5672, 6379, 6443, 8000, 8080, 8081,
  8443, 8888, 9000, 9042, 9090, 9092, 9200, 10250, 11211, 15672, 27017,
]);

export function isServerPort(port: number): boolean {
  return port < 1024 || SERVER_PORTS.has(port);
}

/** The destination is the server. */
export const SERVER_DST = 0;
/** The source is the server. */
export const SERVER_SRC = 1;
/** Ports say nothing: both ephemeral, or equal. */
export const SERVER_UNKNOWN = 2;

/**
 * Which side ports name as the server: the only well-known one, or the lower of two
 * well-known ones; two ephemeral ports decide nothing.
 */
export function serverByPort(srcPort: number, dstPort: number): number {
  const src = isServerPort(srcPort);
  const dst = isServerPort(dstPort);
  if (src !== dst) return dst ? SERVER_DST : SERVER_SRC;
  if (src && srcPort !== dstPort) return dstPort < srcPort ? SERVER_DST : SERVER_SRC;
  return SERVER_UNKNOWN;
}
