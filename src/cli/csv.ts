/** One CSV field as RFC 4180 wants it: quoted when it holds a comma, a quote or a line break; null is empty. */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One CSV record, CRLF-terminated (RFC 4180). */
export function csvRecord(values: Array<string | number | null>): string {
  return values.map(csvField).join(',') + '\r\n';
}
