import { audit, type AuditActor, type RequestMeta } from "../audit/audit.service.ts";
import type { Database, Tx } from "../platform/db/database.ts";
import { AppError, notFound } from "../platform/http/errors.ts";
import { compileCondition, ConditionError } from "./conditions.ts";
import type { Definitions } from "./definitions.ts";

/** A definition table addressed by key (achievements, streaks, quest templates, pools). */
export interface KeyedTable<Row, View> {
  table: string;
  /** Audit resource type and the first word of audit actions ("streak" → streak.created). */
  resource: string;
  /** How the API names one, in messages. */
  label: string;
  view: (row: Row) => View;
  /** Values of the optional fields when a definition is created without them. */
  defaults: Partial<View>;
  /** The row's columns for a complete definition; identifiers come from code, never from input. */
  columns: (definition: View) => Record<string, unknown>;
  /**
   * Checks a complete definition (the stored one with the changes applied, given with the stored
   * one on update) before it is saved.
   */
  check: (tx: Tx, definition: View, stored: View | undefined) => Promise<void>;
}

export const invalid = (message: string, path: string) =>
  new AppError("definition.invalid", message, { errors: [{ path, message }] });

/** Rejects a condition that would not compile, saying why. */
export function checkCondition(condition: unknown, path = "body/condition"): void {
  try {
    compileCondition(condition ?? null);
  } catch (error) {
    if (error instanceof ConditionError) throw invalid(`condition: ${error.message}`, path);
    throw error;
  }
}

/** Rejects rewards (or anything naming currencies) in currencies that do not exist. */
export async function checkCurrencies(tx: Tx, items: { currency: string }[], path: string): Promise<void> {
  const known = new Set((await tx.rows<{ code: string }>(`SELECT code FROM currencies`)).map((c) => c.code));
  items.forEach((item, i) => {
    if (!known.has(item.currency))
      throw invalid(`Unknown currency ${item.currency}`, `${path}/${i}/currency`);
  });
}

/** Rejects a window that ends before it starts. */
export function checkWindow(startsAt: string | null, endsAt: string | null): void {
  if (startsAt !== null && endsAt !== null && Date.parse(endsAt) <= Date.parse(startsAt)) {
    throw invalid("endsAt must be after startsAt", "body/endsAt");
  }
}

/** Rejects event types that do not exist. */
export async function checkEventTypes(tx: Tx, types: string[], path: string): Promise<void> {
  const known = new Set(
    (await tx.rows<{ key: string }>(`SELECT key FROM event_types WHERE key = ANY($1::text[])`, [types])).map(
      (t) => t.key,
    ),
  );
  types.forEach((t, i) => {
    if (!known.has(t)) throw invalid(`Unknown event type ${t}`, `${path}/${i}`);
  });
}

/**
 * Creates a definition, or changes the given fields of an existing one (mode "update"): checked
 * as a whole, audited with before and after, and announced so every instance reloads its cache.
 */
export async function saveKeyed<Row extends { key: string }, View extends { key: string }>(
  db: Database,
  definitions: Definitions,
  spec: KeyedTable<Row, View>,
  who: { actor: AuditActor; meta: RequestMeta },
  input: Partial<View> & { key: string },
  mode: "create" | "update",
): Promise<View> {
  const result = await db.asSystem(async (tx) => {
    const existing = await tx.maybeOne<Row>(`SELECT * FROM ${spec.table} WHERE key = $1 FOR UPDATE`, [
      input.key,
    ]);
    if (mode === "create" && existing !== undefined) {
      throw new AppError("definition.exists", `${spec.label} ${input.key} exists`);
    }
    if (mode === "update" && existing === undefined) throw notFound(spec.label);
    const merged = {
      ...spec.defaults,
      ...(existing === undefined ? {} : spec.view(existing)),
      ...input,
    } as View;
    await spec.check(tx, merged, existing === undefined ? undefined : spec.view(existing));
    const columns = spec.columns(merged);
    const names = Object.keys(columns);
    // A create races other creates of the key: the insert decides, and the losers get 409. An
    // update holds the row's lock from the SELECT above.
    const row =
      mode === "create"
        ? await tx.maybeOne<Row>(
            `INSERT INTO ${spec.table} (${names.join(", ")})
             VALUES (${names.map((_, i) => `$${i + 1}`).join(", ")})
             ON CONFLICT (key) DO NOTHING RETURNING *`,
            Object.values(columns),
          )
        : await tx.one<Row>(
            `UPDATE ${spec.table} SET ${names.map((n, i) => `${n} = $${i + 1}`).join(", ")}, updated_at = now()
             WHERE key = $${names.length + 1} RETURNING *`,
            [...Object.values(columns), input.key],
          );
    if (row === undefined) throw new AppError("definition.exists", `${spec.label} ${input.key} exists`);
    await audit(tx, who.actor, who.meta, {
      action: `${spec.resource}.${mode}d`,
      resourceType: spec.resource,
      resourceId: row.key,
      subjectUserId: null,
      before: existing && spec.view(existing),
      after: spec.view(row),
    });
    await definitions.announce(tx);
    return spec.view(row);
  });
  definitions.invalidate();
  return result;
}
