import { spawn } from 'node:child_process';
import { Client } from 'pg';
import { BIN, ROOT, runBin, runMain } from '../support/cli';
import { canCreateCluster, Cluster, createCluster } from '../support/cluster';
import { serverUrl, urlFor } from '../support/database';

/**
 * Faults that need a server of the test's own (never the shared one): TLS with libpq's sslmode
 * meanings against a self-signed certificate, a restart in the middle of a load, and a server
 * whose connections are all taken. One cluster for the file; dropped at the end.
 */
const maybe = canCreateCluster() ? describe : describe.skip;

maybe('a cluster of our own', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await createCluster({
      maxConnections: 24,
      // tlsonly may connect only over TLS; plainonly only without it.
      hba: ['hostssl all tlsonly 127.0.0.1/32 trust', 'host all tlsonly 127.0.0.1/32 reject',
        'hostnossl all plainonly 127.0.0.1/32 trust', 'host all plainonly 127.0.0.1/32 reject'],
    });
    c.psql('CREATE ROLE tlsonly LOGIN; CREATE ROLE plainonly LOGIN; CREATE ROLE filler LOGIN');
    const env = { DATABASE_URL: c.url() };
    for (const argv of [['migrate', 'up'], ['seed', 'fixtures'],
      ['seed', 'generate', '--users', '40', '--items', '4', '--balance', '99999999.99', '--stock', '10000000']]) {
      expect((await runMain(argv, env)).code).toBe(0);
    }
    c.psql('GRANT SELECT ON sagactl_migrations TO tlsonly, plainonly');
  }, 60_000);
  afterAll(() => c?.drop());

  describe('sslmode as libpq means it', () => {
    const status = (url: string) => runMain(['migrate', 'status', '--json'], { DATABASE_URL: url });

    test.each([
      ['require encrypts without checking the self-signed certificate', 'tlsonly', { sslmode: 'require' }],
      ['prefer (the default) uses TLS when the server has it', 'tlsonly', {}],
      ['prefer falls back to a plain connection when TLS is refused', 'plainonly', { sslmode: 'prefer' }],
      ['allow starts plain and takes TLS when the server demands it', 'tlsonly', { sslmode: 'allow' }],
      ['disable is plain', 'plainonly', { sslmode: 'disable' }],
      ['verify-ca checks the chain against sslrootcert, not the name', 'tlsonly', { sslmode: 'verify-ca', sslrootcert: 'CERT' }],
    ] as [string, string, Record<string, string>][])('%s', async (_name, user, params) => {
      const r = await status(c.url(user, Object.fromEntries(Object.entries(params).map(([k, v]) => [k, v === 'CERT' ? c.cert : v]))));
      expect([r.code, r.code === 0 ? '' : r.stderr]).toEqual([0, '']);
    });

    test('verify-full checks the name too: localhost passes, 127.0.0.1 is refused as a certificate error', async () => {
      const ok = await status(c.url('tlsonly', { sslmode: 'verify-full', sslrootcert: c.cert }, 'localhost'));
      expect([ok.code, ok.code === 0 ? '' : ok.stderr]).toEqual([0, '']);
      const r = await status(c.url('tlsonly', { sslmode: 'verify-full', sslrootcert: c.cert }));
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/TLS: the server's certificate at .* was refused: Hostname\/IP does not match certificate's altnames/);
      expect(r.stderr).not.toMatch(/Is the server running/);
    });

    test.each([
      ['verify-full with the system\'s CAs refuses a self-signed certificate', { sslmode: 'verify-full' }, /certificate .* was refused: self.signed certificate/],
      ['verify-ca with another CA refuses it', { sslmode: 'verify-ca', sslrootcert: 'OTHER' }, /certificate .* was refused/],
    ] as [string, Record<string, string>, RegExp][])('%s', async (_name, params, message) => {
      const r = await status(c.url('tlsonly', Object.fromEntries(Object.entries(params).map(([k, v]) => [k, v === 'OTHER' ? c.otherCa : v]))));
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/Is the server running/);
    });

    test('disable where only TLS is allowed, and require where the server has no TLS, say which', async () => {
      const plain = await status(c.url('tlsonly', { sslmode: 'disable' }));
      expect([plain.code, plain.stderr]).toEqual([4, expect.stringMatching(/no encryption/)]);
      const shared = new URL(urlFor('postgres', serverUrl()));
      shared.searchParams.set('sslmode', 'require');
      const r = await status(shared.toString());
      expect([r.code, r.stderr]).toEqual([4, expect.stringContaining('TLS: cannot set up an encrypted connection')]);
      expect(r.stderr).toContain('does not accept TLS connections');
    });
  });

  const inFlight = async () => Number(c.psql(`SELECT count(*) FROM saga_states WHERE status NOT IN ('completed', 'failed', 'compensated', 'compensation_failed')`));
  const sagas = async () => Number(c.psql('SELECT count(*) FROM saga_states'));

  test('a restart in the middle of saga load: it waits for the server, every purchase reaches a final status, nothing in flight, money reconciles', async () => {
    const before = await sagas();
    const child = spawn(process.execPath, [BIN, 'saga', 'load', '--count', '1500', '--concurrency', '16', '--json'],
      { cwd: ROOT, env: { ...process.env, DATABASE_URL: c.url(), NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const deadline = Date.now() + 20_000;
    while (await sagas() - before < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    c.restart();
    const code = await exited;
    expect([code, code === 0 ? '' : stderr]).toEqual([0, '']);
    const result = JSON.parse(stdout);
    expect(result.completed + result.failed + result.compensated + result.compensationFailed).toBe(1500);
    expect(result.unfinished).toBe(0);
    expect(await inFlight()).toBe(0);
    expect((await runMain(['db', 'check'], { DATABASE_URL: c.url() })).code).toBe(0);
  });

  test('with every connection taken, steps wait and retry: all purchases settle, none left in flight', async () => {
    const fillers: Client[] = [];
    try {
      // Fill every slot but the superusers' reserved ones; the tool runs as a superuser on those few.
      for (;;) {
        const f = new Client({ connectionString: c.url('filler'), connectionTimeoutMillis: 2000 });
        f.on('error', () => undefined);
        try {
          await f.connect();
          fillers.push(f);
        } catch (err) {
          expect((err as { code?: string }).code).toBe('53300');
          break;
        }
      }
      expect(fillers.length).toBeGreaterThan(10);
      const r = await runBin(['saga', 'load', '--count', '400', '--concurrency', '16', '--pool', '8', '--json'], { DATABASE_URL: c.url() });
      expect([r.code, r.code === 0 ? '' : r.stderr]).toEqual([0, '']);
      expect(JSON.parse(r.stdout).unfinished).toBe(0);
      expect(await inFlight()).toBe(0);
    } finally {
      await Promise.all(fillers.map((f) => f.end().catch(() => undefined)));
    }
  });
});
