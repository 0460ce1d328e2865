import {
  CompiledQuery,
  SqliteDialect,
  SqliteDriver,
  SqliteQueryCompiler,
  ValueNode,
  type DatabaseConnection,
  type Driver,
  type LimitNode,
  type OffsetNode,
  type OperationNode,
  type QueryCompiler,
  type SqliteDialectConfig,
  type TransactionSettings,
} from 'kysely';

/**
 * SQLite prepares a statement anew every time it runs when its LIMIT or OFFSET is
 * a bound parameter (it may plan with the value), which costs more than running a
 * small statement. Kysely binds them; this compiler writes whole-number limits and
 * offsets into the SQL text instead. They are numbers, never text from a client,
 * and each distinct value is then one statement in the connection's cache.
 */
class LiteralLimitCompiler extends SqliteQueryCompiler {
  protected override visitLimit(node: LimitNode): void {
    if (!this.appendWholeNumber('limit ', node.limit)) super.visitLimit(node);
  }

  protected override visitOffset(node: OffsetNode): void {
    if (!this.appendWholeNumber('offset ', node.offset)) super.visitOffset(node);
  }

  private appendWholeNumber(keyword: string, node: OperationNode): boolean {
    if (!ValueNode.is(node) || !Number.isSafeInteger(node.value)) return false;
    this.append(keyword + String(node.value));
    return true;
  }
}

/**
 * Transactions that write begin IMMEDIATE: they take SQLite's write lock at the
 * start, waiting for it (busy_timeout) while another process holds it. Kysely
 * begins DEFERRED: a transaction that reads and then writes fails at once with
 * SQLITE_BUSY if another process (a node's supervisor and its workers, the CLI
 * all share the file) committed in between, since its snapshot is stale and
 * SQLite cannot wait that out. A delivery attempt failed so when a worker logged
 * an upload at the same moment. Read-only transactions (setAccessMode('read
 * only')) stay DEFERRED and block no writer.
 */
class ImmediateWriteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection, settings?: TransactionSettings): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(settings?.accessMode === 'read only' ? 'begin' : 'begin immediate'));
  }
}

export class FerrySqliteDialect extends SqliteDialect {
  constructor(private readonly driverConfig: SqliteDialectConfig) {
    super(driverConfig);
  }

  override createDriver(): Driver {
    return new ImmediateWriteDriver(this.driverConfig);
  }

  override createQueryCompiler(): QueryCompiler {
    return new LiteralLimitCompiler();
  }
}
