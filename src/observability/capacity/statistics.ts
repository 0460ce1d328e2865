/** Mean, spread and order statistics of one sample. */
export interface Summary {
  mean: number;
  /** Population standard deviation (divides by n): the spread of this interval's transfers, not an estimate of another's. */
  stddev: number;
  p50: number;
  p95: number;
  max: number;
}

/** The nearest-rank percentile (0 < p ≤ 100) of an ascending sample: the value at rank ⌈p/100 · n⌉. */
export function percentile(ascending: readonly number[], p: number): number {
  if (ascending.length === 0) throw new Error('percentile of an empty sample');
  const rank = Math.max(1, Math.ceil((p / 100) * ascending.length));
  return ascending[rank - 1]!;
}

export function mean(values: readonly number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

export function summarize(values: readonly number[]): Summary | null {
  if (values.length === 0) return null;
  const ascending = [...values].sort((a, b) => a - b);
  const m = mean(ascending);
  const variance = ascending.reduce((sum, v) => sum + (v - m) ** 2, 0) / ascending.length;
  return {
    mean: m,
    stddev: Math.sqrt(variance),
    p50: percentile(ascending, 50),
    p95: percentile(ascending, 95),
    max: ascending[ascending.length - 1]!,
  };
}
