import type fs from 'node:fs';
import { firstUnreachable } from '../../src/db/embedded';

/** A fake file system: each folder's owner, group and mode. */
function tree(entries: Record<string, [uid: number, gid: number, mode: number]>) {
  return (dir: string) => {
    const e = entries[dir];
    return e === undefined ? undefined : ({ uid: e[0], gid: e[1], mode: e[2] } as fs.Stats);
  };
}
const postgres = { uid: 100, gid: 101 };

test('the first folder above the target the postgres user cannot pass through, from the root down', () => {
  const stat = tree({ '/': [0, 0, 0o755], '/tmp': [0, 0, 0o1777], '/tmp/tmp.x': [0, 0, 0o700], '/tmp/tmp.x/clone': [0, 0, 0o755] });
  expect(firstUnreachable('/tmp/tmp.x/clone/.sagactl', postgres, stat)).toBe('/tmp/tmp.x');
  expect(firstUnreachable('/tmp/tmp.x', postgres, stat)).toBeUndefined(); // the target itself is ours to open
  expect(firstUnreachable('/tmp/other/home', postgres, stat)).toBeUndefined(); // folders still to be made are made passable
});

test('owner, group and other bits count as the kernel counts them', () => {
  expect(firstUnreachable('/a/b', postgres, tree({ '/': [0, 0, 0o755], '/a': [100, 0, 0o700] }))).toBeUndefined();
  expect(firstUnreachable('/a/b', postgres, tree({ '/': [0, 0, 0o755], '/a': [0, 101, 0o710] }))).toBeUndefined();
  expect(firstUnreachable('/a/b', postgres, tree({ '/': [0, 0, 0o755], '/a': [0, 101, 0o701] }))).toBe('/a'); // group bits win for the group
  expect(firstUnreachable('/a/b', postgres, tree({ '/': [0, 0, 0o755], '/a': [100, 0, 0o077] }))).toBe('/a'); // owner bits win for the owner
  expect(firstUnreachable('/a/b', postgres, tree({ '/': [0, 0, 0o755], '/a': [0, 0, 0o711] }))).toBeUndefined(); // x without r is enough
  expect(firstUnreachable('/root/x', postgres, tree({ '/': [0, 0, 0o755], '/root': [0, 0, 0o700] }))).toBe('/root');
});
