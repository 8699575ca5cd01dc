import { audit, type AuditActor, type RequestMeta } from "../audit/audit.service.ts";
import type { Database, Tx } from "../platform/db/database.ts";
import { AppError, notFound } from "../platform/http/errors.ts";
import { curveProblem, type LevelCurve } from "../progression/levels.ts";
import { compileCondition, ConditionError } from "./conditions.ts";
import {
  LEVEL_CURVE_SETTING,
  toRuleDef,
  type AwardSpec,
  type CapSpec,
  type CounterSpec,
  type Definitions,
  type EventTypeRow,
  type RuleRow,
} from "./definitions.ts";

export interface EventTypeInput {
  key: string;
  description?: string | null;
  dataSchema?: Record<string, unknown>;
  clientWritable?: boolean;
  clientDailyCap?: number | null;
  active?: boolean;
}

export interface RuleInput {
  key: string;
  name: string;
  description?: string | null;
  eventType: string;
  condition?: Record<string, unknown> | null;
  awards?: AwardSpec[];
  counters?: CounterSpec[];
  caps?: CapSpec[];
  priority?: number;
  active?: boolean;
}

export const eventTypeView = (t: EventTypeRow) => ({
  key: t.key,
  description: t.description,
  dataSchema: t.data_schema,
  clientWritable: t.client_writable,
  clientDailyCap: t.client_daily_cap,
  system: t.system,
  active: t.active,
  createdAt: t.created_at.toISOString(),
  updatedAt: t.updated_at.toISOString(),
});

export const ruleView = (r: RuleRow) => ({
  id: r.id,
  key: r.key,
  name: r.name,
  description: r.description,
  eventType: r.event_type,
  condition: r.condition,
  awards: r.awards,
  counters: r.counters,
  caps: r.caps,
  priority: r.priority,
  active: r.active,
  version: r.version,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

const invalid = (message: string, path: string) =>
  new AppError("definition.invalid", message, { errors: [{ path, message }] });

export interface CurrencyRow {
  code: string;
  name: string;
  description: string | null;
  allow_negative: boolean;
  max_balance: number | null;
}

/**
 * Admin management of event types, rules, currencies and the level curve. Everything is checked
 * when saved (schemas compile, conditions compile, currencies exist), so a bad definition is
 * refused with its reason instead of failing events later. Every change is audited and announced.
 */
export class DefinitionsService {
  constructor(
    private readonly db: Database,
    private readonly definitions: Definitions,
  ) {}

  listEventTypes() {
    return this.db.asSystem(async (tx) =>
      (await tx.rows<EventTypeRow>(`SELECT * FROM event_types ORDER BY key`)).map(eventTypeView),
    );
  }

  async saveEventType(
    actor: AuditActor,
    meta: RequestMeta,
    input: EventTypeInput,
    mode: "create" | "update",
  ) {
    if (input.dataSchema !== undefined) {
      try {
        this.definitions.compileDataSchema(input.dataSchema);
      } catch (error) {
        throw invalid(
          `dataSchema is not a usable JSON Schema: ${(error as Error).message}`,
          "body/dataSchema",
        );
      }
    }
    return this.change(actor, meta, async (tx) => {
      const existing = await tx.maybeOne<EventTypeRow>(
        `SELECT * FROM event_types WHERE key = $1 FOR UPDATE`,
        [input.key],
      );
      if (mode === "create" && existing !== undefined)
        throw new AppError("definition.exists", `Event type ${input.key} exists`);
      if (mode === "update" && existing === undefined) throw notFound("Event type");
      if (existing?.system === true) throw invalid("System event types cannot be changed", "params/key");
      const row = await tx.one<EventTypeRow>(
        `INSERT INTO event_types (key, description, data_schema, client_writable, client_daily_cap, active)
         VALUES ($1, $2, coalesce($3, '{"type": "object"}'::jsonb), coalesce($4, false), $5, coalesce($6, true))
         ON CONFLICT (key) DO UPDATE SET
           description = CASE WHEN $7 THEN EXCLUDED.description ELSE event_types.description END,
           data_schema = coalesce($3, event_types.data_schema),
           client_writable = coalesce($4, event_types.client_writable),
           client_daily_cap = CASE WHEN $8 THEN EXCLUDED.client_daily_cap ELSE event_types.client_daily_cap END,
           active = coalesce($6, event_types.active),
           updated_at = now()
         RETURNING *`,
        [
          input.key,
          input.description ?? null,
          input.dataSchema ?? null,
          input.clientWritable ?? null,
          input.clientDailyCap ?? null,
          input.active ?? null,
          input.description !== undefined,
          input.clientDailyCap !== undefined,
        ],
      );
      const view = eventTypeView(row);
      return {
        result: view,
        audit: {
          action: `event_type.${mode}d`,
          resourceType: "event_type",
          resourceId: input.key,
          before: existing && eventTypeView(existing),
          after: view,
        },
      };
    });
  }

  listRules(filter: { eventType?: string }) {
    return this.db.asSystem(async (tx) =>
      (
        await tx.rows<RuleRow>(
          `SELECT * FROM rules WHERE ($1::text IS NULL OR event_type = $1) ORDER BY event_type, priority DESC, key`,
          [filter.eventType ?? null],
        )
      ).map(ruleView),
    );
  }

  async getRule(id: string) {
    const row = await this.db.asSystem((tx) =>
      tx.maybeOne<RuleRow>(`SELECT * FROM rules WHERE id = $1`, [id]),
    );
    if (row === undefined) throw notFound("Rule");
    return ruleView(row);
  }

  async ruleVersions(id: string) {
    await this.getRule(id); // 404 for unknown rules
    return this.db.asSystem((tx) =>
      tx.rows<{
        version: number;
        definition: Record<string, unknown>;
        changed_by: string | null;
        changed_at: Date;
      }>(
        `SELECT version, definition, changed_by, changed_at FROM rule_versions WHERE rule_id = $1 ORDER BY version DESC`,
        [id],
      ),
    );
  }

  async createRule(actor: AuditActor, meta: RequestMeta, input: RuleInput) {
    return this.change(actor, meta, async (tx) => {
      await this.checkRule(tx, input);
      if (await tx.maybeOne(`SELECT 1 FROM rules WHERE key = $1`, [input.key])) {
        throw new AppError("definition.exists", `A rule with key ${input.key} exists`);
      }
      const row = await tx.one<RuleRow>(
        `INSERT INTO rules (key, name, description, event_type, condition, awards, counters, caps, priority, active)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *`,
        [
          input.key,
          input.name,
          input.description ?? null,
          input.eventType,
          input.condition ?? null,
          JSON.stringify(input.awards ?? []),
          JSON.stringify(input.counters ?? []),
          JSON.stringify(input.caps ?? []),
          input.priority ?? 0,
          input.active ?? true,
        ],
      );
      await this.recordVersion(tx, row, actor);
      return {
        result: ruleView(row),
        audit: { action: "rule.created", resourceType: "rule", resourceId: row.id, after: ruleView(row) },
      };
    });
  }

  async updateRule(actor: AuditActor, meta: RequestMeta, id: string, changes: Partial<RuleInput>) {
    return this.change(actor, meta, async (tx) => {
      const before = await tx.maybeOne<RuleRow>(`SELECT * FROM rules WHERE id = $1 FOR UPDATE`, [id]);
      if (before === undefined) throw notFound("Rule");
      const next: RuleInput = { ...ruleView(before), ...changes };
      await this.checkRule(tx, next);
      if (next.key !== before.key && (await tx.maybeOne(`SELECT 1 FROM rules WHERE key = $1`, [next.key]))) {
        throw new AppError("definition.exists", `A rule with key ${next.key} exists`);
      }
      const row = await tx.one<RuleRow>(
        `UPDATE rules SET key = $2, name = $3, description = $4, event_type = $5, condition = $6, awards = $7,
           counters = $8, caps = $9, priority = $10, active = $11, version = version + 1, updated_at = now()
         WHERE id = $1 RETURNING *`,
        [
          id,
          next.key,
          next.name,
          next.description ?? null,
          next.eventType,
          next.condition ?? null,
          JSON.stringify(next.awards ?? []),
          JSON.stringify(next.counters ?? []),
          JSON.stringify(next.caps ?? []),
          next.priority ?? 0,
          next.active ?? true,
        ],
      );
      await this.recordVersion(tx, row, actor);
      return {
        result: ruleView(row),
        audit: {
          action: "rule.updated",
          resourceType: "rule",
          resourceId: id,
          before: ruleView(before),
          after: ruleView(row),
        },
      };
    });
  }

  /** Rules are deactivated, not deleted: past ledger entries name them. */
  async deactivateRule(actor: AuditActor, meta: RequestMeta, id: string) {
    return this.updateRule(actor, meta, id, { active: false });
  }

  listCurrencies() {
    return this.db.asSystem((tx) =>
      tx.rows<CurrencyRow>(
        `SELECT code, name, description, allow_negative, max_balance FROM currencies ORDER BY code`,
      ),
    );
  }

  async createCurrency(
    actor: AuditActor,
    meta: RequestMeta,
    input: { code: string; name: string; description?: string; allowNegative?: boolean; maxBalance?: number },
  ) {
    return this.change(actor, meta, async (tx) => {
      const row = await tx.maybeOne<CurrencyRow>(
        `INSERT INTO currencies (code, name, description, allow_negative, max_balance) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (code) DO NOTHING RETURNING code, name, description, allow_negative, max_balance`,
        [
          input.code,
          input.name,
          input.description ?? null,
          input.allowNegative ?? false,
          input.maxBalance ?? null,
        ],
      );
      if (row === undefined) throw new AppError("definition.exists", `Currency ${input.code} exists`);
      return {
        result: row,
        audit: { action: "currency.created", resourceType: "currency", resourceId: input.code, after: row },
      };
    });
  }

  async levelCurve(): Promise<LevelCurve> {
    return (await this.definitions.snapshot()).curve;
  }

  async setLevelCurve(actor: AuditActor, meta: RequestMeta, curve: LevelCurve) {
    const problem = curveProblem(curve);
    if (problem !== undefined) throw invalid(problem, "body");
    const before = await this.levelCurve();
    return this.change(actor, meta, async (tx) => {
      await tx.exec(
        `INSERT INTO settings (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
        [LEVEL_CURVE_SETTING, JSON.stringify(curve)],
      );
      return {
        result: curve,
        audit: {
          action: "level_curve.updated",
          resourceType: "settings",
          resourceId: LEVEL_CURVE_SETTING,
          before,
          after: curve,
        },
      };
    });
  }

  private async checkRule(tx: Tx, input: RuleInput): Promise<void> {
    try {
      compileCondition(input.condition ?? null);
    } catch (error) {
      if (error instanceof ConditionError) throw invalid(`condition: ${error.message}`, "body/condition");
      throw error;
    }
    const type = await tx.maybeOne<{ system: boolean }>(`SELECT system FROM event_types WHERE key = $1`, [
      input.eventType,
    ]);
    if (type === undefined) throw invalid(`Unknown event type ${input.eventType}`, "body/eventType");
    const currencies = new Set(
      (await tx.rows<{ code: string }>(`SELECT code FROM currencies`)).map((c) => c.code),
    );
    (input.awards ?? []).forEach((a, i) => {
      if (!currencies.has(a.currency))
        throw invalid(`Unknown currency ${a.currency}`, `body/awards/${i}/currency`);
      if ((a.amount === undefined) === (a.field === undefined)) {
        throw invalid("An award needs exactly one of amount and field", `body/awards/${i}`);
      }
    });
    (input.caps ?? []).forEach((c, i) => {
      if (!currencies.has(c.currency))
        throw invalid(`Unknown currency ${c.currency}`, `body/caps/${i}/currency`);
    });
    (input.counters ?? []).forEach((c, i) => {
      if (c.amount !== undefined && c.field !== undefined) {
        throw invalid("A counter takes amount or field, not both", `body/counters/${i}`);
      }
    });
    // The same checks the engine's cache will make when it loads the rule.
    toRuleDef({
      ...(input as unknown as RuleRow),
      event_type: input.eventType,
      condition: input.condition ?? null,
    });
  }

  private async recordVersion(tx: Tx, row: RuleRow, actor: AuditActor): Promise<void> {
    await tx.exec(
      `INSERT INTO rule_versions (rule_id, version, definition, changed_by) VALUES ($1, $2, $3, $4)`,
      [row.id, row.version, ruleView(row), actor.type === "system" ? null : actor.id],
    );
  }

  /** Runs a definition change with its audit entry and cache announcement, then drops the local cache. */
  private async change<T>(
    actor: AuditActor,
    meta: RequestMeta,
    fn: (tx: Tx) => Promise<{
      result: T;
      audit: { action: string; resourceType: string; resourceId: string; before?: unknown; after?: unknown };
    }>,
  ): Promise<T> {
    const result = await this.db.asSystem(async (tx) => {
      const { result, audit: entry } = await fn(tx);
      await audit(tx, actor, meta, { ...entry, subjectUserId: null });
      await this.definitions.announce(tx);
      return result;
    });
    this.definitions.invalidate();
    return result;
  }
}
