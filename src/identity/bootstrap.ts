import { SYSTEM_META } from "../audit/audit.service.ts";
import type { Database } from "../platform/db/database.ts";
import { AppError } from "../platform/http/errors.ts";
import type { AuthService } from "./auth.service.ts";
import { findUserByLogin } from "./users.store.ts";

/** Whether creating the account failed because one with that email (or username) now exists. */
function raced(error: unknown): boolean {
  if (error instanceof AppError) return error.code === "user.email_taken";
  // A unique violation: another instance inserted between the check and the insert.
  return (error as { code?: unknown }).code === "23505";
}

/**
 * Makes sure the configured first admin exists. An existing account with that email is left as it
 * is (its password is not reset), so restarting with the same variables is harmless, and so is
 * starting several instances at once: the one that loses the race finds the account made by the
 * other and answers "exists".
 */
export async function ensureAdmin(
  db: Database,
  auth: AuthService,
  admin: { email: string; password: string; username: string },
): Promise<"created" | "exists"> {
  const exists = async () => (await db.asSystem((tx) => findUserByLogin(tx, admin.email))) !== undefined;
  if (await exists()) return "exists";
  try {
    await auth.createUser(
      {
        email: admin.email,
        username: admin.username,
        password: admin.password,
        displayName: "Administrator",
      },
      "admin",
      SYSTEM_META,
    );
  } catch (error) {
    if (raced(error) && (await exists())) return "exists";
    throw error;
  }
  return "created";
}
