import type { Tx } from '../../src/db/pool';
import { bindForCopy } from '../../src/archive/copy-out';

/** bindForCopy's rewriting, with a stand-in transaction that records what it is sent. */
function recorder() {
  const sent: { sql: string; params?: unknown[] }[] = [];
  const tx = { query: async (sql: string, params?: unknown[]) => { sent.push({ sql, params }); return { rows: [] }; } } as unknown as Tx;
  return { tx, sent };
}

test('each cast placeholder becomes a transaction-local setting, set from a typed parameter', async () => {
  const { tx, sent } = recorder();
  const sql = await bindForCopy(tx, { sql: `s.status = ANY($1::text[]) AND s.created_at >= $2::timestamp AND s.x = ANY($1::text[])`, params: [['failed'], '2026-01-01T00:00:00Z'] });
  expect(sql).toBe(`s.status = ANY(current_setting('sagactl.arg1')::text[]) AND s.created_at >= current_setting('sagactl.arg2')::timestamp`
    + ` AND s.x = ANY(current_setting('sagactl.arg1')::text[])`);
  expect(sent).toEqual([{ sql: `SELECT set_config('sagactl.arg1', ($1::text[])::text, true), set_config('sagactl.arg2', ($2::timestamp)::text, true)`,
    params: [['failed'], '2026-01-01T00:00:00Z'] }]);
});

test('no placeholder, no query; an uncast placeholder is refused (its type would come from its context)', async () => {
  const { tx, sent } = recorder();
  expect(await bindForCopy(tx, { sql: 'TRUE', params: [] })).toBe('TRUE');
  expect(sent).toEqual([]);
  await expect(bindForCopy(tx, { sql: 's.quantity = $1', params: [1] })).rejects.toThrow(/placeholder \$1 has no cast/);
});
