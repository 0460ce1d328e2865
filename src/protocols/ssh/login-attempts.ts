import type { Logger } from 'pino';

/** Longest user name looked up at all; longer ones are refused unread (OpenSSH keeps names far shorter). */
export const MAX_USER_NAME_BYTES = 256;
/** How much of a refused name goes into the log. */
const LOGGED_NAME_CHARS = 64;
/** 'login refused' lines one connection may cause; one more line says the rest are not logged. */
export const LOGGED_REFUSALS_PER_CONNECTION = 6;

/** A user name as it may appear in a log line: at most LOGGED_NAME_CHARS characters, marked when cut. */
export function loggedName(name: string): string {
  return name.length <= LOGGED_NAME_CHARS ? name : `${name.slice(0, LOGGED_NAME_CHARS)}…(${Buffer.byteLength(name)} bytes)`;
}

/**
 * The failed logins of one connection: counts them against max_auth_tries (as
 * OpenSSH's MaxAuthTries: every refused request but "none", offered keys
 * included) and bounds the log lines they cause, so what a client sends before
 * logging in cannot grow the log more than a few lines per connection.
 */
export class LoginAttempts {
  private failures = 0;
  private logged = 0;
  /** Refusals counted as failed logins (metrics): unknown keys are not, until the client gives up. */
  refusedLogins = 0;
  unknownKey = false;

  constructor(
    private readonly maxTries: number,
    private readonly log: Logger,
  ) {}

  /** Records a refused request; returns true when the connection has used up its tries. */
  failed(method: string): boolean {
    if (method !== 'none') this.failures++;
    return this.exhausted;
  }

  /** Logs one refusal, unless this connection has logged its share. */
  logRefusal(fields: Record<string, unknown> & { account: string }): void {
    this.logged++;
    if (this.logged <= LOGGED_REFUSALS_PER_CONNECTION) this.log.warn({ ...fields, account: loggedName(fields.account) }, 'login refused');
    else if (this.logged === LOGGED_REFUSALS_PER_CONNECTION + 1)
      this.log.warn({ logged: LOGGED_REFUSALS_PER_CONNECTION }, 'further login refusals of this connection not logged');
  }

  get tries(): number {
    return this.failures;
  }

  get exhausted(): boolean {
    return this.failures >= this.maxTries;
  }
}
