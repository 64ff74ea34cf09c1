import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Client } from 'pg';
import { LOCAL_SERVER, SAGACTL } from './server';

async function reachable(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

/** `sagactl db start|stop --embedded` in `home`: the server keeps its data in home/.sagactl. */
export function embedded(command: 'start' | 'stop', home: string): { url?: string } {
  const env = { ...process.env };
  delete env.CI;
  delete env.DATABASE_URL;
  const r = spawnSync(process.execPath, [SAGACTL, 'db', command, '--embedded', '--json'], { cwd: home, env, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`sagactl db ${command} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/**
 * The server the tests make their databases on: TEST_DATABASE_URL, else 127.0.0.1:5432 (CI), else
 * sagactl's embedded server, started for this run in a folder of its own (a laptop with only Node).
 */
export default async function globalSetup(): Promise<void> {
  let base = process.env.TEST_DATABASE_URL;
  if (!base && (await reachable(LOCAL_SERVER))) base = LOCAL_SERVER;
  if (!base) {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-nest-'));
    base = embedded('start', home).url!;
    process.env.NEST_TEST_EMBEDDED_HOME = home;
    process.stderr.write(`\nthe example's tests run against the embedded PostgreSQL of ${home}\n`);
  }
  process.env.NEST_TEST_SERVER_URL = base;
}
