import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

/** Loads data now and again every intervalMs (0: once), so pages follow running transfers without a reload. */
export function usePoll<T>(load: () => Promise<T>, deps: unknown[], intervalMs = 2000) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const latest = useRef(load);
  latest.current = load;
  const reload = useCallback(async () => {
    try {
      setData(await latest.current());
      setError(undefined);
    } catch (err) {
      setError((err as Error).message);
    }
  }, []);
  useEffect(() => {
    void reload();
    if (!intervalMs) return;
    const timer = setInterval(() => void reload(), intervalMs);
    return () => clearInterval(timer);
  }, deps);
  return { data, error, reload };
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
