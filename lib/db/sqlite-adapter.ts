// Our SQLite driver adapter: @prisma/adapter-better-sqlite3 behind a thin wrapper that keeps one failed COMMIT
// from wedging the process, with the connection settings that keep commits from failing in the first place.
//
// The upstream bug (6.19.3, prisma/orm#29933): Prisma's transaction manager sends COMMIT through the transaction and
// only then calls the transaction's commit(), which is what releases the adapter's mutex. When COMMIT fails
// (SQLITE_BUSY because another connection holds a read lock in rollback-journal mode, or an I/O error), commit() is
// never called: the connection stays inside the open transaction and the mutex stays held, so every later
// $transaction waits forever, and every later plain query runs inside that dead transaction, is answered as done,
// and is lost when the connection closes.
//
// What the wrapper does about it:
// - one lock per connection, held by a transaction for its whole life and by each plain query, so a plain query
//   never lands inside someone else's open transaction (nor is lost with it);
// - a COMMIT that fails is followed by a ROLLBACK and the release, and its error reaches the caller: nothing is
//   acknowledged that was not committed;
// - after an I/O error (or a read-only one), or a ROLLBACK that failed, the connection is closed and the next
//   query opens a new one;
// - WAL, so that a reader (another process's open read transaction) never makes a commit fail, and a busy timeout,
//   so that writers on other connections of this process (the generation threads) wait for each other.
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import type {
  IsolationLevel,
  SqlDriverAdapter,
  SqlMigrationAwareDriverAdapterFactory,
  SqlQuery,
  SqlResultSet,
  Transaction,
} from "@prisma/driver-adapter-utils";

export interface SqliteOptions {
  /** `file:/absolute/path.db`. */
  url: string;
  /** How long a write waits for another connection's write lock before SQLITE_BUSY (default 5 s). */
  busyTimeoutMs?: number;
  /** WAL by default; tests ask for DELETE (rollback journal), where a reader can still make a COMMIT fail. */
  journalMode?: "WAL" | "DELETE";
  /** Opens one raw connection (default: @prisma/adapter-better-sqlite3); tests wrap it to inject faults. */
  open?: () => Promise<SqlDriverAdapter>;
}

/**
 * Error codes after which the connection is not trusted again: it is closed and a new one opened. READONLY is among
 * them because a connection opened while the files refused writes (reopened during the fault) is read-only for
 * good, even once they take writes again.
 */
const CONNECTION_FAULT = /^SQLITE_(IOERR|CANTOPEN|CORRUPT|NOTADB|PROTOCOL|READONLY)/;

/** The SQLite error code of an error the adapter threw: its own (SqliteError) or the mapped one's original. */
export function sqliteCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { originalCode?: unknown } } | null;
  if (typeof e?.code === "string" && e.code.startsWith("SQLITE_")) return e.code;
  const original = e?.cause?.originalCode;
  return typeof original === "string" ? original : undefined;
}

export class ResilientSqlite implements SqlMigrationAwareDriverAdapterFactory {
  readonly provider = "sqlite";
  readonly adapterName: string;
  private readonly upstream: PrismaBetterSQLite3;

  constructor(private readonly o: SqliteOptions) {
    this.upstream = new PrismaBetterSQLite3({ url: o.url, timeout: o.busyTimeoutMs ?? 5000 });
    this.adapterName = this.upstream.adapterName;
  }

  async connect(): Promise<SqlDriverAdapter> {
    const connection = new ResilientConnection(() => this.openRaw(), this.adapterName);
    // Opened now so that a database that cannot be opened at all says so at the first query, as upstream does.
    await connection.open();
    return connection;
  }

  connectToShadowDb(): Promise<SqlDriverAdapter> {
    return this.upstream.connectToShadowDb();
  }

  private async openRaw(): Promise<SqlDriverAdapter> {
    const raw = await (this.o.open?.() ?? this.upstream.connect());
    // The journal mode is stored in the file: setting it again is a no-op. Best effort: a file that cannot be
    // written right now (the fault that made us reopen) still serves reads, and the mode was set before.
    await raw.executeScript(`PRAGMA journal_mode = ${this.o.journalMode ?? "WAL"}`).catch(() => {});
    return raw;
  }
}

/** A FIFO lock: acquire() resolves to its release, which is safe to call more than once. */
class Lock {
  private tail: Promise<void> = Promise.resolve();

  acquire(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const before = this.tail;
    this.tail = before.then(() => held);
    return before.then(() => release);
  }
}

class ResilientConnection implements SqlDriverAdapter {
  readonly provider = "sqlite";
  private raw: SqlDriverAdapter | null = null;
  private readonly lock = new Lock();
  /** Set by an error that leaves the connection untrusted: reopened before the lock is released. */
  private broken = false;

  constructor(
    private readonly openRaw: () => Promise<SqlDriverAdapter>,
    readonly adapterName: string,
  ) {}

  /** The open connection, or a new one (after a fault, or on first use). */
  async open(): Promise<SqlDriverAdapter> {
    this.raw ??= await this.openRaw();
    return this.raw;
  }

  queryRaw(query: SqlQuery): Promise<SqlResultSet> {
    return this.plain((raw) => raw.queryRaw(query));
  }

  executeRaw(query: SqlQuery): Promise<number> {
    return this.plain((raw) => raw.executeRaw(query));
  }

  executeScript(script: string): Promise<void> {
    return this.plain((raw) => raw.executeScript(script));
  }

  async startTransaction(isolationLevel?: IsolationLevel): Promise<Transaction> {
    const release = await this.lock.acquire();
    let tx: Transaction;
    try {
      tx = await (await this.open()).startTransaction(isolationLevel);
    } catch (err) {
      await this.settle(err, release);
      throw err;
    }
    return new ResilientTransaction(
      tx,
      (err, untrusted) => this.note(err, untrusted),
      () => this.settle(undefined, release),
    );
  }

  async dispose(): Promise<void> {
    const raw = this.raw;
    this.raw = null;
    await raw?.dispose();
  }

  private async plain<T>(run: (raw: SqlDriverAdapter) => Promise<T>): Promise<T> {
    const release = await this.lock.acquire();
    try {
      const result = await run(await this.open());
      release();
      return result;
    } catch (err) {
      await this.settle(err, release);
      throw err;
    }
  }

  /** Marks the connection for reopening after an error that leaves it untrusted. */
  note(err: unknown, untrusted = false): void {
    if (untrusted || CONNECTION_FAULT.test(sqliteCode(err) ?? "")) this.broken = true;
  }

  /** Ends a turn with the lock: after a fault the connection is closed first (closing rolls back what is open). */
  private async settle(err: unknown, release: () => void): Promise<void> {
    if (err !== undefined) this.note(err);
    if (this.broken) {
      this.broken = false;
      await this.dispose().catch(() => {});
    }
    release();
  }
}

const ROLLBACK: SqlQuery = { sql: "ROLLBACK", args: [], argTypes: [] };

class ResilientTransaction implements Transaction {
  readonly provider = "sqlite";
  readonly adapterName: string;
  readonly options: Transaction["options"];
  private closed = false;

  constructor(
    private readonly raw: Transaction,
    private readonly note: (err: unknown, untrusted?: boolean) => void,
    private readonly finish: () => Promise<void>,
  ) {
    this.adapterName = raw.adapterName;
    this.options = raw.options;
  }

  async queryRaw(query: SqlQuery): Promise<SqlResultSet> {
    try {
      return await this.raw.queryRaw(query);
    } catch (err) {
      this.note(err);
      throw err;
    }
  }

  async executeRaw(query: SqlQuery): Promise<number> {
    const sql = query.sql.trim().toUpperCase();
    try {
      return await this.raw.executeRaw(query);
    } catch (err) {
      this.note(err);
      // Prisma calls neither commit() nor rollback() after its COMMIT or ROLLBACK statement failed: end it here.
      if (sql === "COMMIT") await this.rollBackAfterFailedCommit();
      if (sql === "COMMIT" || sql === "ROLLBACK") await this.close(true);
      throw err;
    }
  }

  /** The COMMIT failed: the transaction is still open (SQLITE_BUSY), or SQLite already rolled it back (some I/O errors). */
  private async rollBackAfterFailedCommit(): Promise<void> {
    try {
      await this.raw.executeRaw(ROLLBACK);
    } catch (err) {
      // "no transaction is active": SQLite rolled it back itself. Anything else: the connection is not trusted again.
      if (!/no transaction is active/i.test(String((err as Error)?.message))) this.note(err, true);
    }
  }

  commit(): Promise<void> {
    return this.close(false);
  }

  rollback(): Promise<void> {
    return this.close(true);
  }

  private async close(rolledBack: boolean): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Upstream's commit() and rollback() only release its mutex (the statements were sent before).
    await (rolledBack ? this.raw.rollback() : this.raw.commit()).catch(() => {});
    await this.finish();
  }
}
