import pg from "pg";

/** Set by scripts/run-tests.ts: a server URL with rights to create databases, and the migrated template. */
export function testServer(): { url: string; template: string } {
  const url = process.env.LUDUS_TEST_SERVER_URL;
  const template = process.env.LUDUS_TEST_TEMPLATE;
  if (url === undefined || template === undefined) {
    throw new Error(
      "Run database tests through `npm test` (scripts/run-tests.ts), which prepares PostgreSQL",
    );
  }
  return { url, template };
}

export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const quote = (name: string) => pg.Client.prototype.escapeIdentifier(name);

/** A fresh database cloned from the migrated template: one per test file, so files never share rows. */
export async function cloneTemplate(name: string): Promise<{ url: string; drop(): Promise<void> }> {
  const { url, template } = testServer();
  await withClient(url, async (client) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE ${quote(name)} TEMPLATE ${quote(template)}`);
        return;
      } catch (error) {
        // 55006: the template is briefly in use by a concurrent clone; try again shortly.
        if ((error as { code?: string }).code !== "55006" || attempt >= 20) throw error;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  });
  return {
    url: databaseUrl(url, name),
    drop: () =>
      withClient(url, async (client) => {
        // Connections a test's pools have just closed end on the server a moment later. FORCE would
        // terminate one still closing, and the error it then gets has no listener left (an uncaught
        // exception failing the file): wait for them first, a few seconds at most.
        for (let waited = 0; waited < 5000; waited += 50) {
          const open = await client.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1`,
            [name],
          );
          if ((open.rows[0]?.n ?? 0) === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        await client.query(`DROP DATABASE IF EXISTS ${quote(name)} WITH (FORCE)`);
      }),
  };
}
