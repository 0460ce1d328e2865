/** A refused storage request, carrying the errno-style code it maps to. */
export class StorageError extends Error {
  constructor(
    readonly code: 'ENOENT' | 'EACCES' | 'EEXIST' | 'EINVAL' | 'ENAMETOOLONG' | 'EISDIR' | 'ENOTDIR' | 'EBUSY' | 'ENOSPC' | 'ECANCELED',
    message: string,
  ) {
    super(message);
  }
}
