import fs from 'node:fs';
import { embedded } from './global-setup';

/** Stops the embedded server when setup started one (each test file drops its own database). */
export default async function globalTeardown(): Promise<void> {
  const home = process.env.NEST_TEST_EMBEDDED_HOME;
  if (!home) return;
  embedded('stop', home);
  fs.rmSync(home, { recursive: true, force: true });
}
