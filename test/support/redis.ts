import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';

/** The Redis the cache tests use; each file picks its own database number and key names. */
export const REDIS_TEST_URL = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379';

export function redisUrl(db: number, base = REDIS_TEST_URL): string {
  const url = new URL(base);
  url.pathname = `/${db}`;
  return url.toString();
}

/** Unique per run, so two runs of the suite at once (CI, a colleague) never share a key. */
export function uniqueSuffix(): string {
  return crypto.randomBytes(4).toString('hex');
}

/**
 * Decided when the test file loads (jest cannot skip at run time): a PING answered within a
 * second. Unreachable Redis skips the tests with a notice, unless SAGACTL_REQUIRE_REDIS=1 (CI).
 */
export function redisAvailable(file: string): boolean {
  const { hostname, port } = new URL(REDIS_TEST_URL);
  const probe = `const s = require('node:net').connect(${Number(port || 6379)}, ${JSON.stringify(hostname)});
    s.on('connect', () => s.write('PING\\r\\n'));
    s.on('data', (d) => process.exit(String(d).startsWith('+PONG') ? 0 : 1));
    s.on('error', () => process.exit(1));
    setTimeout(() => process.exit(1), 1000);`;
  const ok = spawnSync(process.execPath, ['-e', probe], { timeout: 3000 }).status === 0;
  if (!ok && process.env.SAGACTL_REQUIRE_REDIS === '1') {
    throw new Error(`SAGACTL_REQUIRE_REDIS=1 but Redis at ${REDIS_TEST_URL} does not answer PING (${file}).`);
  }
  if (!ok) console.warn(`Redis at ${REDIS_TEST_URL} does not answer: the Redis tests of ${file} are SKIPPED (set REDIS_TEST_URL, or SAGACTL_REQUIRE_REDIS=1 to fail instead).`);
  return ok;
}
