import { api } from '../api.js';
import { ErrorLine, JsonTable } from '../components.js';
import { usePoll } from '../hooks.js';

export function EventsPage() {
  const cluster = usePoll(() => api('/cluster?events=200'), []);
  return (
    <>
      <h1>Cluster events</h1>
      <ErrorLine error={cluster.error} />
      {cluster.data && <JsonTable rows={cluster.data.events} columns={['at', 'kind', 'node', 'detail']} />}
    </>
  );
}
