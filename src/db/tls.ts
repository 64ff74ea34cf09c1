import fs from 'node:fs';
import { UsageError } from '../errors';

/**
 * TLS as libpq means it (and psql does), not as node-postgres reads `sslmode` by default (there
 * `require` verifies the certificate like `verify-full`, and `prefer` never falls back):
 *   disable      never TLS
 *   allow        plain first; TLS when the server refuses a plain connection
 *   prefer       TLS first, plain when the server has no TLS; the certificate is not checked (default)
 *   require      TLS, certificate not checked (checked as verify-ca when sslrootcert is given)
 *   verify-ca    TLS, the certificate signed by sslrootcert
 *   verify-full  TLS, signed by sslrootcert (or the system's CAs) and naming the host
 */
export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export interface TlsSettings {
  mode: SslMode;
  /** A CA file, or "system" for the machine's trusted CAs (verify-full only, as libpq 16). */
  rootCert?: string;
  /** Where the mode was read, for messages. */
  source: string;
}

/** One connection attempt: what node-postgres is told (with uselibpqcompat, which reads sslmode as libpq). */
export type TlsAttempt = 'disable' | 'unverified' | 'require' | 'verify-ca' | 'verify-full';

const HINT = 'sslmode takes libpq\'s values: disable, allow, prefer (the default), require, verify-ca, verify-full; ' +
  'sslrootcert names the CA file that signed the server\'s certificate (in the URL, or PGSSLMODE and PGSSLROOTCERT).';

/** The TLS settings of a server URL: its sslmode/sslrootcert, else PGSSLMODE/PGSSLROOTCERT, else libpq's default. */
export function resolveTls(rawUrl: string, env: Record<string, string | undefined>): TlsSettings {
  const url = new URL(rawUrl);
  const fromUrl = url.searchParams.get('sslmode');
  const raw = fromUrl ?? blankToUndefined(env.PGSSLMODE);
  const source = fromUrl !== null ? 'sslmode in the URL' : raw !== undefined ? 'PGSSLMODE' : 'default';
  // libpq never uses TLS over a Unix socket: the default there is a plain connection.
  const socket = (url.searchParams.get('host') ?? '').startsWith('/');
  const mode = raw ?? (socket ? 'disable' : 'prefer');
  if (!(SSL_MODES as readonly string[]).includes(mode)) {
    throw new UsageError(`${source} must be one of ${SSL_MODES.join(', ')}, got "${mode}".`, HINT);
  }
  const rootCert = url.searchParams.get('sslrootcert') ?? blankToUndefined(env.PGSSLROOTCERT);
  const settings: TlsSettings = { mode: mode as SslMode, rootCert, source };
  assertRootCert(settings);
  return settings;
}

function assertRootCert(t: TlsSettings): void {
  if (t.mode === 'verify-ca' && t.rootCert === undefined) {
    throw new UsageError('sslmode=verify-ca needs sslrootcert: the CA file that signed the server\'s certificate.',
      'Add sslrootcert=/path/to/root.crt to the URL (or PGSSLROOTCERT), or use verify-full to trust the system\'s CAs.');
  }
  if (t.rootCert === 'system') {
    if (t.mode !== 'verify-full') {
      throw new UsageError(`sslrootcert=system trusts every public CA, so it needs sslmode=verify-full (got ${t.mode}).`, HINT);
    }
    return;
  }
  if (t.rootCert !== undefined && !['disable', 'allow', 'prefer'].includes(t.mode)) {
    try {
      fs.accessSync(t.rootCert, fs.constants.R_OK);
    } catch {
      throw new UsageError(`sslrootcert: cannot read the file "${t.rootCert}".`, HINT);
    }
  }
}

/** The attempts libpq makes for a mode, in order. */
export function attemptsFor(mode: SslMode): TlsAttempt[] {
  switch (mode) {
    case 'allow': return ['disable', 'unverified'];
    case 'prefer': return ['unverified', 'disable'];
    default: return [mode];
  }
}

/** Parameters of the URL this module decides; the user's are replaced by the attempt's. */
const DECIDED = ['sslmode', 'sslrootcert', 'uselibpqcompat', 'ssl', 'options'];

/**
 * The URL node-postgres is given for one attempt: sslmode as libpq reads it, and the session's
 * options. Settings travel in the URL (which pg reads over any other setting), so every
 * connection made from it, in the pool or outside it, has them.
 */
export function connectionUrl(rawUrl: string, attempt: TlsAttempt, rootCert: string | undefined, options: string): string {
  const url = new URL(rawUrl);
  for (const key of [...url.searchParams.keys()]) if (DECIDED.includes(key.toLowerCase())) url.searchParams.delete(key);
  url.searchParams.set('uselibpqcompat', 'true');
  url.searchParams.set('sslmode', attempt === 'unverified' ? 'prefer' : attempt);
  // libpq: with a root certificate, require verifies the chain (as verify-ca); prefer and allow never verify.
  if (rootCert !== undefined && rootCert !== 'system' && attempt !== 'disable' && attempt !== 'unverified') {
    url.searchParams.set('sslrootcert', rootCert);
  }
  if (options !== '') url.searchParams.set('options', options);
  return url.toString();
}

/** True when libpq would try the next attempt after this failure (prefer: no TLS there; allow: TLS demanded). */
export function fallsBack(attempt: TlsAttempt, err: unknown): boolean {
  const message = (err as { message?: string } | null)?.message ?? '';
  const refusedByHba = (err as { code?: string }).code === '28000';
  // As libpq: prefer also drops TLS when pg_hba.conf refuses the encrypted connection ("..., SSL encryption").
  if (attempt === 'unverified') return /does not support SSL/i.test(message) || (refusedByHba && /SSL (encryption|on)/i.test(message));
  if (attempt === 'disable') return refusedByHba && /no encryption|SSL off/i.test(message);
  return false;
}

const CERT_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_SIGNATURE_FAILURE', 'CERT_REVOKED',
  'CERT_UNTRUSTED', 'CERT_REJECTED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH', 'INVALID_CA',
]);

/** What went wrong with TLS, in words; undefined when the failure was not about TLS. */
export function tlsFailure(err: unknown): { certificate: boolean; reason: string } | undefined {
  const code = (err as { code?: string } | null)?.code ?? '';
  // Not `instanceof Error`: errors made by Node's TLS layer may come from another realm (a test's VM).
  const message = (err as { message?: string } | null)?.message ?? String(err);
  if (CERT_CODES.has(code)) return { certificate: true, reason: message };
  if (/does not support SSL/i.test(message)) return { certificate: false, reason: 'the server does not accept TLS connections' };
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO' || /SSL routines/.test(message)) return { certificate: false, reason: message };
  return undefined;
}

function blankToUndefined(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v;
}
