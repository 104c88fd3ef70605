/**
 * Mnemonics of the IANA "Domain Name System (DNS) Parameters" registry, as dig and
 * tshark print them. Numbers with no mnemonic use the RFC 3597 forms (TYPE65534, CLASS9).
 */

const TYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'A', 2: 'NS', 3: 'MD', 4: 'MF', 5: 'CNAME', 6: 'SOA', 7: 'MB', 8: 'MG', 9: 'MR', 10: 'NULL',
  11: 'WKS', 12: 'PTR', 13: 'HINFO', 14: 'MINFO', 15: 'MX', 16: 'TXT', 17: 'RP', 18: 'AFSDB',
  19: 'X25', 20: 'ISDN', 21: 'RT', 22: 'NSAP', 23: 'NSAP-PTR', 24: 'SIG', 25: 'KEY', 26: 'PX',
  27: 'GPOS', 28: 'AAAA', 29: 'LOC', 30: 'NXT', 31: 'EID', 32: 'NIMLOC', 33: 'SRV', 34: 'ATMA',
  35: 'NAPTR', 36: 'KX', 37: 'CERT', 38: 'A6', 39: 'DNAME', 40: 'SINK', 41: 'OPT', 42: 'APL',
  43: 'DS', 44: 'SSHFP', 45: 'IPSECKEY', 46: 'RRSIG', 47: 'NSEC', 48: 'DNSKEY', 49: 'DHCID',
  50: 'NSEC3', 51: 'NSEC3PARAM', 52: 'TLSA', 53: 'SMIMEA', 55: 'HIP', 56: 'NINFO', 57: 'RKEY',
  58: 'TALINK', 59: 'CDS', 60: 'CDNSKEY', 61: 'OPENPGPKEY', 62: 'CSYNC', 63: 'ZONEMD',
  64: 'SVCB', 65: 'HTTPS', 99: 'SPF', 100: 'UINFO', 101: 'UID', 102: 'GID', 103: 'UNSPEC',
  104: 'NID', 105: 'L32', 106: 'L64', 107: 'LP', 108: 'EUI48', 109: 'EUI64', 249: 'TKEY',
  250: 'TSIG', 251: 'IXFR', 252: 'AXFR', 253: 'MAILB', 254: 'MAILA', 255: 'ANY', 256: 'URI',
  257: 'CAA', 258: 'AVC', 259: 'DOA', 260: 'AMTRELAY', 32768: 'TA', 32769: 'DLV',
};

const CLASS_NAMES: Readonly<Record<number, string>> = {
  1: 'IN', 2: 'CS', 3: 'CH', 4: 'HS', 254: 'NONE', 255: 'ANY',
};

/** RFC 1035 4.1.1, RFC 2136, RFC 1996, RFC 8490. */
const OPCODE_NAMES: readonly string[] = [
  'QUERY', 'IQUERY', 'STATUS', 'OPCODE3', 'NOTIFY', 'UPDATE', 'DSO',
];

/** RFC 1035 4.1.1 (0-5), RFC 2136 (6-10), RFC 6891 / 8945 / 2930 / 7873 (16-23, extended via OPT). */
const RCODE_NAMES: Readonly<Record<number, string>> = {
  0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED',
  6: 'YXDOMAIN', 7: 'YXRRSET', 8: 'NXRRSET', 9: 'NOTAUTH', 10: 'NOTZONE', 11: 'DSOTYPENI',
  16: 'BADVERS', 17: 'BADKEY', 18: 'BADTIME', 19: 'BADMODE', 20: 'BADNAME', 21: 'BADALG',
  22: 'BADTRUNC', 23: 'BADCOOKIE',
};

/** EDNS option codes (IANA "DNS EDNS0 Option Codes"). */
const EDNS_OPTION_NAMES: Readonly<Record<number, string>> = {
  1: 'LLQ', 2: 'UL', 3: 'NSID', 5: 'DAU', 6: 'DHU', 7: 'N3U', 8: 'CLIENT-SUBNET', 9: 'EXPIRE',
  10: 'COOKIE', 11: 'TCP-KEEPALIVE', 12: 'PADDING', 13: 'CHAIN', 14: 'KEY-TAG',
  15: 'EDE', 16: 'CLIENT-TAG', 17: 'SERVER-TAG',
};

/** SvcParamKeys (RFC 9460 14.3.2, RFC 9461). */
const SVC_PARAM_NAMES: Readonly<Record<number, string>> = {
  0: 'mandatory', 1: 'alpn', 2: 'no-default-alpn', 3: 'port', 4: 'ipv4hint', 5: 'ech',
  6: 'ipv6hint', 7: 'dohpath', 8: 'ohttp',
};

// Names for small numbers are built once, so rendering an unknown type costs no string work.
const typeCache: string[] = [];

export function typeName(type: number): string {
  const known = TYPE_NAMES[type];
  if (known !== undefined) return known;
  if (type < 1024) return (typeCache[type] ??= 'TYPE' + type);
  return 'TYPE' + type;
}

export function className(cls: number): string {
  return CLASS_NAMES[cls] ?? 'CLASS' + cls;
}

export function opcodeName(opcode: number): string {
  return OPCODE_NAMES[opcode] ?? 'OPCODE' + opcode;
}

export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? 'RCODE' + rcode;
}

export function ednsOptionName(code: number): string {
  return EDNS_OPTION_NAMES[code] ?? 'OPT' + code;
}

export function svcParamName(key: number): string {
  return SVC_PARAM_NAMES[key] ?? 'key' + key;
}

/** Opcodes a real DNS message carries; 3 and 7-15 are unassigned, so they argue against DNS. */
export function isAssignedOpcode(opcode: number): boolean {
  return opcode <= 6 && opcode !== 3;
}

export const DnsType = {
  A: 1, NS: 2, MD: 3, MF: 4, CNAME: 5, SOA: 6, MB: 7, MG: 8, MR: 9, NULL: 10, WKS: 11, PTR: 12,
  HINFO: 13, MINFO: 14, MX: 15, TXT: 16, RP: 17, AFSDB: 18, RT: 21, KX: 36, SIG: 24, KEY: 25,
  AAAA: 28, SRV: 33, NAPTR: 35, A6: 38, DNAME: 39, OPT: 41, DS: 43, SSHFP: 44, RRSIG: 46,
  NSEC: 47, DNSKEY: 48, NSEC3: 50, NSEC3PARAM: 51, TLSA: 52, CDS: 59, CDNSKEY: 60, SVCB: 64,
  HTTPS: 65, SPF: 99, URI: 256, CAA: 257,
} as const;
