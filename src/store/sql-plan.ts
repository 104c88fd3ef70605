/**
 * The push-down plan as SQL. Values only ever travel as bound parameters; the SQL text
 * depends on the plan's shape alone (which fields, how many values), so prepared
 * statements are cached by their text.
 */
import type { PushDownPlan } from '../kfl/index.js';

/** Where a page starts: after the row (ts, rowid) in the query's order. */
export interface Position {
  ts: number;
  rowid: number;
}

export interface SqlQuery {
  sql: string;
  params: (string | number)[];
}

export interface CandidateSpec {
  plan: PushDownPlan;
  /** Inclusive time bounds from the API, on top of the plan's. */
  from?: number;
  to?: number;
  order: 'asc' | 'desc';
  after?: Position;
  /** Rows to read at most (SQL LIMIT); absent reads all candidates. */
  rowLimit?: number;
}

/**
 * The candidate rows of a plan, or null when the plan admits nothing at all (an empty
 * protocol list from `http and dns`, or an empty time or status range).
 */
export function candidateSql(spec: CandidateSpec): SqlQuery | null {
  const { plan } = spec;
  const where: string[] = [];
  const params: (string | number)[] = [];

  let from = plan.timeFrom;
  let to = plan.timeTo;
  if (spec.from !== undefined) from = from === undefined ? spec.from : Math.max(from, spec.from);
  if (spec.to !== undefined) to = to === undefined ? spec.to : Math.min(to, spec.to);
  if (from !== undefined && to !== undefined && from > to) return null;
  if (from !== undefined) {
    where.push('ts >= ?');
    params.push(from);
  }
  if (to !== undefined) {
    where.push('ts <= ?');
    params.push(to);
  }
  if (plan.protocols) {
    if (plan.protocols.length === 0) return null;
    where.push(`proto IN (${marks(plan.protocols.length)})`);
    params.push(...plan.protocols);
  }
  if (!either(where, params, 'src_ip', 'dst_ip', plan.ips)) return null;
  if (!either(where, params, 'src_port', 'dst_port', plan.ports)) return null;
  if (!either(where, params, 'src_ns', 'dst_ns', plan.namespaces)) return null;
  if (plan.statusRange) {
    const [lo, hi] = plan.statusRange;
    if (lo > hi) return null;
    if (lo === hi) {
      where.push('status = ?');
      params.push(lo);
    } else {
      where.push('status BETWEEN ? AND ?');
      params.push(lo, hi);
    }
  }
  const asc = spec.order === 'asc';
  if (spec.after) {
    // (ts, rowid) strictly after the cursor; the plain `ts >=` term is what lets SQLite
    // seek into an index that ends in ts instead of scanning up to the cursor.
    where.push(asc ? 'ts >= ? AND (ts > ? OR rowid > ?)' : 'ts <= ? AND (ts < ? OR rowid < ?)');
    params.push(spec.after.ts, spec.after.ts, spec.after.rowid);
  }
  const dir = asc ? 'ASC' : 'DESC';
  let sql = `SELECT rowid, ts, entry FROM entries${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY ts ${dir}, rowid ${dir}`;
  if (spec.rowLimit !== undefined) {
    sql += ' LIMIT ?';
    params.push(spec.rowLimit);
  }
  return { sql, params };
}

function marks(n: number): string {
  return n === 1 ? '?' : new Array<string>(n).fill('?').join(', ');
}

/** `(a IN (…) OR b IN (…))`; false when the value list is empty (nothing can match). */
function either<T extends string | number>(where: string[], params: (string | number)[], a: string, b: string, values: readonly T[] | undefined): boolean {
  if (!values) return true;
  if (values.length === 0) return false;
  const m = marks(values.length);
  where.push(values.length === 1 ? `(${a} = ? OR ${b} = ?)` : `(${a} IN (${m}) OR ${b} IN (${m}))`);
  params.push(...values, ...values);
  return true;
}
