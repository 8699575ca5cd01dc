import { randomToken } from "./crypto.ts";
import type { Database } from "./db/database.ts";

/**
 * The token-signing secret: LUDUS_JWT_SECRET when set, otherwise one generated on first start and
 * kept in the database, so every instance on that database signs and checks with the same key.
 */
export async function resolveJwtSecret(db: Database, configured: string | undefined): Promise<string> {
  if (configured !== undefined) return configured;
  return db.asSystem(async (tx) => {
    await tx.exec(
      `INSERT INTO settings (key, value) VALUES ('jwt_secret', $1) ON CONFLICT (key) DO NOTHING`,
      [randomToken(48)],
    );
    const row = await tx.one<{ value: string }>(`SELECT value FROM settings WHERE key = 'jwt_secret'`);
    return row.value;
  });
}
