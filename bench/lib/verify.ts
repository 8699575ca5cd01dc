/**
 * What `ludus verify` runs (verifyBooks), on a pool of its own as the runtime role — but with
 * custom plans: under the runtime pool's forced generic plans, verifyBooks's
 * "$1 IS NULL OR user_id = ANY($1)" filters read the whole ledger for every 500 players, which
 * took minutes here (see bench/README.md).
 */
import pg from "pg";
import { verifyBooks } from "../../src/economy/verify.ts";
import { Definitions } from "../../src/engine/definitions.ts";
import { Database, RUNTIME_ROLE } from "../../src/platform/db/database.ts";
import type { Ludus } from "./ludus.ts";

export async function verifyWithCustomPlans(ludus: Ludus): Promise<Awaited<ReturnType<typeof verifyBooks>>> {
  const db = new Database(
    new pg.Pool({
      connectionString: ludus.adminUrl,
      max: 2,
      options: `-c role=${RUNTIME_ROLE} -c plan_cache_mode=force_custom_plan`,
      application_name: "ludus-bench-verify",
    }),
    ludus.logger,
  );
  try {
    return await verifyBooks(db, new Definitions(db, ludus.logger));
  } finally {
    await db.close();
  }
}
