import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

/** Loads data now and again every intervalMs (0: once), so pages follow running transfers without a reload. */
export function usePoll<T>(load: () => Promise<T>, deps: unknown[], intervalMs = 2000) {
  // Data is kept with the deps it was loaded for: another page or search never shows the previous one's data.
  const key = JSON.stringify(deps);
  const [loaded, setLoaded] = useState<{ key: string; value: T } | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const latest = useRef({ load, key });
  latest.current = { load, key };
  // Only the newest request may set the data, so a slow older answer never overwrites a newer one.
  const sequence = useRef(0);
  const reload = useCallback(async () => {
    const mine = ++sequence.current;
    const { load: current, key: loadingKey } = latest.current;
    try {
      const value = await current();
      if (mine !== sequence.current) return;
      setLoaded({ key: loadingKey, value });
      setError(undefined);
    } catch (err) {
      if (mine === sequence.current) setError((err as Error).message);
    }
  }, []);
  useEffect(() => {
    void reload();
    if (!intervalMs) return;
    const timer = setInterval(() => void reload(), intervalMs);
    return () => clearInterval(timer);
  }, [key]);
  return { data: loaded?.key === key ? loaded.value : undefined, error, reload };
}

/** The current #/path of the page. */
export function useHashPath(): string {
  const [path, setPath] = useState(location.hash.slice(1) || '/');
  useEffect(() => {
    const onChange = () => setPath(location.hash.slice(1) || '/');
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return path;
}

/** Runs an API call from a button or form, keeping its error or success message for display. */
export function useAction(after: () => void) {
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  /** Resolves whether the call succeeded. */
  const run = async (work: () => Promise<unknown>, done: string): Promise<boolean> => {
    setError(undefined);
    setNotice(undefined);
    try {
      await work();
      setNotice(done);
      after();
      return true;
    } catch (err) {
      setError((err as Error).message);
      return false;
    }
  };
  return { error, notice, run };
}
