import { invalid, type KeyedTable } from "../engine/keyed-definitions.ts";
import type { Tx } from "../platform/db/database.ts";
import { BOOST_CEILING } from "./boosts.ts";

export const ITEM_TYPES = [
  "recipe",
  "avatar",
  "badge",
  "boost",
  "protection",
  "freeze",
  "consumable",
] as const;
export type ItemType = (typeof ITEM_TYPES)[number];

/** Items equipped rather than used up; a player holds each at most once. */
export const COSMETICS: ReadonlySet<ItemType> = new Set(["avatar", "badge"]);

/** The currency a freeze item gives tokens of when its data names none. */
export const DEFAULT_FREEZE_CURRENCY = "streak_freeze";

export interface ShopItemRow {
  id: string;
  key: string;
  name: string;
  description: string;
  category: string;
  price: number;
  currency: string;
  item_type: ItemType;
  item_data: Record<string, unknown>;
  active: boolean;
  premium: boolean;
  stock: number | null;
  per_player_limit: number | null;
  available_from: Date | null;
  available_until: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface ShopItemInput {
  key: string;
  name: string;
  description?: string;
  category?: string;
  price: number;
  currency?: string;
  type: ItemType;
  data?: Record<string, unknown>;
  active?: boolean;
  premium?: boolean;
  stock?: number | null;
  perPlayerLimit?: number | null;
  availableFrom?: string | null;
  availableUntil?: string | null;
}

export const shopItemView = (i: ShopItemRow) => ({
  id: i.id,
  key: i.key,
  name: i.name,
  description: i.description,
  category: i.category,
  price: i.price,
  currency: i.currency,
  type: i.item_type,
  data: i.item_data,
  active: i.active,
  premium: i.premium,
  stock: i.stock,
  perPlayerLimit: i.per_player_limit,
  availableFrom: i.available_from?.toISOString() ?? null,
  availableUntil: i.available_until?.toISOString() ?? null,
});

export type ShopItemView = ReturnType<typeof shopItemView>;

/** What the item does, as the engine and the inventory read it; each field checked when saved. */
export interface BoostData {
  currency: string;
  multiplier: number;
  /** Minutes. */
  duration: number;
}
export interface ProtectionData {
  /** Hours. */
  duration: number;
  streak?: string;
}
export interface FreezeData {
  currency: string;
  amount: number;
}

export const boostData = (i: Pick<ShopItemRow, "item_data">) => i.item_data as unknown as BoostData;
export const protectionData = (i: Pick<ShopItemRow, "item_data">) => i.item_data as unknown as ProtectionData;
export function freezeData(i: Pick<ShopItemRow, "item_data">): FreezeData {
  const d = i.item_data as Partial<FreezeData>;
  return { currency: d.currency ?? DEFAULT_FREEZE_CURRENCY, amount: d.amount ?? 1 };
}
export const recipeCount = (i: Pick<ShopItemRow, "item_data">) => i.item_data.recipeCount as number;

type FieldRule = { required: boolean; check: (v: unknown) => string | undefined };

const integer =
  (min: number, max: number) =>
  (v: unknown): string | undefined =>
    Number.isInteger(v) && (v as number) >= min && (v as number) <= max
      ? undefined
      : `must be an integer from ${min} to ${max}`;
const code = (v: unknown) =>
  typeof v === "string" && /^[a-z][a-z0-9_]{1,31}$/.test(v) ? undefined : "must be a currency code";
const key = (v: unknown) =>
  typeof v === "string" && /^[a-z0-9][a-z0-9_.-]{0,63}$/.test(v) ? undefined : "must be a streak key";
// At most the ceiling boosts are applied with: a larger multiplier would be sold and not paid.
const multiplier = (v: unknown) =>
  typeof v === "number" && v > 1 && v <= BOOST_CEILING && Math.abs(v * 1000 - Math.round(v * 1000)) < 1e-6
    ? undefined
    : `must be a number above 1 and at most ${BOOST_CEILING}, in thousandths at most`;

/** The fields each type's data must have (others are refused); types not listed take any object. */
const DATA_FIELDS: Partial<Record<ItemType, Record<string, FieldRule>>> = {
  boost: {
    currency: { required: true, check: code },
    multiplier: { required: true, check: multiplier },
    duration: { required: true, check: integer(1, 10_080) },
  },
  protection: {
    duration: { required: true, check: integer(1, 720) },
    streak: { required: false, check: key },
  },
  freeze: {
    currency: { required: false, check: code },
    amount: { required: false, check: integer(1, 100) },
  },
  recipe: { recipeCount: { required: true, check: integer(1, 1000) } },
};

/** Why an item's data does not fit its type, as a field error; undefined when it fits. */
export function itemDataProblem(
  type: ItemType,
  data: Record<string, unknown>,
): { path: string; message: string } | undefined {
  const fields = DATA_FIELDS[type];
  if (fields === undefined) return undefined;
  for (const name of Object.keys(data)) {
    if (!(name in fields)) return { path: `body/data/${name}`, message: `unknown field for a ${type} item` };
  }
  for (const [name, rule] of Object.entries(fields)) {
    const value = data[name];
    if (value === undefined) {
      if (rule.required) return { path: `body/data/${name}`, message: `is required for a ${type} item` };
      continue;
    }
    const problem = rule.check(value);
    if (problem !== undefined) return { path: `body/data/${name}`, message: problem };
  }
  return undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a path segment names an item by id (a UUID) rather than by key. */
export const isUuid = (s: string) => UUID.test(s);

async function exists(tx: Tx, sql: string, value: string): Promise<boolean> {
  return (await tx.maybeOne(sql, [value])) !== undefined;
}

export const SHOP_ITEMS: KeyedTable<ShopItemRow, ShopItemView> = {
  table: "shop_items",
  resource: "shop_item",
  label: "Shop item",
  view: shopItemView,
  defaults: {
    description: "",
    category: "general",
    currency: "coins",
    data: {},
    active: true,
    premium: false,
    stock: null,
    perPlayerLimit: null,
    availableFrom: null,
    availableUntil: null,
  },
  columns: (i) => ({
    key: i.key,
    name: i.name,
    description: i.description,
    category: i.category,
    price: i.price,
    currency: i.currency,
    item_type: i.type,
    item_data: JSON.stringify(i.data),
    active: i.active,
    premium: i.premium,
    stock: i.stock,
    per_player_limit: i.perPlayerLimit,
    available_from: i.availableFrom,
    available_until: i.availableUntil,
  }),
  async check(tx, i, stored) {
    if (stored === undefined && isUuid(i.key)) throw invalid("a key may not look like a UUID", "body/key");
    if (stored !== undefined && stored.type !== i.type) {
      // Players hold it (and boosts name it) as what it was: make another item instead.
      throw invalid("an item's type cannot change", "body/type");
    }
    if (
      i.availableFrom !== null &&
      i.availableUntil !== null &&
      Date.parse(i.availableUntil) <= Date.parse(i.availableFrom)
    ) {
      throw invalid("availableUntil must be after availableFrom", "body/availableUntil");
    }
    if (COSMETICS.has(i.type) && i.perPlayerLimit !== null && i.perPlayerLimit !== 1) {
      throw invalid("a player holds a cosmetic at most once", "body/perPlayerLimit");
    }
    const problem = itemDataProblem(i.type, i.data);
    if (problem !== undefined) throw invalid(problem.message, problem.path);
    if (!(await exists(tx, `SELECT 1 FROM currencies WHERE code = $1`, i.currency))) {
      throw invalid(`Unknown currency ${i.currency}`, "body/currency");
    }
    if (i.currency === "xp") {
      // Spending XP would lower the level, and earning it back would pay the level-ups again.
      throw invalid("XP cannot be a price: spending it would undo levels that pay rewards", "body/currency");
    }
    const named =
      i.type === "boost"
        ? boostData({ item_data: i.data }).currency
        : i.type === "freeze"
          ? freezeData({ item_data: i.data }).currency
          : undefined;
    if (named !== undefined && !(await exists(tx, `SELECT 1 FROM currencies WHERE code = $1`, named))) {
      throw invalid(`Unknown currency ${named}`, "body/data/currency");
    }
    const streak = i.type === "protection" ? protectionData({ item_data: i.data }).streak : undefined;
    if (
      streak !== undefined &&
      !(await exists(tx, `SELECT 1 FROM streak_definitions WHERE key = $1`, streak))
    ) {
      throw invalid(`Unknown streak ${streak}`, "body/data/streak");
    }
  },
};
