/** A time as the JSON shapes show it: ISO 8601 in UTC, or null. */
export function isoTime(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
