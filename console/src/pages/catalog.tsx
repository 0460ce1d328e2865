import { api } from '../api.js';
import { ErrorLine, JsonTable } from '../components.js';
import { usePoll } from '../hooks.js';

const TITLES: Record<string, string> = { routes: 'Routes', partners: 'Partners', schedules: 'Schedules', monitors: 'Folder monitors' };

/** Routes, partners, schedules and monitors as `ferry … list --json` shows them (changed with the CLI or `ferry import`). */
export function CatalogPage({ kind }: { kind: string }) {
  const rows = usePoll(() => api<Record<string, unknown>[]>(`/${kind}`), [kind], 5000);
  return (
    <>
      <h1>{TITLES[kind] ?? kind}</h1>
      <ErrorLine error={rows.error} />
      {rows.data && <JsonTable rows={rows.data} />}
    </>
  );
}
