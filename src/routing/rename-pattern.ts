import path from 'node:path';

/**
 * Destination names from a pattern: {name} the original file name, {base} it
 * without its extension, {ext} the extension with its dot, {date} YYYYMMDD and
 * {time} HHMMSS (UTC) of the moment the work was queued, {id} the work item.
 * The time comes from the work item, not the attempt, so a retry writes the same name.
 */
const TOKENS = ['name', 'base', 'ext', 'date', 'time', 'id'] as const;

export interface RenameInput {
  name: string;
  queuedAt: number;
  jobId: number;
}

export function validateRenamePattern(pattern: string): void {
  const unknown = [...pattern.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]!).filter((t) => !(TOKENS as readonly string[]).includes(t));
  if (unknown.length > 0) throw new Error(`unknown token {${unknown[0]}} in rename pattern: use ${TOKENS.map((t) => `{${t}}`).join(' ')}`);
  if (pattern.includes('/') || pattern.includes('\0') || pattern.trim() === '') throw new Error(`rename pattern "${pattern}" must give a file name (no '/')`);
}

export function renameFile(pattern: string | null, input: RenameInput): string {
  if (!pattern) return input.name;
  const ext = path.extname(input.name);
  const iso = new Date(input.queuedAt).toISOString();
  const values: Record<(typeof TOKENS)[number], string> = {
    name: input.name,
    base: ext ? input.name.slice(0, -ext.length) : input.name,
    ext,
    date: iso.slice(0, 10).replaceAll('-', ''),
    time: iso.slice(11, 19).replaceAll(':', ''),
    id: String(input.jobId),
  };
  const name = pattern.replace(/\{([a-z]+)\}/g, (whole, token: string) => values[token as keyof typeof values] ?? whole);
  if (name === '.' || name === '..' || name.length > 255) throw new Error(`rename pattern gives an invalid file name "${name}"`);
  return name;
}
