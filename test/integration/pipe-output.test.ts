import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDb, TestDb } from '../support/database';
import { BIN, ROOT } from '../support/cli';

let t: TestDb;
beforeAll(async () => {
  t = await createTestDb();
  // Sagas nobody drives (no lease, long unmoved): `saga stuck --json` prints them all, megabytes of it.
  await t.db.query(`INSERT INTO users (user_id, name, balance) VALUES ('pipe-user', 'Pipe', 0)`);
  await t.db.query(`INSERT INTO saga_states (transaction_id, status, user_id, item_id, quantity, price, mode, created_at, updated_at)
    SELECT 'pipe-saga-' || lpad(g::text, 6, '0') || repeat('x', 60), 'in_progress', 'pipe-user', 'pipe-item', 1, 1.00,
           'orchestration', timezone('UTC', now()) - interval '1 day', timezone('UTC', now()) - interval '1 day'
      FROM generate_series(1, 8000) g`);
});
afterAll(async () => { await t.drop(); });

const ENV = () => ({ ...process.env, DATABASE_URL: t.url, NO_COLOR: '1', CI: '' });

/** The binary with stdout into a file: what "the whole output" is. */
function toFile(argv: string[]): Promise<{ code: number | null; bytes: Buffer }> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-pipe-')), 'out.json');
  const fd = fs.openSync(file, 'w');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...argv], { cwd: ROOT, env: ENV(), stdio: ['ignore', fd, 'ignore'] });
    child.on('close', (code) => {
      fs.closeSync(fd);
      resolve({ code, bytes: fs.readFileSync(file) });
    });
  });
}

/** The binary into a pipe whose reader does not read for a second, then reads slowly. */
function throughSlowPipe(argv: string[]): Promise<{ code: number | null; bytes: Buffer }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...argv], { cwd: ROOT, env: ENV(), stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    child.stdout.pause();
    setTimeout(() => {
      child.stdout.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        child.stdout.pause();
        setTimeout(() => child.stdout.resume(), 2);
      });
      child.stdout.resume();
    }, 1000);
    child.on('close', (code) => resolve({ code, bytes: Buffer.concat(chunks) }));
  });
}

test('megabytes of --json through a slow pipe arrive whole, as in a file, exit 0', async () => {
  const argv = ['saga', 'stuck', '--older-than', '1m', '--limit', '100000', '--json'];
  const file = await toFile(argv);
  expect(file.code).toBe(0);
  expect(file.bytes.length).toBeGreaterThan(2_000_000);
  const piped = await throughSlowPipe(argv);
  expect(piped.code).toBe(0);
  expect(piped.bytes.length).toBe(file.bytes.length);
  expect(JSON.parse(piped.bytes.toString('utf8')).stuck).toHaveLength(8000);
}, 60_000);

test('a reader that stops early (| head) is not an error: exit 0', async () => {
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [BIN, 'saga', 'stuck', '--older-than', '1m', '--json'],
      { cwd: ROOT, env: ENV(), stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout.once('data', () => child.stdout.destroy());
    child.on('close', resolve);
  });
  expect(code).toBe(0);
}, 60_000);
