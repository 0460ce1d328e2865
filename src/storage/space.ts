import fs from 'node:fs';
import { StorageError } from './errors.js';
import type { Home } from './home.js';

/**
 * The one place that decides whether a file may take `growth` more bytes it has
 * not written yet: a size set by SETSTAT/FSETSTAT, a WRITE past the end that
 * leaves a hole, or the holes of an existing sparse file an upload would copy.
 * Data actually written needs no check: the file system refuses it when full.
 * Today the bound is the free space of the storage; an account's quota plugs in here.
 */
export function assertRoomFor(home: Home, request: { growth: number; size: number }): void {
  if (request.growth <= 0) return;
  const free = freeBytes(home.partialDir);
  if (request.growth > free) {
    throw new StorageError(
      'ENOSPC',
      `file too large: ${request.size} bytes would need ${request.growth} bytes more than written, and there is no space for them (${free} bytes free)`,
    );
  }
}

/** Bytes an unprivileged writer may still use on the file system holding `dir`. */
function freeBytes(dir: string): number {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Bytes of `st`'s size that have no blocks on disk (holes): what copying it in full would add. */
export function holeBytes(st: fs.Stats): number {
  return Math.max(0, st.size - st.blocks * 512);
}
