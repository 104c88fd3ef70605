/**
 * The field catalogue: every path each protocol's entries carry (DESIGN.md "The entry"),
 * with its type and one line of description. The checker warns on paths it does not
 * know for the protocols a query names; `tapline kfl fields` prints it; the UI's
 * autocomplete reads it. `[]` stands for "any element of a list", `*` for "any key of a map".
 */

export type FieldType = 'string' | 'number' | 'boolean' | 'object' | 'map' | 'list' | 'any';

export interface FieldInfo {
  path: string;
  type: FieldType;
  description: string;
  /** The protocols whose entries have this field; empty for fields every entry has. */
  protocols: string[];
}

type Row = [path: string, type: FieldType, description: string];

const common: Row[] = [
  ['id', 'string', 'unique in the cluster: <node>/<stream>-<index>'],
  ['stream', 'string', 'the L4 connection (or UDP flow) the entry belongs to'],
  ['index', 'number', 'position of the entry in its stream'],
  ['node', 'object', 'the node that captured the entry'],
  ['node.name', 'string', 'name of the capturing node'],
  ['node.ip', 'string', 'IP address of the capturing node'],
  ['protocol', 'object', 'what the entry is'],
  ['protocol.name', 'string', 'protocol name: http, http2, grpc, dns, redis, kafka, amqp, postgres, tls, …'],
  ['protocol.version', 'string', 'protocol version, e.g. 1.1'],
  ['protocol.abbr', 'string', 'short display name, e.g. HTTP'],
  ['protocol.layer4', 'string', 'transport: tcp or udp'],
  ['timestamp', 'number', 'ms since the epoch of the first packet of the request'],
  ['startTime', 'string', 'the same instant as RFC 3339 with nanoseconds'],
  ['elapsedTime', 'number', "ms from the request's first byte to the response's last byte"],
  ['outgoing', 'boolean', 'the entry left the node'],
  ['request', 'object', 'the request (protocol-specific)'],
  ['response', 'object', 'the response (protocol-specific); absent when none was seen'],
  ['requestSize', 'number', 'L7 bytes of the request on the wire'],
  ['responseSize', 'number', 'L7 bytes of the response on the wire'],
  ['passed', 'boolean', 'set by test.pass in a script'],
  ['failed', 'boolean', 'set by test.fail in a script'],
  ['error', 'object', 'present only when something went wrong'],
  ['error.type', 'string', 'kind of failure, e.g. pair-not-found'],
  ['error.msg', 'string', 'what went wrong'],
  ['issues', 'list', 'issue codes met on the way to this entry (tcp.gap, http.header_too_long, …)'],
  ['issues[]', 'string', 'one issue code'],
];

for (const side of ['src', 'dst'] as const) {
  const who = side === 'src' ? 'source' : 'destination';
  common.push(
    [side, 'object', `the ${who} endpoint`],
    [`${side}.ip`, 'string', `${who} IP address`],
    [`${side}.port`, 'number', `${who} port`],
    [`${side}.name`, 'string', `${who} name (pod or service when known)`],
    [`${side}.namespace`, 'string', `${who} Kubernetes namespace`],
    [`${side}.pod`, 'string', `${who} pod`],
    [`${side}.service`, 'string', `${who} Kubernetes service`],
    [`${side}.node`, 'string', `node the ${who} runs on`],
    [`${side}.labels`, 'map', `${who} pod labels`],
    [`${side}.labels.*`, 'string', 'one label value'],
    [`${side}.process`, 'string', `${who} process name`],
  );
}

function httpRows(): Row[] {
  return [
    ['request.method', 'string', 'HTTP method'],
    ['request.url', 'string', 'request target as sent'],
    ['request.path', 'string', 'path of the request target, without the query'],
    ['request.host', 'string', 'Host header (or :authority)'],
    ['request.httpVersion', 'string', 'HTTP version of the request'],
    ['request.headers', 'map', 'request headers: name as sent → value (repeats joined with ", "); looked up case-insensitively'],
    ['request.headers.*', 'string', 'one request header'],
    ['request.queryString', 'map', 'query parameters: name → value'],
    ['request.queryString.*', 'string', 'one query parameter'],
    ['request.cookies', 'map', 'request cookies: name → value'],
    ['request.cookies.*', 'string', 'one cookie'],
    ['request.bodySize', 'number', 'request body bytes'],
    ['request.postData', 'object', 'the request body'],
    ['request.postData.mimeType', 'string', 'Content-Type of the request body'],
    ['request.postData.text', 'string', 'request body text (de-chunked, decompressed, capped); json() parses it'],
    ['request.postData.truncated', 'boolean', 'the stored body text was cut at the configured cap'],
    ['response.status', 'number', 'status code'],
    ['response.statusText', 'string', 'reason phrase'],
    ['response.httpVersion', 'string', 'HTTP version of the response'],
    ['response.headers', 'map', 'response headers: name as sent → value; looked up case-insensitively'],
    ['response.headers.*', 'string', 'one response header'],
    ['response.cookies', 'map', 'cookies the response sets: name → value'],
    ['response.cookies.*', 'string', 'one cookie'],
    ['response.bodySize', 'number', 'response body bytes, decoded'],
    ['response.content', 'object', 'the response body'],
    ['response.content.mimeType', 'string', 'Content-Type of the response body'],
    ['response.content.size', 'number', 'decoded body bytes'],
    ['response.content.text', 'string', 'response body text (de-chunked, decompressed, capped); json() parses it'],
    ['response.content.encoding', 'string', 'encoding of text when it is not plain (base64)'],
    ['response.content.truncated', 'boolean', 'the stored body text was cut at the configured cap'],
  ];
}

function grpcRows(): Row[] {
  return [
    ['request.grpc', 'object', 'gRPC call'],
    ['request.grpc.service', 'string', 'gRPC service, e.g. helloworld.Greeter'],
    ['request.grpc.method', 'string', 'gRPC method, e.g. SayHello'],
    ['response.grpc', 'object', 'gRPC result'],
    ['response.grpc.status', 'number', 'grpc-status code'],
  ];
}

function bothSides(rows: Row[]): Row[] {
  const out: Row[] = [];
  for (const side of ['request', 'response']) for (const [p, t, d] of rows) out.push([`${side}.${p}`, t, d]);
  return out;
}

const perProtocol: Record<string, Row[]> = {
  http: httpRows(),
  http2: httpRows(),
  grpc: [...httpRows(), ...grpcRows()],
  ws: httpRows(),
  dns: [
    ['request.id', 'number', 'DNS transaction id'],
    ['request.opCode', 'string', 'operation: QUERY, IQUERY, STATUS, NOTIFY, UPDATE'],
    ['request.questions', 'list', 'the questions'],
    ['request.questions[].name', 'string', 'name asked for'],
    ['request.questions[].type', 'string', 'record type asked for: A, AAAA, CNAME, …'],
    ['request.questions[].class', 'string', 'class asked for: IN, …'],
    ['response.id', 'number', 'DNS transaction id of the response'],
    ['response.code', 'string', 'response code: NOERROR, NXDOMAIN, SERVFAIL, …'],
    ['response.answers', 'list', 'the answers'],
    ['response.answers[].name', 'string', 'name the answer is for'],
    ['response.answers[].type', 'string', 'record type: A, AAAA, CNAME, …'],
    ['response.answers[].class', 'string', 'record class'],
    ['response.answers[].ttl', 'number', 'seconds the answer may be cached'],
    ['response.answers[].data', 'string', 'the address, target name or text, by type'],
  ],
  redis: bothSides([
    ['type', 'string', 'RESP type of the message'],
    ['command', 'string', 'command name, e.g. GET'],
    ['key', 'string', 'the key the command names'],
    ['value', 'any', 'value sent or returned'],
  ]),
  kafka: bothSides([
    ['apiKeyName', 'string', 'API, e.g. Produce, Fetch'],
    ['apiVersion', 'number', 'API version'],
    ['correlationID', 'number', 'correlation id pairing request and response'],
    ['clientID', 'string', 'client id'],
    ['payload', 'any', 'the decoded message body'],
  ]),
  amqp: bothSides([
    ['method', 'string', 'AMQP method, e.g. basic.publish'],
    ['exchange', 'string', 'exchange name'],
    ['routingKey', 'string', 'routing key'],
    ['queue', 'string', 'queue name'],
    ['properties', 'any', 'message properties'],
    ['body', 'string', 'message body'],
  ]),
  postgres: [
    ['request.type', 'string', 'message type, e.g. Query, Parse'],
    ['request.query', 'string', 'SQL text'],
    ['request.parameters', 'list', 'bound parameter values'],
    ['request.parameters[]', 'any', 'one parameter value'],
    ['response.rows', 'number', 'rows returned or affected'],
    ['response.error', 'any', 'the error the server returned'],
  ],
  tls: bothSides([
    ['sni', 'string', 'server name indication'],
    ['alpn', 'list', 'application protocols offered or chosen'],
    ['alpn[]', 'string', 'one application protocol'],
    ['version', 'string', 'TLS version'],
    ['cipherSuites', 'list', 'cipher suites offered'],
    ['cipherSuites[]', 'any', 'one cipher suite'],
    ['ja3', 'string', 'JA3 fingerprint'],
    ['ja4', 'string', 'JA4 fingerprint'],
  ]),
};

/** Every field, common ones first, then each protocol's. */
export function fieldCatalogue(): FieldInfo[] {
  const out: FieldInfo[] = common.map(([path, type, description]) => ({ path, type, description, protocols: [] }));
  const byPath = new Map<string, FieldInfo>();
  for (const [proto, rows] of Object.entries(perProtocol)) {
    for (const [path, type, description] of rows) {
      const seen = byPath.get(path);
      if (seen) {
        seen.protocols.push(proto);
        continue;
      }
      const info: FieldInfo = { path, type, description, protocols: [proto] };
      byPath.set(path, info);
      out.push(info);
    }
  }
  return out;
}

/** Protocol names the catalogue knows. */
export const cataloguedProtocols: readonly string[] = Object.freeze(Object.keys(perProtocol));

interface Node {
  type: FieldType;
  /** Empty: every protocol. */
  protocols: Set<string>;
  children: Map<string, Node>;
}

function segmentsOf(path: string): string[] {
  return path.replace(/\[\]/g, '.[]').split('.');
}

const root: Node = buildTrie();

function buildTrie(): Node {
  const top: Node = { type: 'object', protocols: new Set(), children: new Map() };
  for (const f of fieldCatalogue()) {
    let node = top;
    for (const seg of segmentsOf(f.path)) {
      let child = node.children.get(seg);
      if (!child) {
        child = { type: 'object', protocols: new Set(f.protocols), children: new Map() };
        node.children.set(seg, child);
      } else {
        for (const p of f.protocols) child.protocols.add(p);
        if (f.protocols.length === 0) child.protocols.clear();
      }
      node = child;
    }
    node.type = f.type;
  }
  // `request` and `response` are common: the sides are there for every protocol.
  return top;
}

function admits(node: Node, protocols: readonly string[] | null): boolean {
  if (node.protocols.size === 0 || protocols === null) return true;
  for (const p of protocols) if (node.protocols.has(p)) return true;
  return false;
}

/**
 * Whether `keys` (a path as the query wrote it) is a field the catalogue knows for one
 * of `protocols` (null: any protocol). Below a field of type `any` everything is known.
 * A protocol the catalogue has never heard of makes every path under request/response known.
 */
export function isKnownField(keys: readonly (string | number)[], protocols: readonly string[] | null): boolean {
  const named = protocols === null ? null : protocols.filter((p) => cataloguedProtocols.includes(p));
  if (named !== null && named.length < protocols!.length && (keys[0] === 'request' || keys[0] === 'response')) return true;
  let node = root;
  for (const key of keys) {
    if (node.type === 'any') return true;
    const next =
      typeof key === 'number'
        ? node.children.get('[]')
        : node.children.get(key) ?? (node.type === 'map' ? node.children.get('*') : undefined);
    if (!next || !admits(next, named)) return false;
    node = next;
  }
  return true;
}

/** The catalogue's type of a path, when it knows one. */
export function fieldType(keys: readonly (string | number)[]): FieldType | undefined {
  let node = root;
  for (const key of keys) {
    if (node.type === 'any') return 'any';
    const next = typeof key === 'number' ? node.children.get('[]') : node.children.get(key) ?? (node.type === 'map' ? node.children.get('*') : undefined);
    if (!next) return undefined;
    node = next;
  }
  return node.type;
}
