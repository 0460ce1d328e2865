import type { Compilable, CompiledQuery, Kysely, QueryResult } from 'kysely';
import { runDirect } from './direct-sqlite.js';
import type { Database } from './schema.js';

const PARAMETER = Symbol('prepared query parameter');

/** What a query is built with in place of a parameter's value. */
interface StandIn {
  readonly [PARAMETER]: string;
}

function isStandIn(value: unknown): value is StandIn {
  return typeof value === 'object' && value !== null && PARAMETER in value;
}

/**
 * A query built and compiled by Kysely once, then run many times with new values.
 * Building and compiling a query costs more than SQLite takes to run a small one,
 * and the transfer log runs its statements several times for every file.
 *
 * `build` receives stand-ins for the named parameters; each must be used where a
 * value goes (as the value of a column, a comparison or a `sql` template), never
 * looked at: the query is built once, whatever the values turn out to be.
 */
export class PreparedQuery<P extends object, R> {
  private readonly compiled: CompiledQuery<R>;
  /** For each parameter of the compiled query: the named value it takes, or a constant of the query. */
  private readonly sources: Array<{ name: string } | { constant: unknown }>;

  constructor(db: Kysely<Database>, build: (params: P) => Compilable<R>) {
    const standIns = new Proxy({} as P, { get: (_, name) => ({ [PARAMETER]: String(name) }) });
    this.compiled = build(standIns).compile();
    this.sources = this.compiled.parameters.map((value) => (isStandIn(value) ? { name: value[PARAMETER] } : { constant: value }));
  }

  /** Runs the query on `db` (the database it was built for, or a transaction on it) with these values. */
  execute(db: Kysely<Database>, params: P): Promise<QueryResult<R>> {
    const values = params as Record<string, unknown>;
    const parameters = this.sources.map((s) => ('name' in s ? values[s.name] : s.constant));
    const query: CompiledQuery<R> = { ...this.compiled, parameters };
    return runDirect(db, query) ?? db.executeQuery<R>(query);
  }
}
