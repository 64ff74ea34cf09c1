import { spawnSync } from 'node:child_process';

/** The Redis of the cache assertions: REDIS_TEST_URL (CI) or the local one, database 13 (the root suite uses 14). */
export const REDIS_BASE = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379';

export function redisUrl(db = 13): string {
  const url = new URL(REDIS_BASE);
  url.pathname = `/${db}`;
  return url.toString();
}

/**
 * Decided when the file loads (jest cannot skip at run time): a PING answered within a second.
 * Without Redis the cache assertions are skipped with a notice, unless SAGACTL_REQUIRE_REDIS=1 (CI).
 */
export function redisAvailable(): boolean {
  const { hostname, port } = new URL(REDIS_BASE);
  const probe = `const s = require('node:net').connect(${Number(port || 6379)}, ${JSON.stringify(hostname)});
    s.on('connect', () => s.write('PING\\r\\n'));
    s.on('data', (d) => process.exit(String(d).startsWith('+PONG') ? 0 : 1));
    s.on('error', () => process.exit(1));
    setTimeout(() => process.exit(1), 1000);`;
  const ok = spawnSync(process.execPath, ['-e', probe], { timeout: 3000 }).status === 0;
  if (!ok && process.env.SAGACTL_REQUIRE_REDIS === '1') throw new Error(`SAGACTL_REQUIRE_REDIS=1 but Redis at ${REDIS_BASE} does not answer PING.`);
  if (!ok) console.warn(`Redis at ${REDIS_BASE} does not answer: the cache assertions are SKIPPED (SAGACTL_REQUIRE_REDIS=1 fails instead).`);
  return ok;
}
