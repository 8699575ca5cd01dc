import { createHash } from "node:crypto";
import type { AuditActor, RequestMeta } from "../audit/audit.service.ts";
import type { BoardSource, Definitions, LeaderboardRow } from "../engine/definitions.ts";
import { toBoardDef } from "../engine/definitions.ts";
import { invalid, saveKeyed, type KeyedTable } from "../engine/keyed-definitions.ts";
import { lockPlayers } from "../engine/state.store.ts";
import { isTimeZone } from "../identity/time-zones.ts";
import type { Clock } from "../platform/clock.ts";
import type { Database, Tx } from "../platform/db/database.ts";
import { AppError, notFound } from "../platform/http/errors.ts";
import { moveEntry } from "./entry-writer.ts";
import { setListed } from "./standing.ts";
import { boardPeriodKey, listName } from "./board-feed.ts";
import * as store from "./leaderboards.store.ts";
import type { RankKey } from "./rank-index/rank-index.ts";
import type { RankService } from "./rank-service.ts";

export const leaderboardView = (b: LeaderboardRow) => ({
  key: b.key,
  name: b.name,
  description: b.description,
  category: b.category,
  source: b.source,
  period: b.period,
  timeZone: b.time_zone,
  sort: b.sort,
  operator: b.operator,
  minScore: b.min_score,
  snapshotSize: b.snapshot_size,
  active: b.active,
});

type BoardView = ReturnType<typeof leaderboardView>;

/** A board as admins and content packs write it. */
export interface LeaderboardInput {
  key: string;
  name: string;
  description?: string;
  category?: string;
  source: BoardSource;
  period: LeaderboardRow["period"];
  timeZone?: string;
  sort?: "desc" | "asc";
  operator: "sum" | "best" | "latest";
  minScore?: number | null;
  snapshotSize?: number;
  active?: boolean;
}

const BOARDS: KeyedTable<LeaderboardRow, BoardView> = {
  table: "leaderboards",
  resource: "leaderboard",
  label: "Leaderboard",
  view: leaderboardView,
  defaults: {
    description: "",
    category: "general",
    timeZone: "UTC",
    sort: "desc",
    minScore: null,
    snapshotSize: 10,
    active: true,
  },
  columns: (b) => ({
    key: b.key,
    name: b.name,
    description: b.description,
    category: b.category,
    source: b.source,
    period: b.period,
    time_zone: b.timeZone,
    sort: b.sort,
    operator: b.operator,
    min_score: b.minScore,
    snapshot_size: b.snapshotSize,
    active: b.active,
  }),
  async check(tx, b, stored) {
    if (!isTimeZone(b.timeZone)) throw invalid("timeZone is not an IANA time zone", "body/timeZone");
    const s = b.source;
    if (s.kind === "currency" || s.kind === "balance") {
      const known = await tx.maybeOne(`SELECT 1 FROM currencies WHERE code = $1`, [s.currency]);
      if (known === undefined) throw invalid(`Unknown currency ${s.currency}`, "body/source/currency");
    }
    // A balance board shows each balance as it stands: adding balances up or keeping the best of
    // them would rank something else.
    if (s.kind === "balance" && b.operator !== "latest") {
      throw invalid("A balance board's operator is latest", "body/operator");
    }
    if (s.kind === "event") {
      const known = await tx.maybeOne(`SELECT 1 FROM event_types WHERE key = $1`, [s.eventType]);
      if (known === undefined) throw invalid(`Unknown event type ${s.eventType}`, "body/source/eventType");
    }
    if (
      stored !== undefined &&
      (stored.period !== b.period ||
        stored.timeZone !== b.timeZone ||
        stored.sort !== b.sort ||
        stored.operator !== b.operator ||
        JSON.stringify(stored.source) !== JSON.stringify(b.source))
    ) {
      // Entries were counted under the old rules; a board that ranks differently is a new board.
      const used = await tx.maybeOne(
        `SELECT 1 FROM leaderboard_entries e JOIN leaderboards b ON b.id = e.leaderboard_id WHERE b.key = $1 LIMIT 1`,
        [b.key],
      );
      if (used !== undefined) {
        throw new AppError(
          "definition.in_use",
          "This board has entries: its source, period, zone, sort and operator cannot change",
        );
      }
    }
  },
};

/** An opaque page position: the key of the last entry shown. */
interface PagePosition {
  rankScore: number;
  reachedMs: number;
  userId: string;
}

const encodePosition = (p: PagePosition) =>
  Buffer.from(JSON.stringify([p.rankScore, p.reachedMs, p.userId])).toString("base64url");

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function decodePosition(cursor: string): PagePosition {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (
      Array.isArray(v) &&
      v.length === 3 &&
      typeof v[0] === "number" &&
      Number.isFinite(v[0]) &&
      Number.isSafeInteger(v[1]) &&
      typeof v[2] === "string" &&
      UUID.test(v[2])
    ) {
      return { rankScore: v[0], reachedMs: v[1] as number, userId: v[2] };
    }
  } catch {
    // fall through
  }
  throw new AppError("validation.failed", "The cursor is not valid", {
    errors: [{ path: "querystring/cursor", message: "is not a cursor from this API" }],
  });
}

const PERIOD_KEY: Record<LeaderboardRow["period"], RegExp> = {
  day: /^\d{4}-\d{2}-\d{2}$/,
  week: /^\d{4}-W\d{2}$/,
  month: /^\d{4}-\d{2}$/,
  all: /^all$/,
};

export interface Row {
  rank: number;
  userId: string;
  displayName: string;
  score: number;
  level: number;
  badgesCount: number;
  reachedAt: string;
}

/** Leaderboards: definitions (admin), reads (pages, my rank and neighbours), submitted scores. */
export class LeaderboardsService {
  constructor(
    private readonly db: Database,
    private readonly definitions: Definitions,
    private readonly ranks: RankService,
    private readonly clock: Clock,
  ) {}

  list(activeOnly = false) {
    return this.db.asSystem(async (tx) =>
      (
        await tx.rows<LeaderboardRow>(
          `SELECT * FROM leaderboards WHERE active OR NOT $1 ORDER BY category, key`,
          [activeOnly],
        )
      ).map(leaderboardView),
    );
  }

  save(
    actor: AuditActor,
    meta: RequestMeta,
    input: LeaderboardInput | (Partial<LeaderboardInput> & { key: string }),
    mode: "create" | "update",
  ) {
    return saveKeyed(this.db, this.definitions, BOARDS, { actor, meta }, input, mode);
  }

  /** A page of a board period, best first; `cursor` continues after the last row of a page. */
  async page(key: string, query: { period?: string; limit: number; cursor?: string }) {
    const after = query.cursor === undefined ? undefined : decodePosition(query.cursor);
    const board = await this.board(key);
    const period = this.periodOf(board, query.period);
    return this.db.asSystem(async (tx) => {
      const closed = await this.isClosed(tx, board.id, period);
      let entries: store.EntryRow[];
      let firstRank: number;
      const list = listName(board.id, period);
      const fromIndex = closed
        ? undefined
        : await this.ranks.read(async (index) => {
            let offset = 0;
            if (after !== undefined) {
              const position: RankKey = {
                score: after.rankScore,
                reachedAt: after.reachedMs,
                userId: after.userId,
              };
              offset = await index.rank(list, position);
              const [at] = await index.range(list, offset, 1);
              if (at !== undefined && sameKey(at, position)) offset += 1;
            }
            return { offset, keys: await index.range(list, offset, query.limit + 1) };
          });
      if (fromIndex !== undefined) {
        entries = await this.entriesFor(tx, board.id, period, fromIndex.keys);
        firstRank = fromIndex.offset + 1;
      } else {
        entries = await store.entriesAfter(tx, board.id, period, after, query.limit + 1);
        const first = entries[0];
        firstRank =
          first === undefined
            ? 0
            : (first.final_rank ??
              (await store.countBefore(tx, board.id, period, {
                rankScore: first.rank_score,
                reachedMs: first.reached_ms,
                userId: first.user_id,
              })) + 1);
      }
      const shown = entries.slice(0, query.limit);
      const rows = await this.rows(tx, shown, (_, i) => firstRank + i);
      const last = shown[shown.length - 1];
      return {
        board: board.key,
        period,
        closed,
        items: rows,
        nextCursor:
          entries.length > query.limit && last !== undefined
            ? encodePosition({ rankScore: last.rank_score, reachedMs: last.reached_ms, userId: last.user_id })
            : null,
      };
    });
  }

  /** A player's rank and entry on a board period, with `around` neighbours on each side. */
  async standing(key: string, userId: string, query: { period?: string; around: number }) {
    const board = await this.board(key);
    const period = this.periodOf(board, query.period);
    return this.db.asSystem(async (tx) => {
      const [mine] = await store.findEntries(tx, board.id, period, [userId]);
      const closed = await this.isClosed(tx, board.id, period);
      if (mine === undefined || !mine.ranked) {
        return {
          board: board.key,
          period,
          rank: null,
          entry: null,
          neighbours: [],
          total: await this.total(tx, board.id, period, closed),
        };
      }
      const rank = await this.rankOf(tx, board.id, period, mine, closed);
      const from = Math.max(1, rank - query.around);
      let neighbours: store.EntryRow[];
      const keys = closed
        ? undefined
        : await this.ranks.read((index) =>
            index.range(listName(board.id, period), from - 1, rank + query.around - from + 1),
          );
      if (keys !== undefined) {
        neighbours = await this.entriesFor(tx, board.id, period, keys);
      } else {
        neighbours = await store.entriesAt(tx, board.id, period, from - 1, rank + query.around - from + 1);
      }
      const rows = await this.rows(tx, neighbours, (_, i) => from + i);
      return {
        board: board.key,
        period,
        rank,
        entry: rows.find((r) => r.userId === userId) ?? null,
        neighbours: rows,
        total: await this.total(tx, board.id, period, closed),
      };
    });
  }

  /** Ranks of several players on a board period (a friends board); absent players are left out. */
  async ranksOf(key: string, userIds: string[], period?: string) {
    const board = await this.board(key);
    const periodKey = this.periodOf(board, period);
    return this.db.asSystem(async (tx) => {
      const closed = await this.isClosed(tx, board.id, periodKey);
      const entries = (await store.findEntries(tx, board.id, periodKey, userIds)).filter((e) => e.ranked);
      const ranks = new Map<string, number>();
      for (const e of entries) ranks.set(e.user_id, await this.rankOf(tx, board.id, periodKey, e, closed));
      const rows = await this.rows(tx, entries, (e) => ranks.get(e.user_id) ?? 0);
      return { board: board.key, period: periodKey, items: rows.sort((a, b) => a.rank - b.rank) };
    });
  }

  /**
   * A score an app backend submits for a player (boards whose source is "submitted"), applied with
   * the board's operator in the period of `occurredAt`, once per idempotency key.
   */
  async submit(
    key: string,
    caller: { keyId: string },
    input: { userId: string; score: number; occurredAt?: string; idempotencyKey: string },
  ) {
    const row = await this.db.asSystem((tx) =>
      tx.maybeOne<LeaderboardRow>(`SELECT * FROM leaderboards WHERE key = $1 AND active`, [key]),
    );
    if (row === undefined) throw notFound("Leaderboard");
    if (row.source.kind !== "submitted") {
      throw new AppError(
        "leaderboard.not_submittable",
        "This board is fed by events, not by submitted scores",
      );
    }
    const board = toBoardDef(row);
    const now = this.clock.now();
    const at = input.occurredAt === undefined ? now : new Date(input.occurredAt);
    if (at.getTime() > now.getTime() + 5 * 60_000 || at.getTime() < now.getTime() - 72 * 3_600_000) {
      throw new AppError("event.occurred_at_out_of_range", "occurredAt must be within the last 72 hours");
    }
    const scope = `scores:${caller.keyId}`;
    const hash = createHash("sha256")
      .update(JSON.stringify([key, input.score, at.toISOString()]))
      .digest();
    const period = boardPeriodKey(board, at);
    return this.db.asUser(input.userId, async (tx) => {
      const locked = await lockPlayers(tx, [input.userId]);
      const player = locked.get(input.userId);
      if (player === undefined) throw new AppError("event.unknown_user", `No player ${input.userId}`);
      if (!player.usable) throw new AppError("event.user_inactive", "The player is deactivated or deleted");
      const claimed = await tx.maybeOne(
        `INSERT INTO idempotency_keys (scope, user_id, key, request_hash, response) VALUES ($1, $2, $3, $4, 'null')
         ON CONFLICT DO NOTHING RETURNING 1`,
        [scope, input.userId, input.idempotencyKey, hash],
      );
      if (claimed === undefined) {
        const first = await tx.one<{ request_hash: Buffer; response: SubmitResult }>(
          `SELECT request_hash, response FROM idempotency_keys WHERE scope = $1 AND user_id = $2 AND key = $3`,
          [scope, input.userId, input.idempotencyKey],
        );
        if (!first.request_hash.equals(hash)) {
          throw new AppError("idempotency.key_reused", "This idempotency key was used for a different score");
        }
        return { ...first.response, duplicate: true };
      }
      // The period is share-locked whatever its state: a close in progress finishes first, and is then seen.
      const moved = await moveEntry(tx, this.ranks, board, input.userId, input.score, at);
      if (moved === undefined) {
        throw new AppError("leaderboard.period_closed", `Period ${period} is closed`);
      }
      const entry = moved.entry;
      const result: SubmitResult = {
        board: board.key,
        period,
        userId: input.userId,
        score: entry.score,
        changed: moved.changed,
        duplicate: false,
      };
      await tx.exec(
        `UPDATE idempotency_keys SET response = $4 WHERE scope = $1 AND user_id = $2 AND key = $3`,
        [scope, input.userId, input.idempotencyKey, JSON.stringify(result)],
      );
      return result;
    });
  }

  /** Takes a player off every board or puts them back (see standing.ts), in the caller's transaction. */
  setListed(tx: Tx, userId: string, listed: boolean): Promise<number> {
    return setListed(tx, this.ranks, userId, listed);
  }

  /**
   * Snapshots of a board, newest first, with their top entries: the one each period closed with,
   * and the scheduled ones of periods that never close (all time).
   */
  async snapshots(key: string, query: { limit: number; cursor?: string }) {
    const board = await this.board(key);
    const after = query.cursor === undefined ? undefined : decodeSnapshotCursor(query.cursor);
    return this.db.asSystem(async (tx) => {
      const sets = await tx.rows<{
        period_key: string;
        taken_at: Date;
        final: boolean;
        entries: number;
        // Null for the open ends of an all-time period.
        starts_at: Date | null;
        ends_at: Date | null;
        closed_at: Date | null;
      }>(
        `SELECT s.period_key, s.taken_at, s.final, s.entries, p.closed_at,
                CASE WHEN isfinite(p.starts_at) THEN p.starts_at END AS starts_at,
                CASE WHEN isfinite(p.ends_at) THEN p.ends_at END AS ends_at
         FROM leaderboard_snapshot_sets s
         JOIN leaderboard_periods p ON p.leaderboard_id = s.leaderboard_id AND p.period_key = s.period_key
         WHERE s.leaderboard_id = $1
           AND ($2::timestamptz IS NULL OR (s.taken_at, s.period_key) < ($2, $3::text))
         ORDER BY s.taken_at DESC, s.period_key DESC LIMIT $4`,
        [board.id, after?.takenAt ?? null, after?.periodKey ?? null, query.limit + 1],
      );
      const shown = sets.slice(0, query.limit);
      const tops = await tx.rows<{
        period_key: string;
        taken_at: Date;
        rank: number;
        user_id: string;
        score: number;
        reached_at: Date;
      }>(
        `SELECT s.period_key, s.taken_at, s.rank, s.user_id, s.score, s.reached_at
         FROM leaderboard_snapshots s
         JOIN unnest($2::text[], $3::timestamptz[]) AS w(period_key, taken_at)
           ON w.period_key = s.period_key AND w.taken_at = s.taken_at
         WHERE s.leaderboard_id = $1 ORDER BY s.rank`,
        [board.id, shown.map((p) => p.period_key), shown.map((p) => p.taken_at)],
      );
      const cards = await store.playerCards(tx, [...new Set(tops.map((t) => t.user_id))]);
      const last = shown[shown.length - 1];
      return {
        items: shown.map((p) => ({
          period: p.period_key,
          startsAt: p.starts_at?.toISOString() ?? null,
          endsAt: p.ends_at?.toISOString() ?? null,
          takenAt: p.taken_at.toISOString(),
          final: p.final,
          closedAt: p.final && p.closed_at !== null ? p.closed_at.toISOString() : null,
          entries: p.entries,
          top: tops
            .filter((t) => t.period_key === p.period_key && t.taken_at.getTime() === p.taken_at.getTime())
            .map((t) => ({
              rank: t.rank,
              userId: t.user_id,
              displayName: cards.get(t.user_id)?.display_name ?? "",
              score: t.score,
              reachedAt: t.reached_at.toISOString(),
            })),
        })),
        nextCursor:
          sets.length > query.limit && last !== undefined
            ? `${last.taken_at.getTime()}-${last.period_key}`
            : null,
      };
    });
  }

  private async board(key: string) {
    const row = await this.db.asSystem((tx) =>
      tx.maybeOne<LeaderboardRow>(`SELECT * FROM leaderboards WHERE key = $1 AND active`, [key]),
    );
    if (row === undefined) throw notFound("Leaderboard");
    return { ...toBoardDef(row), snapshotSize: row.snapshot_size };
  }

  private periodOf(
    board: { period: LeaderboardRow["period"]; timeZone: string },
    period: string | undefined,
  ): string {
    if (period === undefined || period === "current") return boardPeriodKey(board, this.clock.now());
    if (!PERIOD_KEY[board.period].test(period)) {
      throw new AppError("validation.failed", `period must be current or a ${board.period} period key`, {
        errors: [{ path: "querystring/period", message: `is not a ${board.period} period of this board` }],
      });
    }
    return period;
  }

  private async isClosed(tx: Tx, boardId: string, period: string): Promise<boolean> {
    const row = await tx.maybeOne<{ closed: boolean }>(
      `SELECT closed_at IS NOT NULL AS closed FROM leaderboard_periods WHERE leaderboard_id = $1 AND period_key = $2`,
      [boardId, period],
    );
    return row?.closed ?? false;
  }

  private async rankOf(tx: Tx, boardId: string, period: string, e: store.EntryRow, closed: boolean) {
    if (closed && e.final_rank !== null) return e.final_rank;
    const position = { rankScore: e.rank_score, reachedMs: e.reached_ms, userId: e.user_id };
    const before = closed
      ? undefined
      : await this.ranks.read((index) =>
          index.rank(listName(boardId, period), {
            score: position.rankScore,
            reachedAt: position.reachedMs,
            userId: position.userId,
          }),
        );
    return (before ?? (await store.countBefore(tx, boardId, period, position))) + 1;
  }

  private async total(tx: Tx, boardId: string, period: string, closed: boolean) {
    const size = closed ? undefined : await this.ranks.read((index) => index.size(listName(boardId, period)));
    return size ?? store.countRanked(tx, boardId, period);
  }

  /** The entries of index keys, in the keys' order. */
  private async entriesFor(tx: Tx, boardId: string, period: string, keys: RankKey[]) {
    const rows = await store.findEntries(
      tx,
      boardId,
      period,
      keys.map((k) => k.userId),
    );
    // An entry that left the ranking since the index was read is not shown.
    const byUser = new Map(rows.filter((r) => r.ranked).map((r) => [r.user_id, r]));
    return keys.flatMap((k) => {
      const r = byUser.get(k.userId);
      return r === undefined ? [] : [r];
    });
  }

  private async rows(
    tx: Tx,
    entries: store.EntryRow[],
    rankOf: (e: store.EntryRow, i: number) => number,
  ): Promise<Row[]> {
    const cards = await store.playerCards(
      tx,
      entries.map((e) => e.user_id),
    );
    return entries.map((e, i) => ({
      rank: rankOf(e, i),
      userId: e.user_id,
      displayName: cards.get(e.user_id)?.display_name ?? "",
      score: e.score,
      level: cards.get(e.user_id)?.level ?? 1,
      badgesCount: cards.get(e.user_id)?.badges ?? 0,
      reachedAt: e.reached_at.toISOString(),
    }));
  }
}

export interface SubmitResult {
  board: string;
  period: string;
  userId: string;
  score: number;
  changed: boolean;
  duplicate: boolean;
}

const sameKey = (a: RankKey, b: RankKey) =>
  a.score === b.score && a.reachedAt === b.reachedAt && a.userId === b.userId;

export type { BoardSource };

/** A snapshot cursor: `<taken at, ms>-<period key>` of the last snapshot shown. */
function decodeSnapshotCursor(cursor: string): { takenAt: Date; periodKey: string } {
  const match = /^(\d{1,15})-(.+)$/.exec(cursor);
  if (match === null) {
    throw new AppError("validation.failed", "The cursor is not valid", {
      errors: [{ path: "querystring/cursor", message: "is not a cursor from this API" }],
    });
  }
  return { takenAt: new Date(Number(match[1])), periodKey: match[2]! };
}
