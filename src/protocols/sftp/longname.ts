import type { Stats } from 'node:fs';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SIX_MONTHS_MS = 182 * 86_400_000;

function typeChar(st: Stats): string {
  if (st.isDirectory()) return 'd';
  if (st.isSymbolicLink()) return 'l';
  if (st.isFile()) return '-';
  return '?';
}

function permissionString(mode: number): string {
  const bits = 'rwxrwxrwx';
  let out = '';
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? bits[i] : '-';
  return out;
}

/** The `ls -l` line OpenSSH's sftp shows for `ls -l` (SFTP v3 longname). */
export function longname(name: string, st: Stats, owner: string): string {
  const date = new Date(st.mtimeMs);
  const recent = Math.abs(Date.now() - st.mtimeMs) < SIX_MONTHS_MS;
  const when = recent ? `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}` : ` ${date.getFullYear()}`;
  const day = `${MONTHS[date.getMonth()]} ${String(date.getDate()).padStart(2, ' ')} ${when.padStart(5, ' ')}`;
  return `${typeChar(st)}${permissionString(st.mode)} ${String(st.nlink).padStart(4)} ${owner.padEnd(8)} ${owner.padEnd(8)} ${String(st.size).padStart(8)} ${day} ${name}`;
}
