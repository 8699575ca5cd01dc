import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SYSTEM_META } from "../audit/audit.service.ts";
import type { AchievementInput, AchievementsService } from "../achievements/achievements.service.ts";
import type { DefinitionsService, EventTypeInput, RuleInput } from "../engine/definitions.service.ts";
import type { GiftInput, GiftsService } from "../economy/gifts.service.ts";
import type { ShopItemInput } from "../economy/shop-items.ts";
import type { ShopService } from "../economy/shop.service.ts";
import type { PoolDef } from "../engine/definitions.ts";
import type { Database, Tx } from "../platform/db/database.ts";
import type { LeaderboardInput, LeaderboardsService } from "../leaderboards/leaderboards.service.ts";
import type { QuestInput, QuestsService } from "../quests/quests.service.ts";
import type { StreakInput, StreaksService } from "../streaks/streaks.service.ts";

export const CONTENT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../content");

export interface ContentPack {
  name: string;
  version: number;
  description?: string;
  /** Packs whose definitions this one names; they are loaded first. */
  requires?: string[];
  currencies?: {
    code: string;
    name: string;
    description?: string;
    allowNegative?: boolean;
    maxBalance?: number;
  }[];
  eventTypes?: EventTypeInput[];
  rules?: RuleInput[];
  achievements?: AchievementInput[];
  streaks?: StreakInput[];
  questPools?: PoolDef[];
  quests?: QuestInput[];
  leaderboards?: LeaderboardInput[];
  /** Shop items (by key), then one-time gifts, which may give items. */
  shopItems?: ShopItemInput[];
  gifts?: GiftInput[];
}

// Table names come from the code below, never from input.
async function keys(tx: Tx, table: string): Promise<Set<string>> {
  return new Set((await tx.rows<{ key: string }>(`SELECT key FROM ${table}`)).map((r) => r.key));
}

/** The packs in a directory, each after the packs it requires (otherwise by name). */
export async function readPacks(dir = CONTENT_DIR): Promise<ContentPack[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".json")).sort();
  const packs = await Promise.all(
    files.map(async (f) => JSON.parse(await readFile(path.join(dir, f), "utf8")) as ContentPack),
  );
  const byName = new Map(packs.map((p) => [p.name, p]));
  const ordered: ContentPack[] = [];
  const visit = (pack: ContentPack, path: string[]) => {
    if (ordered.includes(pack)) return;
    if (path.includes(pack.name)) throw new Error(`content packs require each other: ${path.join(" → ")}`);
    for (const name of pack.requires ?? []) {
      const required = byName.get(name);
      if (required === undefined) throw new Error(`content pack ${pack.name} requires missing pack ${name}`);
      visit(required, [...path, pack.name]);
    }
    ordered.push(pack);
  };
  for (const pack of packs) visit(pack, []);
  return ordered;
}

export interface LoadReport {
  pack: string;
  created: number;
  skipped: number;
}

/**
 * Loads a pack's definitions through the same checked, audited path as the admin API. Definitions
 * that already exist are left alone (an operator may have tuned them), so loading twice is harmless.
 */
/** The services content is loaded through: the same checked, audited paths as the admin API. */
export interface ContentServices {
  definitionsService: DefinitionsService;
  achievements: AchievementsService;
  streaks: StreaksService;
  quests: QuestsService;
  leaderboards: LeaderboardsService;
  shop: ShopService;
  gifts: GiftsService;
}

export async function loadPack(
  db: Database,
  services: ContentServices,
  pack: ContentPack,
): Promise<LoadReport> {
  const service = services.definitionsService;
  const actor = { type: "system" } as const;
  const existing = await db.asSystem(async (tx) => ({
    currencies: new Set((await tx.rows<{ code: string }>(`SELECT code FROM currencies`)).map((r) => r.code)),
    types: new Set((await tx.rows<{ key: string }>(`SELECT key FROM event_types`)).map((r) => r.key)),
    rules: new Set((await tx.rows<{ key: string }>(`SELECT key FROM rules`)).map((r) => r.key)),
    achievements: await keys(tx, "achievements"),
    streaks: await keys(tx, "streak_definitions"),
    pools: await keys(tx, "quest_pools"),
    quests: await keys(tx, "quest_templates"),
    leaderboards: await keys(tx, "leaderboards"),
    shopItems: await keys(tx, "shop_items"),
    gifts: await keys(tx, "gifts"),
  }));
  let created = 0;
  let skipped = 0;
  // Order matters: rules name event types and currencies; achievements may measure streaks; quests
  // name pools; shop items name currencies and streaks; gifts name shop items.
  const steps = [
    ...(pack.currencies ?? []).map((c) => ({
      exists: existing.currencies.has(c.code),
      save: () => service.createCurrency(actor, SYSTEM_META, c),
    })),
    ...(pack.eventTypes ?? []).map((t) => ({
      exists: existing.types.has(t.key),
      save: () => service.saveEventType(actor, SYSTEM_META, t, "create"),
    })),
    ...(pack.rules ?? []).map((r) => ({
      exists: existing.rules.has(r.key),
      save: () => service.createRule(actor, SYSTEM_META, r),
    })),
    ...(pack.achievements ?? []).map((a) => ({
      exists: existing.achievements.has(a.key),
      save: () => services.achievements.save(actor, SYSTEM_META, a, "create"),
    })),
    ...(pack.streaks ?? []).map((s) => ({
      exists: existing.streaks.has(s.key),
      save: () => services.streaks.save(actor, SYSTEM_META, s, "create"),
    })),
    ...(pack.questPools ?? []).map((p) => ({
      exists: existing.pools.has(p.key),
      save: () => services.quests.savePool(actor, SYSTEM_META, p, "create"),
    })),
    ...(pack.quests ?? []).map((q) => ({
      exists: existing.quests.has(q.key),
      save: () => services.quests.save(actor, SYSTEM_META, q, "create"),
    })),
    ...(pack.leaderboards ?? []).map((b) => ({
      exists: existing.leaderboards.has(b.key),
      save: () => services.leaderboards.save(actor, SYSTEM_META, b, "create"),
    })),
    ...(pack.shopItems ?? []).map((i) => ({
      exists: existing.shopItems.has(i.key),
      save: () => services.shop.save(actor, SYSTEM_META, i, "create"),
    })),
    ...(pack.gifts ?? []).map((g) => ({
      exists: existing.gifts.has(g.key),
      save: () => services.gifts.save(actor, SYSTEM_META, g, "create"),
    })),
  ];
  for (const step of steps) {
    if (step.exists) {
      skipped++;
    } else {
      await step.save();
      created++;
    }
  }
  await db.asSystem((tx) =>
    tx.exec(
      `INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
      [`content.${pack.name}`, String(pack.version)],
    ),
  );
  return { pack: pack.name, created, skipped };
}

/** Loads every pack that this database has never seen: the default content of a first start. */
export async function loadNewPacks(
  db: Database,
  services: ContentServices,
  only?: readonly string[],
): Promise<LoadReport[]> {
  const seen = await db.asSystem(
    async (tx) =>
      new Set(
        (await tx.rows<{ key: string }>(`SELECT key FROM settings WHERE key LIKE 'content.%'`)).map(
          (r) => r.key,
        ),
      ),
  );
  const reports: LoadReport[] = [];
  for (const pack of await readPacks()) {
    if (only !== undefined && !only.includes(pack.name)) continue;
    if (!seen.has(`content.${pack.name}`)) reports.push(await loadPack(db, services, pack));
  }
  return reports;
}
