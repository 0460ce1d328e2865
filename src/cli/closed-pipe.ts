/**
 * A closed pipe ends the command as it ends any Unix tool: `ferry transfers list |
 * head -2` stops quietly once `head` has what it wants.
 *
 * A C program such as `seq` is killed by SIGPIPE on its next write (the shell shows
 * 141 = 128 + 13). Node ignores SIGPIPE, so the write fails with EPIPE instead and the
 * stream's unhandled 'error' event crashes the process with a stack trace and exit
 * code 1. Here EPIPE on standard output or standard error restores SIGPIPE's default
 * action and raises it: the process dies of SIGPIPE like `seq`, nothing printed.
 */
export function endQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      dieOfSigpipe();
    });
  }
}

function dieOfSigpipe(): void {
  // Listening to a signal and then no longer makes libuv reset it to its default action (terminate).
  const ignore = () => {};
  process.on('SIGPIPE', ignore);
  process.off('SIGPIPE', ignore);
  process.kill(process.pid, 'SIGPIPE');
  // Should the signal not end the process, exit with the status a shell shows for it.
  setTimeout(() => process.exit(128 + 13), 100).unref();
  process.exitCode = 128 + 13;
}
