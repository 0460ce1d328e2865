/** A backup or restore refused or failed for a reason the operator can act on. */
export class BackupError extends Error {}
