import { sampledSql } from '../../src/health/check';
import { INVARIANTS } from '../../src/health/invariants';

test('invariants: unique snake_case names, an id column, every value a numbered parameter', () => {
  expect(new Set(INVARIANTS.map((i) => i.name)).size).toBe(INVARIANTS.length);
  for (const inv of INVARIANTS) {
    expect(inv.name).toMatch(/^[a-z]+(_[a-z]+)*$/);
    expect(inv.sql).toMatch(/\bAS id\b/);
    const params = inv.params({ stuckAfterMs: 1000 });
    const highest = Math.max(1, ...[...inv.sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
    // $1 is the sample limit; the invariant's own values are $2 on.
    expect(highest).toBe(params.length + 1);
  }
});

test('the sample wrapper keeps the full count and orders by id', () => {
  const sql = sampledSql({ name: 'x', description: 'x', sql: 'SELECT user_id AS id FROM users', params: () => [] });
  expect(sql).toContain('WITH offending AS (SELECT user_id AS id FROM users)');
  expect(sql).toMatch(/count\(\*\) OVER \(\)::int AS "offendingCount" FROM offending ORDER BY id LIMIT \$1$/);
});
