import { Client } from 'pg';

/** The same server, another database: every benchmark works in a database of its own. */
export function urlFor(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

/** One statement on the server's `postgres` database (CREATE/DROP DATABASE). */
export async function admin(base: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: urlFor(base, 'postgres'), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
