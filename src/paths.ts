import fs from 'node:fs';
import path from 'node:path';

/** The folder holding sagactl's package.json, whether we run from src/ (tests) or dist/src/. */
export function packageRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`package.json not found above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

/** True when this code is the compiled build (dist/), false under the test runner (src/). */
export function runningCompiled(): boolean {
  return __filename.endsWith('.js');
}
