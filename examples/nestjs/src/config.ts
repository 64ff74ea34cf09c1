import os from 'node:os';

/**
 * The service's configuration, read from the environment once, here. The database variables are
 * the ones sagactl reads (DATABASE_URL, else DB_HOST/DB_PORT/DB_USERNAME/DB_PASSWORD/DB_NAME), so
 * the service and the CLI that migrates and administers it point at the same database.
 */
export interface AppConfig {
  databaseUrl: string;
  redisUrl?: string;
  host: string;
  /** 0 picks a free port; main prints the one it got. */
  port: number;
  poolSize: number;
  leaseMs: number;
  recoveryEveryMs: number;
  recoveryOlderThanMs: number;
  /** The pattern control's mode for a request that names none. */
  defaultMode: 'orchestration' | 'choreography';
  /** Named in the operator audit of what this instance recovered. */
  instance: string;
}

export const APP_CONFIG = Symbol('APP_CONFIG');

/** A setting that is missing or wrong: main prints its message alone, no stack. */
export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const defaultMode = env.SAGA_DEFAULT_MODE ?? 'orchestration';
  if (defaultMode !== 'orchestration' && defaultMode !== 'choreography') {
    throw new ConfigError(`SAGA_DEFAULT_MODE must be orchestration or choreography, got "${defaultMode}".`);
  }
  return {
    databaseUrl: databaseUrl(env),
    redisUrl: env.REDIS_URL || undefined,
    host: env.HOST || '127.0.0.1',
    port: whole(env, 'PORT', 3000, 0, 65535),
    poolSize: whole(env, 'DB_POOL_SIZE', 10, 1, 200),
    leaseMs: whole(env, 'SAGA_LEASE_MS', 30_000, 1000, 86_400_000),
    recoveryEveryMs: whole(env, 'RECOVERY_EVERY_MS', 5000, 100, 3_600_000),
    recoveryOlderThanMs: whole(env, 'RECOVERY_OLDER_THAN_MS', 60_000, 1000, 86_400_000),
    defaultMode,
    instance: env.INSTANCE_NAME || `${os.hostname()}:${process.pid}`,
  };
}

function databaseUrl(env: NodeJS.ProcessEnv): string {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  if (!env.DB_HOST) {
    throw new ConfigError('Set DATABASE_URL (or DB_HOST, DB_PORT, DB_USERNAME, DB_PASSWORD, DB_NAME). '
      + 'For the embedded server: DATABASE_URL="$(npx sagactl db start)".');
  }
  const url = new URL('postgres://localhost');
  url.hostname = env.DB_HOST;
  url.port = env.DB_PORT ?? '5432';
  url.username = encodeURIComponent(env.DB_USERNAME ?? 'postgres');
  url.password = encodeURIComponent(env.DB_PASSWORD ?? '');
  url.pathname = `/${encodeURIComponent(env.DB_NAME ?? 'saga_pattern')}`;
  return url.toString();
}

function whole(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}".`);
  return n;
}
