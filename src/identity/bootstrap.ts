import { SYSTEM_META } from "../audit/audit.service.ts";
import type { Database } from "../platform/db/database.ts";
import type { AuthService } from "./auth.service.ts";
import { findUserByLogin } from "./users.store.ts";

/**
 * Makes sure the configured first admin exists. An existing account with that email is left as it
 * is (its password is not reset), so restarting with the same variables is harmless.
 */
export async function ensureAdmin(
  db: Database,
  auth: AuthService,
  admin: { email: string; password: string; username: string },
): Promise<"created" | "exists"> {
  const existing = await db.asSystem((tx) => findUserByLogin(tx, admin.email));
  if (existing !== undefined) return "exists";
  await auth.createUser(
    { email: admin.email, username: admin.username, password: admin.password, displayName: "Administrator" },
    "admin",
    SYSTEM_META,
  );
  return "created";
}
