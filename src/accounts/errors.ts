/** A refused account change (bad name, home, network, unknown account): the CLI prints it and exits 1. */
export class AccountError extends Error {}
