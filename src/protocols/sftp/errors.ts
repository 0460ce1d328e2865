import { StorageError } from '../../storage/errors.js';
import { Status } from './constants.js';

/** A failure the client should see as a specific SFTP status and message. */
export class SftpError extends Error {
  constructor(
    readonly status: Status,
    message: string,
  ) {
    super(message);
  }
}

const BY_ERRNO: Record<string, [Status, string]> = {
  ENOENT: [Status.NO_SUCH_FILE, 'No such file or directory'],
  ENOTDIR: [Status.NO_SUCH_FILE, 'Not a directory'],
  EACCES: [Status.PERMISSION_DENIED, 'Permission denied'],
  EPERM: [Status.PERMISSION_DENIED, 'Operation not permitted'],
  EROFS: [Status.PERMISSION_DENIED, 'Read-only file system'],
  EEXIST: [Status.FAILURE, 'File exists'],
  ENOTEMPTY: [Status.FAILURE, 'Directory not empty'],
  EISDIR: [Status.FAILURE, 'Is a directory'],
  ENOSPC: [Status.FAILURE, 'No space left on device'],
  EDQUOT: [Status.FAILURE, 'Disk quota exceeded'],
  ENAMETOOLONG: [Status.FAILURE, 'File name too long'],
  EINVAL: [Status.FAILURE, 'Invalid argument'],
  ELOOP: [Status.FAILURE, 'Too many levels of symbolic links'],
  EXDEV: [Status.FAILURE, 'Cross-device link'],
  EMFILE: [Status.FAILURE, 'Too many open files'],
  EIO: [Status.FAILURE, 'Input/output error'],
  EBUSY: [Status.FAILURE, 'Resource busy'],
};

/** The one place where errors become SFTP statuses (as OpenSSH's errno_to_portable). */
export function toStatus(err: unknown): [Status, string] {
  if (err instanceof SftpError) return [err.status, err.message];
  if (err instanceof StorageError) return [BY_ERRNO[err.code]?.[0] ?? Status.FAILURE, err.message];
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code && BY_ERRNO[code]) return BY_ERRNO[code]!;
  return [Status.FAILURE, 'Failure'];
}
