import crypto from 'node:crypto';

/**
 * A UUIDv7: 48 bits of milliseconds, then random bits. Ids that grow with time keep every index
 * keyed on them (saga_states, saga_step_results, the log and notification ids derived from them)
 * inserting at the right edge, where random UUIDv4 keys would dirty a new page per insert.
 */
export function uuidv7(now = Date.now()): string {
  const b = crypto.randomBytes(16);
  b.writeUIntBE(now, 0, 6);
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
