import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorLine } from '../components.js';
import type { Me } from '../main.js';

export function Login({ onLogin }: { onLogin: (me: Me) => void }) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string>();
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      const res = await api<{ user: Me }>('/login', { method: 'POST', body: { name, password } });
      onLogin(res.user);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <form class="login" onSubmit={submit}>
      <h1>Ferry console</h1>
      <label>
        Name
        <input name="name" autoComplete="username" value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <label>
        Password
        <input name="password" type="password" autoComplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
      </label>
      <ErrorLine error={error} />
      <button type="submit">Log in</button>
    </form>
  );
}
