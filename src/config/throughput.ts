const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/**
 * Parses a rate in bytes per second: a bare number ("125000000"), or a number with
 * a unit, decimal (KB, MB, GB) or binary (KiB, MiB, GiB), with or without "/s":
 * "100MB/s", "1.5GiB".
 */
export function parseThroughput(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value <= 0) throw new Error(`invalid throughput ${value}: must be a positive number of bytes per second`);
    return value;
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?\s*(\/\s*s)?\s*$/i.exec(value);
  const bytes = match ? Number(match[1]) * UNITS[(match[2] ?? 'b').toLowerCase()]! : NaN;
  if (!(bytes > 0)) throw new Error(`invalid throughput "${value}" (expected e.g. 125000000, 100MB/s, 1GiB/s)`);
  return bytes;
}
