/** A refused PKI request (bad name, no CA, a file that already exists…): nothing was written. */
export class PkiError extends Error {}
