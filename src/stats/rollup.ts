import { Db, Tx } from '../db/pool';
import { PG, pgCode } from '../db/pg-errors';
import { DELETE_RANGE_SQL, DRIFTED_MINUTES_SQL, iso, KEEP_PRUNED_SQL, RETURN_PRUNED_SQL, ROLL_HOURS_SQL, ROLL_MINUTES_SQL } from './sql';
import { HOUR_MS, MINUTE_MS } from './segments';

/**
 * Keeps the statistics rollup (migration 1764000000300) up to date. Only `stats` and operator
 * commands write it; a saga's own transactions never touch it, so it costs the engine nothing.
 *
 * A created_at minute is rolled up once it is older than the settle time: by then its sagas have
 * normally finished, and no transaction that started in it is still uncommitted (created_at is
 * the inserting transaction's start, so a saga may appear in a minute after the minute is over).
 * A saga that changes status later is caught two ways:
 * - markStatsDirty(db, ids), which operator compensate/recover call after the change commits;
 * - every refresh compares, per minute of the last day, the rolled-up and live counts of sagas
 *   that can still move (pending, in_progress, compensating, compensation_failed) and re-rolls
 *   minutes that differ: an engine that stalled past the settle time and then finished its saga.
 * Rows inserted with an explicit old created_at (imports, generators) must call resetStatsRollup
 * or markStatsDirty; a TRUNCATE of saga_states is noticed by itself.
 */
export const SETTLE_MS = 5 * MINUTE_MS;
const CHUNK_MINUTES = 360;
/**
 * How far back the drift check looks. Leases last seconds: past a day only operators move a saga,
 * and they mark it. Bounding the check keeps its cost to a day of unsettled sagas, where ten
 * thousand stuck ones spread over a month cost ~80 ms a run.
 */
const DRIFT_LOOKBACK_MS = 24 * HOUR_MS;
const LOCK_KEY = 'sagactl:stats-rollup';

export interface RefreshOptions {
  settleMs?: number;
  /** Minutes rolled so far and in all, while a long backlog (the first run) is built. */
  onProgress?: (done: number, total: number) => void;
}

export interface RefreshResult {
  rolledUntil: Date | null;
  minutesRolled: number;
  minutesReRolled: number;
  /** Set when the rollup could not be written (a read-only server); the answer is still exact, only slower. */
  skipped?: string;
}

interface State { rolledUntil: Date | null; horizon: Date }

const floorHour = (ms: number) => Math.floor(ms / HOUR_MS) * HOUR_MS;

/** Brings the rollup up to `now - settle`, then folds dirty and drifted minutes again. */
export async function refreshRollup(db: Db, opts: RefreshOptions = {}): Promise<RefreshResult> {
  const settleMs = opts.settleMs ?? SETTLE_MS;
  const result: RefreshResult = { rolledUntil: null, minutesRolled: 0, minutesReRolled: 0 };
  try {
    let horizon: Date | undefined;
    let first: number | undefined;
    for (;;) {
      const step = await db.withTransaction(async (tx) => {
        const state = await lockedState(tx, settleMs);
        horizon ??= state.horizon; // fixed at the start: a long first build does not chase the clock
        return rollNextChunk(tx, state.rolledUntil, horizon);
      });
      result.minutesRolled += step.minutes;
      result.rolledUntil = step.rolledUntil;
      first ??= step.from;
      opts.onProgress?.(Math.round((step.rolledUntil.getTime() - first) / MINUTE_MS), Math.round((horizon!.getTime() - first) / MINUTE_MS));
      if (step.rolledUntil.getTime() >= horizon!.getTime()) break;
    }
    result.minutesReRolled = await db.withTransaction(async (tx) => reRoll(tx, (await lockedState(tx, settleMs)).rolledUntil));
  } catch (err) {
    if (pgCode(err) === PG.readOnlyTransaction) result.skipped = 'the server is read-only: the rollup was not updated';
    else if (pgCode(err) === PG.insufficientPrivilege) result.skipped = 'this role may not write the rollup (docs/roles.md): it was not updated';
    else throw err;
  }
  return result;
}

/** Serialises refreshes; reads the state under the lock, starting over if saga_states was truncated. */
async function lockedState(tx: Tx, settleMs: number): Promise<State> {
  await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [LOCK_KEY]);
  // These statements touch a few thousand rows; JIT compiling them costs more than it saves.
  await tx.query('SET LOCAL jit = off');
  const { rows: [s] } = await tx.query(
    `SELECT rolled_until AS "rolledUntil", source_filenode IS DISTINCT FROM pg_relation_filenode('saga_states') AS moved,
            date_trunc('minute', timezone('UTC', now()) - $1::int * interval '1 millisecond') AS horizon
       FROM saga_stats_state`, [settleMs]);
  if (!s.moved) return { rolledUntil: s.rolledUntil, horizon: s.horizon };
  await resetStatsRollup(tx);
  await tx.query(`UPDATE saga_stats_state SET source_filenode = pg_relation_filenode('saga_states')`);
  return { rolledUntil: null, horizon: s.horizon };
}

/**
 * Rolls up to CHUNK_MINUTES minutes from the first saga (stored, or pruned and kept) at or after
 * the watermark (empty stretches are skipped with one index probe each), then the hours that
 * became complete.
 */
async function rollNextChunk(tx: Tx, rolledUntil: Date | null, horizon: Date) {
  // A longer settle time than the last run's never moves the watermark back.
  if (rolledUntil && rolledUntil.getTime() >= horizon.getTime()) return { from: horizon.getTime(), minutes: 0, rolledUntil };
  const { rows: [next] } = await tx.query(
    `SELECT date_trunc('minute', LEAST(
              (SELECT min(created_at) FROM saga_states
                WHERE created_at >= COALESCE($1::timestamp, '-infinity') AND created_at < $2::timestamp),
              (SELECT min(bucket) FROM saga_stats_pruned
                WHERE bucket >= COALESCE($1::timestamp, '-infinity') AND bucket < $2::timestamp))) AS at`,
    [rolledUntil && iso(rolledUntil), iso(horizon)]);
  const from: number = next.at?.getTime() ?? horizon.getTime();
  const to = Math.min(horizon.getTime(), from + CHUNK_MINUTES * MINUTE_MS);
  if (from < to) await rollMinutes(tx, from, to);
  // Hours that are complete now: the one the old watermark cut, and those inside the chunk.
  const cut = rolledUntil ? floorHour(rolledUntil.getTime()) : undefined;
  if (cut !== undefined && cut + HOUR_MS <= to && cut < floorHour(from)) await rollHours(tx, cut, cut + HOUR_MS);
  if (floorHour(from) < floorHour(to)) await rollHours(tx, floorHour(from), floorHour(to));
  await tx.query('UPDATE saga_stats_state SET rolled_until = $1::timestamp, refreshed_at = now()', [iso(new Date(to))]);
  return { from, minutes: Math.max(0, (to - from) / MINUTE_MS), rolledUntil: new Date(to) };
}

/** Folds again the minutes marked dirty and those whose unsettled sagas moved; returns how many. */
async function reRoll(tx: Tx, rolledUntil: Date | null): Promise<number> {
  const dirty = await tx.query('DELETE FROM saga_stats_dirty RETURNING minute');
  if (!rolledUntil) return 0;
  const drifted = await tx.query(DRIFTED_MINUTES_SQL, [iso(rolledUntil), iso(new Date(rolledUntil.getTime() - DRIFT_LOOKBACK_MS))]);
  const w = rolledUntil.getTime();
  const minutes = new Set([...dirty.rows.map((r) => r.minute), ...drifted.rows.map((r) => r.bucket)]
    .map((d: Date) => d.getTime()).filter((m) => m < w)); // minutes past the watermark are rolled fresh later
  for (const [from, to] of runs([...minutes], MINUTE_MS)) await rollMinutes(tx, from, to);
  const hours = [...new Set([...minutes].map(floorHour))].filter((h) => h + HOUR_MS <= w);
  for (const [from, to] of runs(hours, HOUR_MS)) await rollHours(tx, from, to);
  return minutes.size;
}

/** Sorted starts of `step`-long buckets merged into contiguous [from, to) runs. */
export function runs(starts: number[], step: number): [number, number][] {
  const out: [number, number][] = [];
  for (const t of [...starts].sort((a, b) => a - b)) {
    const last = out[out.length - 1];
    if (last && last[1] === t) last[1] = t + step;
    else out.push([t, t + step]);
  }
  return out;
}

async function rollMinutes(tx: Tx, from: number, to: number): Promise<void> {
  const range = [iso(new Date(from)), iso(new Date(to))];
  for (const sql of DELETE_RANGE_SQL) await tx.query(sql, ['minute', ...range]);
  await tx.query(ROLL_MINUTES_SQL, range);
}

async function rollHours(tx: Tx, from: number, to: number): Promise<void> {
  const range = [iso(new Date(from)), iso(new Date(to))];
  for (const sql of DELETE_RANGE_SQL) await tx.query(sql, ['hour', ...range]);
  for (const sql of ROLL_HOURS_SQL) await tx.query(sql, range);
}

/**
 * Marks the created_at minutes of these sagas for folding again at the next `stats`. Call it
 * after a saga's status changed in a minute that may be rolled up already (operator compensate
 * or recover), in the same transaction as the change or after it commits. Writes one row per
 * minute, never a counter, and only from operator commands.
 */
export async function markStatsDirty(db: Pick<Db, 'query'>, transactionIds: readonly string[]): Promise<number> {
  if (transactionIds.length === 0) return 0;
  const rows = await db.query(
    `INSERT INTO saga_stats_dirty (minute)
     SELECT DISTINCT date_trunc('minute', created_at) FROM saga_states
      WHERE transaction_id = ANY($1::varchar[]) AND created_at IS NOT NULL
     ON CONFLICT (minute) DO NOTHING RETURNING minute`, [transactionIds]);
  return rows.length;
}

/**
 * `saga prune` keeps what the statistics counted of the sagas it is about to delete (their step
 * rows still there), so a minute folded again after them still counts them; `saga import`
 * returns it when it brings those sagas back (their rows there again), so none counts twice.
 */
export async function keepPruned(tx: Pick<Tx, 'query'>, transactionIds: string[]): Promise<void> {
  await tx.query(KEEP_PRUNED_SQL, [transactionIds]);
}

export async function returnPruned(tx: Pick<Tx, 'query'>, transactionIds: string[]): Promise<void> {
  const [first, ...rest] = RETURN_PRUNED_SQL;
  await tx.query(first, [transactionIds]);
  for (const sql of rest) await tx.query(sql);
}

/** Forgets the rollup; the next `stats` builds it again. For bulk loads of back-dated sagas. */
export async function resetStatsRollup(tx: Pick<Tx, 'query'>): Promise<void> {
  await tx.query('TRUNCATE saga_stats_rollup, saga_stats_latency, saga_stats_dirty');
  await tx.query('UPDATE saga_stats_state SET rolled_until = NULL, source_filenode = NULL, refreshed_at = NULL');
}
