import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * A PostgreSQL cluster a test owns (Debian's pg_createcluster, as root), for faults that stop,
 * restart or fill a server: never the shared one on 5432. It listens on 127.0.0.1 only, with TLS
 * on under a self-signed certificate for `localhost` made here, and is dropped by drop().
 */
export interface Cluster {
  name: string;
  port: number;
  /** The server's certificate (self-signed: its own CA) and another CA's, for refusals. */
  cert: string;
  otherCa: string;
  url(user?: string, params?: Record<string, string>, host?: string): string;
  psql(sql: string): string;
  restart(): void;
  drop(): void;
}

const VERSION = '15';

export function canCreateCluster(): boolean {
  return process.getuid?.() === 0 && fs.existsSync('/usr/bin/pg_createcluster') && fs.existsSync(`/usr/lib/postgresql/${VERSION}/bin/initdb`)
    && fs.existsSync('/usr/bin/openssl');
}

async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + crypto.randomInt(20_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer().once('error', () => resolve(false)).listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost', '-keyout', key, '-out', cert]);
  return { cert, key };
}

export async function createCluster(opts: { maxConnections?: number; hba?: string[] } = {}): Promise<Cluster> {
  const name = `sagactl_t_${crypto.randomBytes(3).toString('hex')}`;
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-cluster-'));
  fs.chmodSync(dir, 0o755);
  const server = selfSigned(dir, 'server');
  const other = selfSigned(dir, 'other-ca');
  run('chown', ['postgres:postgres', server.key, server.cert]);
  fs.chmodSync(server.key, 0o600);
  run('pg_createcluster', [VERSION, name, '-p', String(port), '--', '--auth=trust']);
  const conf = `/etc/postgresql/${VERSION}/${name}`;
  fs.writeFileSync(`${conf}/conf.d/sagactl-test.conf`, [
    `listen_addresses = '127.0.0.1'`, 'ssl = on', `ssl_cert_file = '${server.cert}'`, `ssl_key_file = '${server.key}'`,
    `max_connections = ${opts.maxConnections ?? 40}`, 'superuser_reserved_connections = 3', 'fsync = off', 'synchronous_commit = off',
    'full_page_writes = off', 'shared_buffers = 32MB'].join('\n') + '\n');
  const hba = fs.readFileSync(`${conf}/pg_hba.conf`, 'utf8');
  fs.writeFileSync(`${conf}/pg_hba.conf`, [...(opts.hba ?? []), hba].join('\n'));
  run('pg_ctlcluster', [VERSION, name, 'start']);
  const cluster: Cluster = {
    name,
    port,
    cert: server.cert,
    otherCa: other.cert,
    url(user = 'postgres', params = {}, host = '127.0.0.1') {
      const u = new URL(`postgres://${user}@${host}:${port}/postgres`);
      for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
      return u.toString();
    },
    psql: (sql) => run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-qAtc', sql]),
    restart: () => void run('pg_ctlcluster', [VERSION, name, 'restart', '-m', 'fast']),
    drop() {
      try {
        run('pg_dropcluster', [VERSION, name, '--stop']);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  return cluster;
}
