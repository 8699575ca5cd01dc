import type { AuditActor, RequestMeta } from "../audit/audit.service.ts";
import type { Engine } from "../engine/apply.ts";
import type { Definitions } from "../engine/definitions.ts";
import type { Effects } from "../engine/effects.ts";
import {
  checkCurrencies,
  checkWindow,
  invalid,
  saveKeyed,
  type KeyedTable,
} from "../engine/keyed-definitions.ts";
import type { Clock } from "../platform/clock.ts";
import type { Database } from "../platform/db/database.ts";
import { AppError, notFound } from "../platform/http/errors.ts";
import { lockPlayer } from "../progression/progress.store.ts";
import { recordEvent } from "./economy-events.ts";
import {
  allGifts,
  findClaim,
  findGift,
  giftsFor,
  insertClaim,
  markWelcomeGiftClaimed,
  type GiftRow,
} from "./gifts.store.ts";
import { addToInventory, inventoryOf } from "./inventory.store.ts";
import { balanceOf, credit } from "./ledger.store.ts";
import { COSMETICS } from "./shop-items.ts";
import { findItemsByKey } from "./shop.store.ts";

/** The gift seed 000's has_claimed_gift is about. */
export const WELCOME_GIFT = "welcome";

export interface GiftInput {
  key: string;
  name: string;
  description?: string;
  rewards?: { currency: string; amount: number }[];
  items?: { item: string; quantity: number }[];
  active?: boolean;
  startsAt?: string | null;
  endsAt?: string | null;
}

export const giftView = (g: GiftRow) => ({
  key: g.key,
  name: g.name,
  description: g.description,
  rewards: g.rewards,
  items: g.items,
  active: g.active,
  startsAt: g.starts_at?.toISOString() ?? null,
  endsAt: g.ends_at?.toISOString() ?? null,
});

type GiftView = ReturnType<typeof giftView>;

const GIFTS: KeyedTable<GiftRow, GiftView> = {
  table: "gifts",
  resource: "gift",
  label: "Gift",
  view: giftView,
  defaults: { description: "", rewards: [], items: [], active: true, startsAt: null, endsAt: null },
  columns: (g) => ({
    key: g.key,
    name: g.name,
    description: g.description,
    rewards: JSON.stringify(g.rewards),
    items: JSON.stringify(g.items),
    active: g.active,
    starts_at: g.startsAt,
    ends_at: g.endsAt,
  }),
  async check(tx, g) {
    checkWindow(g.startsAt, g.endsAt);
    if (g.rewards.length === 0 && g.items.length === 0)
      throw invalid("a gift gives something", "body/rewards");
    await checkCurrencies(tx, g.rewards, "body/rewards");
    const keys = g.items.map((i) => i.item);
    if (new Set(keys).size !== keys.length) throw invalid("each item once", "body/items");
    const found = new Map((await findItemsByKey(tx, keys)).map((i) => [i.key, i]));
    g.items.forEach((i, n) => {
      const item = found.get(i.item);
      if (item === undefined) throw invalid(`Unknown shop item ${i.item}`, `body/items/${n}/item`);
      if (COSMETICS.has(item.item_type) && i.quantity !== 1) {
        throw invalid("a cosmetic is given once", `body/items/${n}/quantity`);
      }
    });
  },
};

export interface ClaimResult {
  gift: { key: string; name: string };
  rewards: { currency: string; amount: number; balance: number }[];
  items: { item: string; quantity: number; held: number }[];
  claimedAt: string;
  duplicate: boolean;
  effects: Effects;
}

/**
 * One-time gifts: a welcome gift (seed 000's has_claimed_gift) and any others an operator sets up,
 * each giving currency and items once per player. Claiming again answers the first claim.
 */
export class GiftsService {
  constructor(
    private readonly db: Database,
    private readonly definitions: Definitions,
    private readonly engine: Engine,
    private readonly clock: Clock,
  ) {}

  list() {
    return this.db.asSystem(async (tx) => (await allGifts(tx)).map(giftView));
  }

  save(
    actor: AuditActor,
    meta: RequestMeta,
    input: GiftInput | (Partial<GiftInput> & { key: string }),
    mode: "create" | "update",
  ) {
    return saveKeyed(this.db, this.definitions, GIFTS, { actor, meta }, input, mode);
  }

  /** The gifts open to the player now, and those they claimed. */
  async mine(userId: string) {
    const now = this.clock.now();
    const rows = await this.db.asUser(userId, (tx) => giftsFor(tx, userId, now));
    return rows.map((g) => ({
      key: g.key,
      name: g.name,
      description: g.description,
      rewards: g.rewards,
      items: g.items,
      endsAt: g.ends_at?.toISOString() ?? null,
      claimed: g.claimed_at !== null,
      claimedAt: g.claimed_at?.toISOString() ?? null,
    }));
  }

  /**
   * Claims a gift once: currency credited as `reward` ledger entries (cut to a currency's ceiling,
   * like any reward), items added to the inventory as granted, and a gift.claimed event applied
   * (so XP levels the player up). The table's primary key and the player's lock make it once.
   */
  async claim(userId: string, key: string): Promise<ClaimResult> {
    const snapshot = await this.definitions.snapshot();
    const now = this.clock.now();
    return this.db.asUser(userId, async (tx) => {
      const gift = await findGift(tx, key);
      if (gift === undefined) throw notFound("Gift");
      await lockPlayer(tx, userId);
      const first = await findClaim<ClaimResult>(tx, userId, gift.id);
      if (first !== undefined) return { ...first.result, duplicate: true };
      if (!gift.active) throw notFound("Gift");
      if (
        (gift.starts_at !== null && now < gift.starts_at) ||
        (gift.ends_at !== null && now >= gift.ends_at)
      ) {
        throw new AppError("gift.unavailable", `${gift.name} cannot be claimed now`);
      }
      const rewards: ClaimResult["rewards"] = [];
      for (const r of gift.rewards) {
        const cap = snapshot.currencyCaps.get(r.currency);
        let amount = r.amount;
        if (cap !== undefined) {
          amount = Math.min(amount, Math.max(0, cap - (await balanceOf(tx, userId, r.currency))));
        }
        if (amount <= 0) continue;
        const posted = await credit(tx, {
          userId,
          currency: r.currency,
          amount,
          type: "reward",
          reason: `Gift: ${gift.name}`,
          source: `gift:${gift.key}`,
          reference: gift.id,
          metadata: { gift: gift.key },
        });
        if (posted !== undefined) {
          rewards.push({ currency: r.currency, amount, balance: posted.balance });
          await this.engine.balanceChanged(tx, snapshot, userId, r.currency, posted.balance);
        }
      }
      const items = new Map(
        (
          await findItemsByKey(
            tx,
            gift.items.map((i) => i.item),
          )
        ).map((i) => [i.key, i]),
      );
      const given: ClaimResult["items"] = [];
      for (const g of gift.items) {
        const item = items.get(g.item);
        if (item === undefined) continue;
        // A cosmetic already held stays held once: the gift's copy is not added.
        if (COSMETICS.has(item.item_type) && ((await inventoryOf(tx, userId, item.id))?.quantity ?? 0) > 0) {
          continue;
        }
        const row = await addToInventory(tx, {
          userId,
          itemId: item.id,
          purchased: 0,
          granted: g.quantity,
          at: now,
        });
        given.push({ item: g.item, quantity: g.quantity, held: row.quantity });
      }
      if (gift.key === WELCOME_GIFT) await markWelcomeGiftClaimed(tx, userId);
      const effects = await recordEvent(this.engine, tx, snapshot, {
        userId,
        type: "gift.claimed",
        data: { gift: gift.key },
        at: now,
      });
      const result: ClaimResult = {
        gift: { key: gift.key, name: gift.name },
        rewards,
        items: given,
        claimedAt: now.toISOString(),
        duplicate: false,
        effects,
      };
      await insertClaim(tx, { userId, giftId: gift.id, at: now, result });
      return result;
    });
  }
}
