/**
 * Amounts as the database writes them ("-100.00", "20", "0.5"), compared as whole cents in a
 * BigInt: money never passes through a JavaScript float.
 */
export function toCents(text: string | number): bigint {
  const raw = String(text).trim();
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(raw);
  if (!m) throw new Error(`not an amount: "${raw}"`);
  const cents = BigInt(m[2]) * 100n + BigInt((m[3] ?? '').padEnd(2, '0'));
  return m[1] === '-' ? -cents : cents;
}

export function centsToText(cents: bigint): string {
  const sign = cents < 0n ? '-' : '';
  const abs = cents < 0n ? -cents : cents;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

export function sameAmount(a: string | number, b: string | number): boolean {
  return toCents(a) === toCents(b);
}
