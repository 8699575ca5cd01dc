import type { Logger } from "pino";
import { AchievementsService } from "../achievements/achievements.service.ts";
import type { Config } from "../config.ts";
import { GiftsService } from "../economy/gifts.service.ts";
import { InventoryService } from "../economy/inventory.service.ts";
import { ShopService } from "../economy/shop.service.ts";
import { WalletService } from "../economy/wallet.service.ts";
import type { Clock } from "../platform/clock.ts";
import type { Database } from "../platform/db/database.ts";
import { LeaderboardsService } from "../leaderboards/leaderboards.service.ts";
import { MemoryRankIndex } from "../leaderboards/rank-index/memory-index.ts";
import type { RankIndex } from "../leaderboards/rank-index/rank-index.ts";
import { RankService } from "../leaderboards/rank-service.ts";
import { ProgressService } from "../progression/progress.service.ts";
import { QuestsService } from "../quests/quests.service.ts";
import { StreaksService } from "../streaks/streaks.service.ts";
import { Engine } from "./apply.ts";
import { Definitions } from "./definitions.ts";
import { DefinitionsService } from "./definitions.service.ts";
import { EventIntake } from "./intake.service.ts";

/**
 * The event engine with the features it writes to: progression, statistics, the ledger,
 * achievements, streaks and quests.
 */
export function createGame(
  db: Database,
  clock: Clock,
  logger: Logger,
  settings: Pick<Config, "events"> & { rankIndex?: RankIndex },
) {
  const definitions = new Definitions(db, logger);
  const ranks = new RankService(settings.rankIndex ?? new MemoryRankIndex(), db, logger);
  const engine = new Engine(clock, ranks);
  const streaks = new StreaksService(db, definitions, clock);
  return {
    definitions,
    engine,
    intake: new EventIntake(db, definitions, engine, clock, settings.events),
    definitionsService: new DefinitionsService(db, definitions),
    wallets: new WalletService(db, definitions, engine),
    progress: new ProgressService(db, definitions),
    achievements: new AchievementsService(db, definitions),
    streaks,
    quests: new QuestsService(db, definitions, clock),
    ranks,
    leaderboards: new LeaderboardsService(db, definitions, ranks, clock),
    shop: new ShopService(db, definitions, engine, clock),
    inventory: new InventoryService(db, definitions, engine, clock, streaks),
    gifts: new GiftsService(db, definitions, engine, clock),
  };
}

export type Game = ReturnType<typeof createGame>;
