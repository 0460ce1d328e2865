/** SFTP version 3 (draft-ietf-secsh-filexfer-02) as OpenSSH speaks it. */
export const SFTP_VERSION = 3;

export const enum Packet {
  INIT = 1,
  VERSION = 2,
  OPEN = 3,
  CLOSE = 4,
  READ = 5,
  WRITE = 6,
  LSTAT = 7,
  FSTAT = 8,
  SETSTAT = 9,
  FSETSTAT = 10,
  OPENDIR = 11,
  READDIR = 12,
  REMOVE = 13,
  MKDIR = 14,
  RMDIR = 15,
  REALPATH = 16,
  STAT = 17,
  RENAME = 18,
  READLINK = 19,
  SYMLINK = 20,
  STATUS = 101,
  HANDLE = 102,
  DATA = 103,
  NAME = 104,
  ATTRS = 105,
  EXTENDED = 200,
  EXTENDED_REPLY = 201,
}

export const enum Status {
  OK = 0,
  EOF = 1,
  NO_SUCH_FILE = 2,
  PERMISSION_DENIED = 3,
  FAILURE = 4,
  BAD_MESSAGE = 5,
  NO_CONNECTION = 6,
  CONNECTION_LOST = 7,
  OP_UNSUPPORTED = 8,
}

export const enum OpenFlag {
  READ = 0x01,
  WRITE = 0x02,
  APPEND = 0x04,
  CREAT = 0x08,
  TRUNC = 0x10,
  EXCL = 0x20,
}

export const enum AttrFlag {
  SIZE = 0x01,
  UIDGID = 0x02,
  PERMISSIONS = 0x04,
  ACMODTIME = 0x08,
  EXTENDED = 0x80000000,
}

/** Largest packet we accept, and the read/write sizes we advertise in limits@openssh.com. */
export const MAX_PACKET_LENGTH = 1024 * 1024 + 1024;
export const MAX_READ_LENGTH = 1024 * 1024;
export const MAX_WRITE_LENGTH = 1024 * 1024;
export const MAX_OPEN_HANDLES = 1024;
/** Directory entries sent per READDIR reply. */
export const READDIR_BATCH = 128;
