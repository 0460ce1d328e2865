import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { configSchema, type Config } from './schema.js';

export class ConfigError extends Error {}

type Tree = Record<string, unknown>;

/** Leaf setting paths of the schema, e.g. ['data', 'dir'], found by walking its objects. */
function leafPaths(schema: z.ZodType, prefix: string[] = []): string[][] {
  let inner: any = schema;
  while (inner?.def && (inner.def.innerType || inner.def.type === 'pipe')) {
    inner = inner.def.innerType ?? inner.def.in;
  }
  if (inner?.def?.type !== 'object') return [prefix];
  return Object.entries(inner.shape as Record<string, z.ZodType>).flatMap(([key, child]) => leafPaths(child, [...prefix, key]));
}

export const settingPaths: string[][] = leafPaths(configSchema);

export function environmentName(settingPath: string[]): string {
  return 'FERRY_' + settingPath.join('_').toUpperCase();
}

function setIn(tree: Tree, settingPath: string[], value: unknown): void {
  let node = tree;
  for (const key of settingPath.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Tree;
  }
  node[settingPath[settingPath.length - 1]!] = value;
}

function readFile(file: string): Tree {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(`config file ${file} is not valid YAML: ${doc.errors[0]!.message}`);
  }
  const value = doc.toJS() ?? {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`config file ${file} must hold a mapping of settings`);
  }
  return value as Tree;
}

function formatIssues(error: z.ZodError, source: string): string {
  return error.issues
    .map((issue) => {
      // A list item's path goes on with its index: the environment variable is the list's.
      const listAt = issue.path.findIndex((key) => typeof key === 'number');
      const setting = (listAt < 0 ? issue.path : issue.path.slice(0, listAt)).map(String);
      const where = issue.path.map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i > 0 ? '.' : ''}${String(key)}`)).join('');
      const env = setting.length ? ` (${environmentName(setting)})` : '';
      return `${where || '(root)'}${env}: ${issue.message}`;
    })
    .map((line) => `  ${line}`)
    .join('\n')
    .replace(/^/, `invalid configuration from ${source}:\n`);
}

/**
 * Builds the configuration: defaults, overridden by the YAML file, overridden by
 * FERRY_* environment variables. Unknown keys in the file are an error, so a typo
 * never silently falls back to a default.
 */
export function loadConfig(options: { file?: string; env?: NodeJS.ProcessEnv } = {}): Config {
  const env = options.env ?? process.env;
  const tree: Tree = options.file ? readFile(options.file) : {};
  for (const settingPath of settingPaths) {
    const value = env[environmentName(settingPath)];
    if (value !== undefined && value !== '') setIn(tree, settingPath, value);
  }
  const result = configSchema.safeParse(tree);
  if (!result.success) {
    throw new ConfigError(formatIssues(result.error, options.file ?? 'defaults and environment'));
  }
  const unknown = unknownKeys(tree);
  if (unknown.length > 0) {
    throw new ConfigError(`unknown setting${unknown.length > 1 ? 's' : ''} in ${options.file}: ${unknown.join(', ')}`);
  }
  const parsed = result.data;
  if (parsed.sftp.port !== 0 && parsed.sftp.port === parsed.admin.port) {
    throw new ConfigError(`sftp.port and admin.port are both ${parsed.sftp.port}: give each its own port`);
  }
  const dataDir = path.resolve(parsed.data.dir);
  return {
    ...parsed,
    data: { dir: dataDir },
    storage: { ...parsed.storage, dir: path.resolve(parsed.storage.dir ?? path.join(dataDir, 'files')) },
    database: { url: parsed.database.url ?? `sqlite:${path.join(dataDir, 'ferry.db')}` },
  };
}

function unknownKeys(tree: Tree, prefix: string[] = []): string[] {
  const known = new Set(settingPaths.map((p) => p.join('.')));
  const groups = new Set(settingPaths.flatMap((p) => p.slice(0, -1).map((_, i) => p.slice(0, i + 1).join('.'))));
  const out: string[] = [];
  for (const [key, value] of Object.entries(tree)) {
    const full = [...prefix, key].join('.');
    if (known.has(full)) continue;
    if (groups.has(full) && typeof value === 'object' && value !== null) {
      out.push(...unknownKeys(value as Tree, [...prefix, key]));
    } else {
      out.push(full);
    }
  }
  return out;
}
