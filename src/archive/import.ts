import { Db, lastWords } from '../db/pool';
import { pgCode } from '../db/pg-errors';
import { InterruptedError, UsageError } from '../errors';
import { Actor, recordAudit } from '../operator/audit';
import { EndRecord } from './format';
import { BadRecord, parseRecord } from './records';
import { BatchOutcome, ColumnCache, Kind, Pending, writeBatch } from './write-batch';

/**
 * `saga import`: an archive (src/archive/format.ts) back into a database, line by line. Every
 * line is checked before it is queued; BATCH records are written per transaction, so memory stays
 * flat and a failure loses at most the batch in hand. A bad line stops the import there: the
 * lines before it are in, nothing from it on (unless skipBad, which notes it and goes on). When
 * the database rejects a batch (a constraint), it is written again record by record to name the
 * line. Running the same import twice changes nothing: what exists with the same contents is
 * skipped.
 */
const BATCH = 500;
const SAMPLE = 100;

export interface ImportOptions {
  actor: Actor;
  reason: string;
  /** The file's name, for the audit. */
  source: string;
  skipBad?: boolean;
  /** Called after each batch is written, with the lines read so far. */
  onProgress?: (lines: number) => void;
  /** Ctrl-C: once aborted, a failure is audited as interrupted (its statements were cancelled). */
  signal?: AbortSignal;
}

export interface ImportResult {
  lines: number;
  imported: Record<Kind, number>;
  skipped: Record<Kind, number>;
  /** Records that exist with other contents: left as they are (the first SAMPLE of them listed). */
  refused: number;
  refusedSample: BatchOutcome['refused'];
  /** Lines skipped with skipBad (the first SAMPLE listed). */
  badLines: number;
  badSample: { line: number; why: string }[];
  /** Whether the archive's end record was read and its counts match the records read (and skipped). */
  complete: boolean;
  seconds: number;
}

/** A bad line that stopped the import: exit 2, saying which line, why, and what was written before it. */
export class ImportLineError extends UsageError {
  constructor(readonly line: number, readonly why: string, readonly result: ImportResult) {
    super(`line ${line}: ${why}. Imported before it: ${describeCounts(result)}; nothing from line ${line} on.`,
      'Fix the line, or pass --skip-bad to skip bad lines and import the rest.');
  }
}

export function describeCounts(r: ImportResult): string {
  const kinds: Kind[] = ['user', 'item', 'saga'];
  return kinds.map((k) => `${r.imported[k]} ${k}s`).join(', ') + ` (${kinds.map((k) => r.skipped[k]).reduce((a, b) => a + b)} already there)`;
}

export async function importSagas(db: Db, lines: AsyncIterable<string>, opts: ImportOptions): Promise<ImportResult> {
  const started = process.hrtime.bigint();
  const r: ImportResult = { lines: 0, imported: { user: 0, item: 0, saga: 0 }, skipped: { user: 0, item: 0, saga: 0 }, refused: 0,
    refusedSample: [], badLines: 0, badSample: [], complete: false, seconds: 0 };
  const read = { user: 0, item: 0, saga: 0 };
  let end: EndRecord | undefined;
  let batch: Pending[] = [];
  const columns: ColumnCache = new Map();
  // One batch is written while the next is read and checked (the server's work and ours overlap
  // on two cores); at most one is in flight, so batches land in file order and memory stays flat.
  let writing: Promise<void> = Promise.resolve();
  let failure: { err: unknown } | undefined;
  const written = async () => {
    await writing;
    if (failure) throw failure.err;
  };
  const flush = async () => {
    await written();
    const pending = batch;
    batch = [];
    // The progress tick throws on Ctrl-C: caught here like a failed write, never left unhandled.
    writing = writeAll(db, pending, r, opts, columns).then(() => opts.onProgress?.(r.lines)).catch((err) => { failure = { err }; });
  };
  try {
    for await (const line of lines) {
      const n = ++r.lines;
      try {
        if (end) throw new BadRecord('a record after the end record');
        const record = parseRecord(line, n === 1);
        if (record.type === 'end') end = record;
        else if (record.type !== 'header') {
          read[record.type] += 1;
          batch.push({ line: n, record });
          if (batch.length >= BATCH) await flush();
        }
      } catch (err) {
        if (!(err instanceof BadRecord)) throw err;
        await flush();
        await written();
        badLine(r, n, err.message, opts.skipBad === true && n > 1);
      }
    }
    await flush();
    await written();
    // Lines skipped with skipBad are records the end record counted too.
    r.complete = end !== undefined && end.users + end.items + end.sagas === read.user + read.item + read.saga + r.badLines;
    r.seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await audit(db, opts, r, r.refused > 0 ? 'refused' : 'done');
    return r;
  } catch (err) {
    // A batch still being written when reading failed (Ctrl-C, a file error) ends first: the audit
    // row and the message then count everything that went in.
    await writing;
    r.seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const outcome = err instanceof InterruptedError || opts.signal?.aborted ? 'interrupted' : 'failed';
    await lastWords(db, (q) => audit(q, opts, r, outcome)).catch(() => undefined);
    throw err;
  }
}

function badLine(r: ImportResult, line: number, why: string, skip: boolean): void {
  if (!skip) throw new ImportLineError(line, why, r);
  r.badLines += 1;
  if (r.badSample.length < SAMPLE) r.badSample.push({ line, why });
}

/** The batch in one transaction; if the database refuses it, record by record to find the line. */
async function writeAll(db: Db, batch: Pending[], r: ImportResult, opts: ImportOptions, columns: ColumnCache): Promise<void> {
  if (batch.length === 0) return;
  try {
    tally(r, await db.withTransaction((tx) => writeBatch(tx, batch, columns)));
    return;
  } catch (err) {
    if (!isDataError(err)) throw err;
  }
  for (const p of batch) {
    try {
      tally(r, await db.withTransaction((tx) => writeBatch(tx, [p], columns)));
    } catch (err) {
      if (!isDataError(err)) throw err;
      badLine(r, p.line, `the database refused it: ${(err as Error).message}`, opts.skipBad === true);
    }
  }
}

/** Data exceptions (22) and integrity violations (23, a log id another saga holds too): the record's fault, not the server's. */
function isDataError(err: unknown): boolean {
  const code = pgCode(err);
  return code !== undefined && (code.startsWith('22') || code.startsWith('23'));
}

function tally(r: ImportResult, o: BatchOutcome): void {
  for (const k of ['user', 'item', 'saga'] as const) {
    r.imported[k] += o.imported[k];
    r.skipped[k] += o.skipped[k];
  }
  r.refused += o.refused.length;
  r.refusedSample.push(...o.refused.slice(0, SAMPLE - r.refusedSample.length));
}

async function audit(db: Pick<Db, 'query'>, opts: ImportOptions, r: ImportResult, outcome: string): Promise<void> {
  await recordAudit(db, opts.actor, { action: 'import', transactionId: null, reason: opts.reason, outcome, details: {
    file: opts.source, lines: r.lines, imported: r.imported, skipped: r.skipped, refused: r.refused, badLines: r.badLines, complete: r.complete,
  } });
}
