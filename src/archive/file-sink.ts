import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import type { Write } from './copy-out';

/**
 * Where an export goes when it goes to a file: a temporary file beside the target, renamed over
 * it once complete and flushed to disk. A failed or interrupted export leaves no half-written
 * archive under the name a restore would later trust.
 */
export interface FileSink {
  write: Write;
  /** Flushes, syncs and renames into place. */
  done(): Promise<void>;
  /** Removes the temporary file. */
  abort(): Promise<void>;
}

export function openFileSink(file: string): FileSink {
  const target = path.resolve(file);
  // A device or a pipe (/dev/null, a FIFO to a compressor) is written as it is: renaming over it would replace it.
  const special = fs.existsSync(target) && !fs.statSync(target).isFile();
  const temp = special ? target : path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.partial`);
  const stream = fs.createWriteStream(temp, { flags: special ? 'w' : 'wx', mode: 0o644 });
  let failed: Error | undefined;
  stream.on('error', (err) => (failed = err));
  return {
    write(chunk) {
      if (failed) throw failed;
      // Waits for the disk when the stream's buffer is full, so memory stays flat.
      if (!stream.write(chunk)) return once(stream, 'drain').then(() => undefined);
    },
    async done() {
      stream.end();
      await once(stream, 'finish');
      if (failed) throw failed;
      if (special) return;
      const fd = fs.openSync(temp, 'r');
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(temp, target);
    },
    async abort() {
      // The file is opened asynchronously: wait for the stream to close, or the removal could come before the creation.
      stream.destroy();
      if (!stream.closed) await once(stream, 'close');
      if (!special) fs.rmSync(temp, { force: true });
    },
  };
}
