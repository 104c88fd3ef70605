import type { Expr } from './ast.js';
import type { KflSpan } from './errors.js';

/**
 * The built-in protocol macros: a bare name stands for a comparison on the entry's
 * protocol tag. `http` is HTTP/1.x only — HTTP/2 entries carry `protocol.name` "http2"
 * and gRPC entries "grpc", each with its own macro. `tcp` and `udp` select by transport.
 */
export const builtinMacros: Readonly<Record<string, { field: 'name' | 'layer4'; value: string; description: string }>> = Object.freeze({
  http: { field: 'name', value: 'http', description: 'HTTP/1.x entries (protocol.name == "http")' },
  http2: { field: 'name', value: 'http2', description: 'HTTP/2 entries (protocol.name == "http2")' },
  grpc: { field: 'name', value: 'grpc', description: 'gRPC entries (protocol.name == "grpc")' },
  ws: { field: 'name', value: 'ws', description: 'WebSocket entries (protocol.name == "ws")' },
  dns: { field: 'name', value: 'dns', description: 'DNS entries (protocol.name == "dns")' },
  redis: { field: 'name', value: 'redis', description: 'Redis entries (protocol.name == "redis")' },
  kafka: { field: 'name', value: 'kafka', description: 'Kafka entries (protocol.name == "kafka")' },
  amqp: { field: 'name', value: 'amqp', description: 'AMQP entries (protocol.name == "amqp")' },
  postgres: { field: 'name', value: 'postgres', description: 'PostgreSQL entries (protocol.name == "postgres")' },
  tls: { field: 'name', value: 'tls', description: 'TLS handshakes (protocol.name == "tls")' },
  icmp: { field: 'name', value: 'icmp', description: 'ICMP entries (protocol.name == "icmp")' },
  tcp: { field: 'layer4', value: 'tcp', description: 'entries carried over TCP (protocol.layer4 == "tcp")' },
  udp: { field: 'layer4', value: 'udp', description: 'entries carried over UDP (protocol.layer4 == "udp")' },
});

export function isBuiltinMacro(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(builtinMacros, name);
}

/** `protocol.<field> == "<value>"`, every node spanning the macro's name. */
export function builtinMacroExpansion(name: string, span: KflSpan): Expr {
  const m = builtinMacros[name];
  return {
    kind: 'binary',
    op: '==',
    left: { kind: 'member', object: { kind: 'ident', name: 'protocol', span }, key: m.field, span },
    right: { kind: 'literal', value: m.value, span },
    span,
    opSpan: span,
  };
}

/** The protocol a built-in macro names (for the catalogue and the push-down plan), if it names one. */
export function macroProtocol(name: string): string | undefined {
  const m = isBuiltinMacro(name) ? builtinMacros[name] : undefined;
  return m && m.field === 'name' ? m.value : undefined;
}
