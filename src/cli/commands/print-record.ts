/** Prints one record as aligned `key: value` lines; lists and objects as JSON. */
export function printRecord(record: Record<string, unknown>): void {
  const width = Math.max(...Object.keys(record).map((k) => k.length)) + 2;
  const show = (v: unknown) => (v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  process.stdout.write(
    Object.entries(record)
      .map(([k, v]) => `${(k + ':').padEnd(width)}${show(v)}`)
      .join('\n') + '\n',
  );
}
