import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { Badge, ErrorLine, Fields } from '../components.js';
import { time } from '../format.js';
import { useAction, usePoll } from '../hooks.js';
import type { Me } from '../main.js';

function CreateAccount({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [home, setHome] = useState('');
  const [key, setKey] = useState('');
  const action = useAction(onCreated);
  const submit = (e: Event) => {
    e.preventDefault();
    const body = { name, password: password || undefined, home: home || undefined, keys: key.trim() ? [key.trim()] : [] };
    void action
      .run(() => api('/accounts', { method: 'POST', body }), `account ${name} created`)
      .then((ok) => {
        if (!ok) return;
        setName('');
        setPassword('');
        setHome('');
        setKey('');
      });
  };
  return (
    <>
      <h2>New account</h2>
      <form class="inline" onSubmit={submit} aria-label="new account">
        <label>
          Name
          <input name="account-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input name="account-password" type="password" autoComplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <label>
          Home (default: the name)
          <input name="account-home" value={home} onInput={(e) => setHome(e.currentTarget.value)} />
        </label>
        <label>
          Public key (optional)
          <input name="account-key" size={40} value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        </label>
        <button type="submit">Create account</button>
      </form>
      <ErrorLine error={action.error} />
      {action.notice && <div class="notice">{action.notice}</div>}
    </>
  );
}

export function AccountsPage({ me }: { me: Me }) {
  const accounts = usePoll(() => api<any[]>('/accounts'), [], 5000);
  return (
    <>
      <h1>Accounts</h1>
      <ErrorLine error={accounts.error} />
      {accounts.data && (
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>State</th>
              <th>Home</th>
              <th>Password</th>
              <th>Keys</th>
              <th>Recent failures</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {accounts.data.map((a) => (
              <tr key={a.name}>
                <td>
                  <a href={`#/accounts/${encodeURIComponent(a.name)}`}>{a.name}</a>
                </td>
                <td>
                  <Badge value={a.state} />
                </td>
                <td>{a.home}</td>
                <td>{a.password ? 'yes' : 'no'}</td>
                <td>{a.keys.length}</td>
                <td>{a.lockout.recentFailures}</td>
                <td>{time(a.created)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {me.role === 'admin' && <CreateAccount onCreated={() => void accounts.reload()} />}
    </>
  );
}

export function AccountPage({ name, me }: { name: string; me: Me }) {
  const path = `/accounts/${encodeURIComponent(name)}`;
  const account = usePoll(() => api(path), [name], 5000);
  const action = useAction(() => void account.reload());
  const [password, setPassword] = useState('');
  const [key, setKey] = useState('');
  const [networks, setNetworks] = useState<string>();
  const a = account.data;
  const admin = me.role === 'admin';
  return (
    <>
      <h1>Account {name}</h1>
      <ErrorLine error={account.error ?? action.error} />
      {action.notice && <div class="notice">{action.notice}</div>}
      {a && (
        <>
          <Fields
            fields={[
              ['State', <Badge value={a.state} />],
              ['Home', a.home],
              ['Logins allowed from', a.allowFrom ? a.allowFrom.join(', ') : 'any address'],
              ['Password', a.password ? 'set' : 'none'],
              ['Recent failed logins', a.lockout.recentFailures],
              ['Last failure', a.lockout.lastFailure ? `${time(a.lockout.lastFailure)} from ${a.lockout.lastFailureAddress}` : 'none'],
              ['Locked until', a.lockout.lockedUntil ? time(a.lockout.lockedUntil) : 'not locked'],
              ['Created', time(a.created)],
              ['Updated', time(a.updated)],
            ]}
          />
          {admin && (
            <p>
              {a.state === 'enabled' ? (
                <button class="danger" onClick={() => action.run(() => api(path, { method: 'PATCH', body: { disabled: true } }), 'account disabled')}>
                  Disable
                </button>
              ) : (
                <button onClick={() => action.run(() => api(path, { method: 'PATCH', body: { disabled: false } }), 'account enabled (lockout lifted)')}>
                  {a.state === 'locked' ? 'Unlock' : 'Enable'}
                </button>
              )}
            </p>
          )}
          <h2>Keys</h2>
          {a.keys.length === 0 ? (
            <p class="muted">No keys.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th>Algorithm</th>
                  <th>Fingerprint</th>
                  <th>Comment</th>
                  {admin && <th />}
                </tr>
              </thead>
              <tbody>
                {a.keys.map((k: any) => (
                  <tr key={k.fingerprint}>
                    <td>{k.algorithm}</td>
                    <td>{k.fingerprint}</td>
                    <td>{k.comment}</td>
                    {admin && (
                      <td>
                        <button
                          class="secondary"
                          onClick={() => action.run(() => api(`${path}/keys/${encodeURIComponent(k.fingerprint)}`, { method: 'DELETE' }), 'key removed')}
                        >
                          Remove
                        </button>
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {admin && (
            <>
              <form
                class="inline"
                onSubmit={(e) => {
                  e.preventDefault();
                  void action.run(() => api(`${path}/keys`, { method: 'POST', body: { key } }), 'key added').then((ok) => ok && setKey(''));
                }}
              >
                <label>
                  Add an OpenSSH public key
                  <input name="new-key" size={60} value={key} onInput={(e) => setKey(e.currentTarget.value)} />
                </label>
                <button type="submit">Add key</button>
              </form>
              <h2>Networks logins may come from</h2>
              <form
                class="inline"
                onSubmit={(e) => {
                  e.preventDefault();
                  const list = (networks ?? '').split(/[\s,]+/).filter(Boolean);
                  void action.run(
                    () => api(path, { method: 'PATCH', body: { allowFrom: list } }),
                    list.length ? 'allowed networks set' : 'logins allowed from any address',
                  );
                }}
              >
                <label>
                  CIDRs, comma-separated (empty: any address)
                  <input name="allow-from" size={50} value={networks ?? (a.allowFrom ?? []).join(', ')} onInput={(e) => setNetworks(e.currentTarget.value)} />
                </label>
                <button type="submit">Save</button>
              </form>
              <h2>Reset password</h2>
              <form
                class="inline"
                onSubmit={(e) => {
                  e.preventDefault();
                  void action.run(() => api(path, { method: 'PATCH', body: { password } }), 'password changed').then((ok) => ok && setPassword(''));
                }}
              >
                <label>
                  New password
                  <input name="new-password" type="password" autoComplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
                </label>
                <button type="submit">Set password</button>
              </form>
              <h2>Remove</h2>
              <p>
                <button
                  class="danger"
                  onClick={() => {
                    if (!confirm(`Remove account ${name}? Its files stay on storage.`)) return;
                    void action.run(() => api(path, { method: 'DELETE' }), 'account removed').then((ok) => ok && (location.hash = '#/accounts'));
                  }}
                >
                  Remove account
                </button>
              </p>
            </>
          )}
        </>
      )}
    </>
  );
}
