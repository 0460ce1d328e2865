import type { ComponentChildren } from 'preact';

export function Badge({ value }: { value: string }) {
  return <span class={`badge ${value}`}>{value}</span>;
}

export function ErrorLine({ error }: { error?: string }) {
  return error ? (
    <div class="error" role="alert">
      {error}
    </div>
  ) : null;
}

export function Fields({ fields }: { fields: [string, ComponentChildren][] }) {
  return <dl class="record">{fields.map(([k, v]) => [<dt key={`${k}-t`}>{k}</dt>, <dd key={`${k}-d`}>{v ?? ''}</dd>])}</dl>;
}

/** A table of JSON objects: the given columns, or every key of the first row. */
export function JsonTable({ rows, columns, link }: { rows: Record<string, unknown>[]; columns?: string[]; link?: (row: Record<string, unknown>) => string }) {
  if (rows.length === 0) return <p class="muted">None yet.</p>;
  const cols = columns ?? Object.keys(rows[0]!);
  const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  return (
    <table>
      <thead>
        <tr>
          {cols.map((c) => (
            <th key={c}>{c}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row, i) => (
          <tr key={i}>
            {cols.map((c, j) => (
              <td key={c}>{j === 0 && link ? <a href={link(row)}>{cell(row[c])}</a> : cell(row[c])}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
