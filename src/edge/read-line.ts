import type { Duplex } from 'node:stream';

/**
 * Reads one `\n`-terminated line from the start of a stream and leaves the stream
 * paused at the first byte after it (bytes that came with the line are put back),
 * so the caller can hand the rest of the stream to someone else or resume it.
 * Rejects if the stream ends, errs, sends more than maxBytes without a newline,
 * or takes longer than timeoutMs (if given); the caller then destroys it.
 */
export function readLine(stream: Duplex, maxBytes: number, timeoutMs?: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const finish = (error: Error | undefined, line?: string) => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', onError);
      stream.pause();
      if (error) reject(error);
      else resolve(line!);
    };
    const onData = (chunk: Buffer) => {
      const newline = chunk.indexOf(0x0a);
      if (newline < 0) {
        chunks.push(chunk);
        length += chunk.length;
        if (length > maxBytes) finish(new Error(`no line within ${maxBytes} bytes`));
        return;
      }
      if (length + newline > maxBytes) return finish(new Error(`no line within ${maxBytes} bytes`));
      chunks.push(chunk.subarray(0, newline));
      const rest = chunk.subarray(newline + 1);
      finish(undefined, Buffer.concat(chunks).toString('utf8'));
      if (rest.length > 0) stream.unshift(rest);
    };
    const onEnd = () => finish(new Error('closed before a full line'));
    const onError = (err: Error) => finish(err);
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => finish(new Error(`no line within ${timeoutMs} ms`)), timeoutMs);
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.once('error', onError);
  });
}
