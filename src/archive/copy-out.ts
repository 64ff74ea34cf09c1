import { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { Db, Tx } from '../db/pool';
import { Where } from '../saga/filter';

/**
 * An export's rows leave the server by COPY ... TO STDOUT: the server writes the text, and this
 * process only moves bytes to the sink (no row parsing, no JS strings, no round trip per page).
 * A cursor read page by page cost as much again as building the lines did.
 */
export type Write = (chunk: string | Buffer) => void | Promise<void>;

/**
 * The CSV dialect that passes a line of JSON through unchanged: the server builds each line, and
 * CSV quotes a field only when it holds the delimiter, the quote or a line break. JSON text has
 * none of the three: every control character in it is escaped (\u001e), so no byte is added.
 * (COPY's text format would double each backslash of the JSON.)
 */
export const LINES = `WITH (FORMAT csv, DELIMITER E'\\x1f', QUOTE E'\\x1e')`;

/**
 * COPY takes no bind parameters, so a filter's values cannot be written into its query. They
 * still go to the server as parameters: each is set as a transaction-local setting with
 * set_config and a typed parameter, and the query reads it back with current_setting and the same
 * cast (every placeholder of a Where is cast: `$1::text[]`). Returns `where` rewritten so.
 */
export async function bindForCopy(tx: Tx, where: Where): Promise<string> {
  const casts = new Map<number, string>();
  const sql = where.sql.replace(/\$(\d+)(::[a-z_]+(\[\])?)?/g, (_m, n: string, cast: string | undefined) => {
    // An uncast placeholder would take its type from its context, which a setting (text) cannot.
    if (!cast) throw new Error(`bindForCopy: placeholder $${n} has no cast in ${where.sql}`);
    casts.set(Number(n), cast);
    return `current_setting('sagactl.arg${n}')${cast}`;
  });
  if (casts.size > 0) {
    const sets = [...casts].map(([n, cast]) => `set_config('sagactl.arg${n}', ($${n}${cast})::text, true)`);
    await tx.query(`SELECT ${sets.join(', ')}`, where.params);
  }
  return sql;
}

export interface CopyOptions {
  /** Rows so far, counted by their line breaks (every row of LINES, and of CSV here, is one line). */
  onRows?: (rows: number) => void;
  /**
   * Hand the sink whole lines only, holding a line cut between two chunks for the next one: for
   * several COPYs writing to one sink at once, whose lines must never interleave.
   */
  wholeLines?: boolean;
}

// The server sends a message per row: written a few at a time, they cost a system call and a
// buffer each (the export spent more time writing to /dev/null than reading).
const WRITE_BYTES = 512 * 1024;

/** Runs `COPY (query) TO STDOUT ...` in `tx`, writing what the server sends to `write`; returns its row count. */
export async function copyOut(db: Db, tx: Tx, copySql: string, write: Write, opts: CopyOptions = {}): Promise<number> {
  const stream = tx.client.query(copyTo(copySql));
  let rows = 0;
  let pending: Buffer[] = [];
  let size = 0;
  const flush = async (last: boolean) => {
    let out = pending.length === 1 ? pending[0] : Buffer.concat(pending, size);
    [pending, size] = [[], 0];
    if (opts.wholeLines && !last) {
      const end = out.lastIndexOf(0x0a) + 1;
      if (end < out.length) [pending, size] = [[out.subarray(end)], out.length - end];
      out = out.subarray(0, end);
    }
    if (out.length === 0) return;
    await write(out);
    for (let at = out.indexOf(0x0a); at !== -1; at = out.indexOf(0x0a, at + 1)) rows++;
    opts.onRows?.(rows);
  };
  let failed: { err: unknown } | undefined;
  let cancelled: Promise<void> | undefined;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (failed) continue;
      pending.push(chunk);
      size += chunk.length;
      if (size < WRITE_BYTES) continue;
      try {
        await flush(false);
      } catch (err) {
        // The connection is mid-COPY: cancel the statement on the server and read on to its error,
        // so the connection comes back usable (a transaction to roll back) instead of stuck.
        failed = { err };
        cancelled = cancel(db, tx);
      }
    }
  } catch (err) {
    if (!failed) throw err;
  }
  // Done before the connection runs anything else, so the cancel can never reach a later statement.
  await cancelled;
  if (failed) throw failed.err;
  if (size > 0) await flush(true);
  return stream.rowCount;
}

/**
 * Cancels the COPY running on tx's connection, over a connection of its own. Awaited only once the
 * COPY has ended: the server stops only once it can send again, so the COPY is read on meanwhile.
 */
function cancel(db: Db, tx: Tx): Promise<void> {
  const pid = (tx.client as unknown as { processID: number }).processID;
  const canceller = new Client(db.pool.options);
  // Failing to cancel leaves the COPY to run to its end (read and dropped): slower, not wrong.
  canceller.on('error', () => undefined);
  return canceller.connect()
    .then(() => canceller.query('SELECT pg_cancel_backend($1)', [pid]))
    .then(() => undefined, () => undefined)
    .finally(() => canceller.end().catch(() => undefined));
}
