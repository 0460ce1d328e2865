import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Config } from '../../config/schema.js';
import type { ClusterEventKind } from '../../db/schema.js';

/** A configured alert webhook, its secret read. */
export interface Webhook {
  /** Its key in the database: a hash of the URL (URLs may carry tokens; the database needs none). */
  key: string;
  /** How it shows in logs and metrics. */
  name: string;
  url: string;
  secret: string;
  /** The event kinds it gets; null for all. */
  kinds: ClusterEventKind[] | null;
}

export class WebhookConfigError extends Error {}

function readSecret(file: string, setting: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new WebhookConfigError(`${setting}: cannot read ${file}: ${(err as Error).message}`);
  }
  const secret = text.replace(/\r?\n$/, '');
  if (!secret) throw new WebhookConfigError(`${setting}: ${file} is empty`);
  return secret;
}

/** The configured webhooks with their secrets; a secret file that cannot be read stops the node before it starts. */
export function resolveWebhooks(alerts: Config['alerts']): Webhook[] {
  const shared = alerts.secret ?? (alerts.secret_file ? readSecret(alerts.secret_file, 'alerts.secret_file') : undefined);
  const names = new Set<string>();
  return alerts.webhooks.map((hook, i) => {
    const secret = hook.secret ?? (hook.secret_file ? readSecret(hook.secret_file, `alerts.webhooks[${i}].secret_file`) : shared);
    // The schema already refused a webhook without any secret.
    if (!secret) throw new WebhookConfigError(`alerts.webhooks[${i}]: ${hook.url} needs a secret`);
    let name = hook.name ?? new URL(hook.url).host;
    for (let n = 2; names.has(name); n++) name = `${hook.name ?? new URL(hook.url).host}-${n}`;
    names.add(name);
    return {
      key: crypto.createHash('sha256').update(hook.url).digest('hex').slice(0, 32),
      name,
      url: hook.url,
      secret,
      kinds: hook.kinds ?? null,
    };
  });
}
