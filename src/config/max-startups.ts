/**
 * OpenSSH's MaxStartups, "start:rate:full": with `start` connections not yet
 * logged in, a new one is refused with probability rate/100, rising linearly
 * to certain refusal at `full`. A single number N means N:100:N (a plain cap).
 */
export interface MaxStartups {
  start: number;
  rate: number;
  full: number;
}

export function parseMaxStartups(value: string | number): MaxStartups {
  const text = String(value).trim();
  const parts = text.split(':').map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
  if (parts.length === 1 && parts[0]! >= 1) return { start: parts[0]!, rate: 100, full: parts[0]! };
  const [start, rate, full] = parts;
  if (parts.length === 3 && start! >= 1 && rate! >= 1 && rate! <= 100 && full! >= start!) return { start: start!, rate: rate!, full: full! };
  throw new Error(`invalid max_startups "${text}" (expected start:rate:full such as 10:30:100, rate 1-100 and full >= start, or one number)`);
}
