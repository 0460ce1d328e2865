import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiFailure } from './api.js';
import { useHashPath } from './hooks.js';
import { AccountPage, AccountsPage } from './pages/accounts.js';
import { CapacityPage } from './pages/capacity.js';
import { CatalogPage } from './pages/catalog.js';
import { Dashboard } from './pages/dashboard.js';
import { EventsPage } from './pages/events.js';
import { Login } from './pages/login.js';
import { TransferPage, TransfersPage } from './pages/transfers.js';

export interface Me {
  name: string;
  role: 'admin' | 'operator';
}

const NAV: [string, string][] = [
  ['/', 'Dashboard'],
  ['/accounts', 'Accounts'],
  ['/transfers', 'File tracking'],
  ['/routes', 'Routes'],
  ['/partners', 'Partners'],
  ['/schedules', 'Schedules'],
  ['/monitors', 'Monitors'],
  ['/events', 'Cluster events'],
  ['/capacity', 'Capacity'],
];

function Page({ path, me }: { path: string; me: Me }) {
  const [, section, id] = path.split('/').map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  });
  switch (section) {
    case '':
      return <Dashboard />;
    case 'accounts':
      return id ? <AccountPage name={id} me={me} /> : <AccountsPage me={me} />;
    case 'transfers':
      return id ? <TransferPage id={id} me={me} /> : <TransfersPage />;
    case 'routes':
    case 'partners':
    case 'schedules':
    case 'monitors':
      return <CatalogPage kind={section} />;
    case 'events':
      return <EventsPage />;
    case 'capacity':
      return <CapacityPage />;
    default:
      return <p>No such page.</p>;
  }
}

function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const path = useHashPath();
  useEffect(() => {
    const loggedOut = () => setMe(null);
    addEventListener('ferry:logged-out', loggedOut);
    return () => removeEventListener('ferry:logged-out', loggedOut);
  }, []);
  useEffect(() => {
    api<Me>('/me')
      .then(setMe)
      .catch((err) => (err instanceof ApiFailure && err.status === 401 ? setMe(null) : setMe(null)));
  }, []);
  if (me === undefined) return null;
  if (me === null) return <Login onLogin={setMe} />;
  const logout = async () => {
    await api('/logout', { method: 'POST' }).catch(() => undefined);
    setMe(null);
  };
  const section = '/' + (path.split('/')[1] ?? '');
  return (
    <>
      <header>
        <span class="brand">Ferry</span>
        <nav>
          {NAV.map(([href, label]) => (
            <a key={href} href={`#${href}`} class={section === href ? 'active' : ''}>
              {label}
            </a>
          ))}
        </nav>
        <span class="who">
          {me.name} ({me.role}){' '}
          <button class="secondary" onClick={logout}>
            Log out
          </button>
        </span>
      </header>
      <main>
        <Page path={path} me={me} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
