import https from 'node:https';

export interface AdminResponse {
  status: number;
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * One HTTPS request to a node's admin port on loopback. The node's certificate
 * is its own self-signed one, so it is not verified here (a browser would ask
 * the user; scripts configure the certificate or pin it).
 */
export function adminRequest(
  port: number,
  path: string,
  options: {
    method?: string;
    body?: unknown;
    token?: string;
    headers?: Record<string, string>;
    timeoutMs?: number;
    /** The body as text, not parsed. */ raw?: boolean;
  } = {},
): Promise<AdminResponse> {
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  const headers: Record<string, string> = { ...options.headers };
  if (payload) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers, rejectUnauthorized: false, timeout: options.timeoutMs ?? 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: any = text;
          if (!options.raw) {
            try {
              body = text ? JSON.parse(text) : undefined;
            } catch {}
          }
          resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`admin request ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Logs in as an admin user; returns the bearer token. */
export async function adminLogin(port: number, name: string, password: string): Promise<string> {
  const res = await adminRequest(port, '/api/v1/login', { method: 'POST', body: { name, password } });
  if (res.status !== 200) throw new Error(`login as ${name} failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.token;
}
