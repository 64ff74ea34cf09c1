import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { admin, urlFor } from './support';

const run = promisify(execFile);
const DIR = path.join(__dirname, '..', '..', 'bench', 'pgbench');

/**
 * The limit for one saga per statement: pgbench running the saga's SQL as 5 transactions
 * (bench/pgbench/saga_split5.sql, copied from the project's shared yardstick) on the design's own
 * schema (no CHECKs, no unique step key, no ledger, no triggers; 100 users, 10 items). pgbench
 * spends almost no client CPU, so its tps is what PostgreSQL itself allows for this saga shape.
 */
export class PgbenchLimit {
  private readonly url: string;

  constructor(private readonly base: string, private readonly db: string) {
    this.url = urlFor(base, db);
  }

  async setup(): Promise<void> {
    await admin(this.base, `CREATE DATABASE ${this.db}`);
    await this.psql(path.join(DIR, 'schema.sql'));
  }

  /** One round: reset, then `-M prepared -c C -j 2 -T seconds`; sagas per second (one script run is one saga). */
  async round(concurrency: number, seconds: number): Promise<number> {
    await this.psql(path.join(DIR, 'reset.sql'));
    const u = new URL(this.url);
    const { stdout } = await run('pgbench', ['-h', u.hostname, '-p', u.port || '5432', '-U', decodeURIComponent(u.username) || 'postgres',
      '-n', '-M', 'prepared', '-c', String(concurrency), '-j', '2', '-T', String(seconds), '-f', path.join(DIR, 'saga_split5.sql'), this.db],
    { env: { ...process.env, PGPASSWORD: decodeURIComponent(u.password) } });
    const tps = /tps = ([\d.]+)/.exec(stdout);
    if (!tps) throw new Error(`pgbench printed no tps:\n${stdout}`);
    return Number(tps[1]);
  }

  async drop(): Promise<void> {
    await admin(this.base, `DROP DATABASE IF EXISTS ${this.db} WITH (FORCE)`);
  }

  private async psql(file: string): Promise<void> {
    await run('psql', ['-q', '-v', 'ON_ERROR_STOP=1', '-d', this.url, '-f', file]);
  }
}
