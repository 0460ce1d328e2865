import fs from 'node:fs';

/** Ferry's version, from package.json. */
export const VERSION: string = (() => {
  for (const candidate of ['../package.json', '../../package.json']) {
    try {
      return JSON.parse(fs.readFileSync(new URL(candidate, import.meta.url), 'utf8')).version as string;
    } catch {}
  }
  return '0.0.0';
})();
