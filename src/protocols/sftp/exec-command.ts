import crypto from 'node:crypto';
import fs from 'node:fs';
import { hashFd } from '../../storage/chunked-io.js';
import type { Home } from '../../storage/home.js';
import { toStatus } from './errors.js';

const ALGORITHMS: Record<string, string> = { sha256sum: 'sha256', sha1sum: 'sha1', md5sum: 'md5' };

export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Splits a command line the way a POSIX shell would for plain words, quotes and backslashes. */
export function splitWords(line: string): string[] | undefined {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\') {
      if (i + 1 >= line.length) return undefined;
      word = (word ?? '') + line[++i];
    } else if (c === "'") {
      const close = line.indexOf("'", i + 1);
      if (close < 0) return undefined;
      word = (word ?? '') + line.slice(i + 1, close);
      i = close;
    } else if (c === '"') {
      let text = '';
      for (i++; i < line.length && line[i] !== '"'; i++) {
        if (line[i] === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) i++;
        text += line[i];
      }
      if (i >= line.length) return undefined;
      word = (word ?? '') + text;
    } else if (c === ' ' || c === '\t') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if ('|&;<>()$`*?[]{}~'.includes(c) && word === undefined && c !== '~') {
      return undefined;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** rclone's shell probe; a POSIX shell expands ${ShellId} to nothing. */
const SHELL_PROBE = 'echo ${ShellId}%ComSpec%';

/**
 * The only commands an SSH exec may run: `sha256sum|sha1sum|md5sum [PATH]` on a
 * file inside the home (rclone uses them to verify content), and rclone's shell
 * probe. Without a path a hash command hashes its standard input, which is how
 * rclone checks that the command exists. Nothing is ever handed to a shell.
 * `stdin` passes each piece of standard input to its callback as it arrives and
 * resolves at its end: it is hashed piece by piece, never held.
 */
export async function runExecCommand(
  line: string,
  home: Home,
  stdin: (consume: (chunk: Buffer) => void) => Promise<void>,
  signal?: AbortSignal,
): Promise<CommandResult> {
  if (line.trim() === SHELL_PROBE) return { stdout: '%ComSpec%\n', stderr: '', exitCode: 0 };
  const words = splitWords(line.trim());
  const program = words?.[0];
  const algorithm = program ? ALGORITHMS[program] : undefined;
  if (!words || !algorithm || words.length > 2) {
    return { stdout: '', stderr: `ferry: command not allowed: ${line.slice(0, 200)}\n`, exitCode: 127 };
  }
  const hash = crypto.createHash(algorithm);
  if (words.length === 1) {
    await stdin((chunk) => hash.update(chunk));
    return { stdout: `${hash.digest('hex')}  -\n`, stderr: '', exitCode: 0 };
  }
  const shown = words[1]!;
  try {
    const target = home.resolve(shown);
    if (fs.statSync(target.real).isDirectory()) {
      return { stdout: '', stderr: `${program}: ${shown}: Is a directory\n`, exitCode: 1 };
    }
    // A chunk at a time, given up when the client leaves (a large file is seconds of CPU).
    const fd = fs.openSync(target.real, 'r');
    try {
      await hashFd(fd, fs.fstatSync(fd).size, signal, hash);
    } finally {
      fs.closeSync(fd);
    }
    return { stdout: `${hash.digest('hex')}  ${shown}\n`, stderr: '', exitCode: 0 };
  } catch (err) {
    // The errno's text only: Node's own messages carry the file's path on the server's disk.
    const [, text] = toStatus(err);
    const reason = text === 'Failure' ? 'cannot read the file' : text;
    return { stdout: '', stderr: `${program}: ${shown}: ${reason}\n`, exitCode: 1 };
  }
}
