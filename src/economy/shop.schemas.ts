import { Type } from "typebox";
import { EffectsSchema } from "../engine/effects.ts";
import {
  CurrencyCode,
  DefinitionKey,
  IdempotencyKey,
  JsonObject,
  Nullable,
  Rewards,
} from "../engine/schemas.ts";
import { PageQuery, Timestamp, Uuid } from "../platform/http/schemas.ts";
import { ITEM_TYPES } from "./shop-items.ts";
import { LIMITS } from "../platform/limits.ts";

export const ItemType = Type.Enum([...ITEM_TYPES]);

/** An item named in a path or a body: its id (a UUID) or its key. */
export const ItemRef = Type.String({
  pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
  description: "The item's id (a UUID) or its key",
});
export const ItemParams = Type.Object({ itemId: ItemRef }, { additionalProperties: false });

const itemFields = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  description: Type.Optional(Type.String({ maxLength: 1000 })),
  category: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
  price: Type.Integer({ minimum: 0, maximum: LIMITS.price }),
  currency: Type.Optional(CurrencyCode),
  type: ItemType,
  data: Type.Optional(
    Type.Record(Type.String({ maxLength: 100 }), Type.Unknown(), {
      maxProperties: 50,
      description:
        "By type: boost {currency, multiplier (above 1, at most 3), duration (minutes)}; protection " +
        "{duration (hours), streak?}; freeze {currency? (streak_freeze), amount? (1)}; recipe {recipeCount}; " +
        "anything for avatar, badge and consumable",
    }),
  ),
  active: Type.Optional(Type.Boolean({ description: "Only active items are for sale" })),
  premium: Type.Optional(
    Type.Boolean({ description: "A label for premium items (a filter of the catalogue)" }),
  ),
  stock: Type.Optional(
    Nullable(Type.Integer({ minimum: 0, maximum: 1_000_000_000 }), {
      description: "Units left for sale; null: unlimited",
    }),
  ),
  perPlayerLimit: Type.Optional(
    Nullable(Type.Integer({ minimum: 1, maximum: 1_000_000 }), {
      description: "The most units one player may buy (net of refunds); null: no limit",
    }),
  ),
  availableFrom: Type.Optional(Nullable(Timestamp)),
  availableUntil: Type.Optional(Nullable(Timestamp)),
};
export const CreateShopItem = Type.Object(
  { key: DefinitionKey, ...itemFields },
  { additionalProperties: false },
);
export const UpdateShopItem = Type.Partial(Type.Object(itemFields), {
  additionalProperties: false,
  minProperties: 1,
});

const shopItemProperties = {
  id: Uuid,
  key: Type.String(),
  name: Type.String(),
  description: Type.String(),
  category: Type.String(),
  price: Type.Integer(),
  currency: Type.String(),
  type: ItemType,
  data: JsonObject,
  active: Type.Boolean(),
  premium: Type.Boolean(),
  stock: Nullable(Type.Integer()),
  perPlayerLimit: Nullable(Type.Integer()),
  availableFrom: Nullable(Timestamp),
  availableUntil: Nullable(Timestamp),
};
export const ShopItem = Type.Object(shopItemProperties);

export const CatalogueItem = Type.Object({
  ...shopItemProperties,
  held: Type.Integer({ description: "Units I hold" }),
  bought: Type.Integer({ description: "Units I bought (net of refunds)" }),
  remaining: Nullable(Type.Integer({ description: "Units I may still buy; null: no limit" })),
  affordable: Type.Boolean({ description: "My balance covers one unit" }),
  purchasable: Type.Boolean({ description: "I can buy one unit now" }),
  reason: Nullable(Type.Enum(["sold_out", "limit_reached", "insufficient_funds"]), {
    description: "Why I cannot buy it now",
  }),
});

export const CatalogueQuery = Type.Object(
  {
    category: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
    type: Type.Optional(ItemType),
    premium: Type.Optional(Type.Boolean()),
    purchasable: Type.Optional(Type.Boolean({ description: "Only what I can buy now" })),
    ...PageQuery,
  },
  { additionalProperties: false },
);

export const ItemSummary = Type.Object({ id: Uuid, key: Type.String(), name: Type.String(), type: ItemType });

export const PurchaseBody = Type.Object(
  {
    quantity: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 1 })),
    idempotencyKey: IdempotencyKey,
  },
  { additionalProperties: false },
);

export const PurchaseResult = Type.Object({
  purchaseId: Uuid,
  item: ItemSummary,
  quantity: Type.Integer(),
  unitPrice: Type.Integer(),
  total: Type.Integer(),
  currency: Type.String(),
  balance: Nullable(Type.Integer({ description: "Balance after paying; null for a free item" })),
  held: Type.Integer({ description: "Units of the item I hold now" }),
  stockLeft: Nullable(Type.Integer({ description: "Units left in the shop; null: unlimited" })),
  createdAt: Timestamp,
  duplicate: Type.Boolean({ description: "True when this repeats an earlier purchase with the same key" }),
  effects: EffectsSchema,
});

export const Purchase = Type.Object({
  id: Uuid,
  item: ItemSummary,
  quantity: Type.Integer(),
  unitPrice: Type.Integer(),
  total: Type.Integer(),
  currency: Type.String(),
  status: Type.Enum(["completed", "refunded"]),
  createdAt: Timestamp,
  refundedAt: Nullable(Timestamp),
});

export const PurchasesQuery = Type.Object(
  {
    status: Type.Optional(Type.Enum(["completed", "refunded"])),
    item: Type.Optional(ItemRef),
    ...PageQuery,
  },
  { additionalProperties: false },
);

export const InventoryQuery = Type.Object(
  {
    type: Type.Optional(ItemType),
    category: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
    all: Type.Optional(Type.Boolean({ description: "Include items used up" })),
  },
  { additionalProperties: false },
);

export const InventoryEntry = Type.Object({
  item: ShopItem,
  quantity: Type.Integer({ description: "Units held" }),
  equipped: Type.Boolean(),
  purchased: Type.Integer(),
  granted: Type.Integer(),
  used: Type.Integer(),
  firstAcquiredAt: Timestamp,
  lastUsedAt: Nullable(Timestamp),
});

export const UseBody = Type.Object(
  {
    quantity: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 1 })),
    idempotencyKey: IdempotencyKey,
  },
  { additionalProperties: false },
);

export const UseResult = Type.Object({
  item: ItemSummary,
  quantity: Type.Integer(),
  held: Type.Integer({ description: "Units held after the use" }),
  equipped: Type.Boolean(),
  effect: Type.Object({
    kind: Type.Enum(["boost", "protection", "freeze", "recipes", "equipped", "consumed"]),
    currency: Type.Optional(Type.String()),
    multiplier: Type.Optional(Type.Number()),
    startsAt: Type.Optional(Timestamp),
    endsAt: Type.Optional(Timestamp),
    extended: Type.Optional(Type.Boolean({ description: "The same boost was running: its end moved later" })),
    streak: Type.Optional(Nullable(Type.String({ description: "null: every streak" }))),
    amount: Type.Optional(Type.Integer()),
    balance: Type.Optional(Type.Integer()),
    recipesUnlocked: Type.Optional(Type.Integer()),
  }),
  usedAt: Timestamp,
  duplicate: Type.Boolean(),
  effects: EffectsSchema,
});

export const UnequipResult = Type.Object({ item: ItemSummary, equipped: Type.Boolean() });

export const Boosts = Type.Object({
  items: Type.Array(
    Type.Object({
      item: Type.Object({ id: Uuid, key: Type.String(), name: Type.String() }),
      currency: Type.String(),
      multiplier: Type.Number(),
      startsAt: Timestamp,
      endsAt: Timestamp,
      secondsLeft: Type.Integer(),
    }),
  ),
  multipliers: Type.Record(Type.String(), Type.Number(), {
    description: "What awards in each currency are multiplied by now (boosts multiply, up to the ceiling)",
  }),
  ceiling: Type.Number(),
});

const GiftItem = Type.Object(
  { item: DefinitionKey, quantity: Type.Integer({ minimum: 1, maximum: 100 }) },
  { additionalProperties: false },
);
const giftFields = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  description: Type.Optional(Type.String({ maxLength: 1000 })),
  rewards: Type.Optional(Rewards),
  items: Type.Optional(Type.Array(GiftItem, { maxItems: 20 })),
  active: Type.Optional(Type.Boolean()),
  startsAt: Type.Optional(Nullable(Timestamp)),
  endsAt: Type.Optional(Nullable(Timestamp)),
};
export const CreateGift = Type.Object({ key: DefinitionKey, ...giftFields }, { additionalProperties: false });
export const UpdateGift = Type.Partial(Type.Object(giftFields), {
  additionalProperties: false,
  minProperties: 1,
});
export const Gift = Type.Object({
  key: Type.String(),
  name: Type.String(),
  description: Type.String(),
  rewards: Rewards,
  items: Type.Array(GiftItem),
  active: Type.Boolean(),
  startsAt: Nullable(Timestamp),
  endsAt: Nullable(Timestamp),
});
export const MyGift = Type.Object({
  key: Type.String(),
  name: Type.String(),
  description: Type.String(),
  rewards: Rewards,
  items: Type.Array(GiftItem),
  endsAt: Nullable(Timestamp),
  claimed: Type.Boolean(),
  claimedAt: Nullable(Timestamp),
});
export const ClaimResult = Type.Object({
  gift: Type.Object({ key: Type.String(), name: Type.String() }),
  rewards: Type.Array(
    Type.Object({ currency: Type.String(), amount: Type.Integer(), balance: Type.Integer() }),
  ),
  items: Type.Array(Type.Object({ item: Type.String(), quantity: Type.Integer(), held: Type.Integer() })),
  claimedAt: Timestamp,
  duplicate: Type.Boolean({ description: "True when the gift was claimed before: this is that claim" }),
  effects: EffectsSchema,
});

export const GrantBody = Type.Object(
  {
    item: ItemRef,
    quantity: Type.Integer({ minimum: 1, maximum: 1000 }),
    reason: Type.String({ minLength: 1, maxLength: 500 }),
    idempotencyKey: IdempotencyKey,
  },
  { additionalProperties: false },
);
export const GrantResult = Type.Object({
  userId: Uuid,
  item: ItemSummary,
  quantity: Type.Integer(),
  held: Type.Integer(),
  reason: Type.String(),
  duplicate: Type.Boolean(),
});

export const RefundBody = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 500 }) },
  { additionalProperties: false },
);
export const RefundResult = Type.Object({
  purchaseId: Uuid,
  userId: Uuid,
  item: ItemSummary,
  quantity: Type.Integer(),
  amount: Type.Integer(),
  currency: Type.String(),
  balance: Nullable(Type.Integer({ description: "Balance after the refund; null for a free item" })),
  reason: Type.String(),
  refundedAt: Timestamp,
  duplicate: Type.Boolean({ description: "True when the purchase was refunded before: this is that refund" }),
});
