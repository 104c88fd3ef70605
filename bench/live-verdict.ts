/**
 * What the live benchmark can say about its target (issue 4: Tapline's highest loss-free
 * rate at least `target` of tcpdump's). Each figure is the fastest sending a tool took
 * without loss. When nothing faster was sent to it that it lost, the figure is the
 * senders' limit, not the tool's: its edge is at least that (`atLeast`). A ratio with
 * such a figure is a bound, not a measure, and decides the target on one side only, or,
 * with two of them, on neither:
 *
 * | tap         | tcpdump     | tap / tcpdump | met when           | missed when       |
 * |-------------|-------------|---------------|--------------------|-------------------|
 * | measured    | measured    | measured      | ratio >= target    | ratio < target    |
 * | measured    | at least    | at most       | never shown        | ratio < target    |
 * | at least    | measured    | at least      | ratio >= target    | never shown       |
 * | at least    | at least    | neither       | never shown        | never shown       |
 */

/** One tool's highest loss-free rate, and whether a faster sending was lossy (false) or none was (true). */
export interface LiveFigure {
  pps: number;
  atLeast: boolean;
}

export type RatioBound = 'measured' | 'at most' | 'at least' | 'neither';

export interface LiveVerdict {
  ratio: number;
  bound: RatioBound;
  /** true: met; false: missed; null: this run cannot tell. */
  met: boolean | null;
  /** One line: the ratio with its bound, the target, the verdict, and which figure is only a lower bound. */
  text: string;
}

export function liveVerdict(tap: LiveFigure, tcpdump: LiveFigure, target: number): LiveVerdict {
  if (!(tap.pps > 0) || !(tcpdump.pps > 0)) throw new RangeError(`liveVerdict: both figures must be above 0 (tap ${tap.pps}, tcpdump ${tcpdump.pps})`);
  const ratio = tap.pps / tcpdump.pps;
  const bound: RatioBound = tap.atLeast ? (tcpdump.atLeast ? 'neither' : 'at least') : tcpdump.atLeast ? 'at most' : 'measured';
  const reaches = ratio >= target;
  let met: boolean | null;
  if (bound === 'measured') met = reaches;
  else if (bound === 'at most') met = reaches ? null : false;
  else if (bound === 'at least') met = reaches ? true : null;
  else met = null;
  const why: string[] = [];
  if (tcpdump.atLeast) why.push("tcpdump lost nothing at the fastest sending, so its edge is at least its figure and the ratio can only be lower");
  if (tap.atLeast) why.push("the tap lost nothing at the fastest sending, so its edge is at least its figure and the ratio can only be higher");
  // Two decimals, or four where two would put it on the other side of the target (0.4996, not "0.50").
  const digits = Number(ratio.toFixed(2)) >= target === reaches ? ratio.toFixed(2) : ratio.toFixed(4);
  const shown = bound === 'measured' ? digits : bound === 'neither' ? `${digits} (a ratio of two lower bounds)` : `${bound} ${digits}`;
  const verdict = met === true ? 'met' : met === false ? 'MISSED' : 'NOT SHOWN by this run';
  return { ratio, bound, met, text: `${shown}; target >= ${target}: ${verdict}${why.length > 0 ? `; ${why.join('; ')}` : ''}` };
}
