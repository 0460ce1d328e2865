import { SqliteDialect, SqliteQueryCompiler, ValueNode, type LimitNode, type OffsetNode, type OperationNode, type QueryCompiler } from 'kysely';

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

export class FerrySqliteDialect extends SqliteDialect {
  override createQueryCompiler(): QueryCompiler {
    return new LiteralLimitCompiler();
  }
}
