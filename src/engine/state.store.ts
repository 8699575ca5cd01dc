import type { Tx } from "../platform/db/database.ts";
import {
  protectionsSql,
  toStreakState,
  USER_STREAKS_SQL,
  type UserStreakRow,
} from "../streaks/streaks.store.ts";
import { boostsSql } from "../economy/inventory.store.ts";
import { answerKey, emptyPlayerState, type PlayerState, type StoredAnswer, type Writes } from "./plan.ts";

export interface LockedRow {
  id: string;
  usable: boolean;
  level: number | null;
  time_zone: string;
  day_start_hour: number;
}

/**
 * Locks the progress rows of the given players, creating the rows of players seen for the first
 * time. Returns every player that exists, with whether it may receive events; unknown ids are
 * simply absent.
 *
 * One statement walks the players in id order, locking an existing row (the conflict's no-op
 * update) or creating a missing one as it goes, so batches sharing players take their locks in
 * one global order. Locking the existing rows first and creating the missing ones after could
 * deadlock: a batch holding a row it found could wait for a row another batch had just created,
 * while that batch waited for the first one's row.
 */
export async function lockPlayers(tx: Tx, userIds: string[]): Promise<Map<string, LockedRow>> {
  const ids = [...new Set(userIds)].sort();
  // Each player is looked up by primary key (correlated lookups rather than joins), so even a
  // generic plan never weighs scanning whole tables.
  const rows = await tx.rows<LockedRow>(
    `WITH u AS (SELECT id, is_active AND deleted_at IS NULL AS usable FROM users WHERE id = ANY($1::uuid[])),
     p AS (
       INSERT INTO user_progress (user_id)
       SELECT u.id FROM u
       -- A deactivated player's row is locked if it exists, never created.
       WHERE u.usable OR EXISTS (SELECT 1 FROM user_progress e WHERE e.user_id = u.id)
       ORDER BY u.id
       ON CONFLICT (user_id) DO UPDATE SET level = user_progress.level
       RETURNING user_id, level
     )
     SELECT u.id, u.usable, (SELECT p.level FROM p WHERE p.user_id = u.id) AS level,
            coalesce((SELECT pr.time_zone FROM user_profiles pr WHERE pr.user_id = u.id), 'UTC') AS time_zone,
            coalesce((SELECT pr.day_start_hour FROM user_profiles pr WHERE pr.user_id = u.id), 0) AS day_start_hour
     FROM u`,
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r]));
}

/**
 * Reads, for locked players, what applying their events needs: balances, what capped rules paid
 * in the batch's periods, counters for the batch's stats and days (all lifetime totals when a rule
 * reads the player's state), and the stored answers of the batch's idempotency keys. One statement.
 */
export async function loadStates(
  tx: Tx,
  players: LockedRow[],
  wanted: {
    stats: string[];
    days: string[];
    capPeriods: string[];
    allTotals: boolean;
    keys: { scope: string; userId: string; key: string }[];
    /** Keys of the quest periods the batch touches ("special" included when there are such quests). */
    questPeriods: string[];
    /** Whether streak state (rows, milestones, protections) is needed at all. */
    streaks: boolean;
    /** Protection windows ending before this are not read. */
    protectionsSince: Date;
    /** Board periods the batch may write into, as `${boardId}|${periodKey}`. */
    boardPeriods: string[];
    /** Boosts ending after this are read (the earliest event's time); none when absent. */
    boostsSince?: Date;
  },
): Promise<{ states: Map<string, PlayerState>; answers: Map<string, StoredAnswer>; gone: string[] }> {
  const row = await tx.one<{
    gone: string[];
    wallets: { user_id: string; currency: string; balance: number; earned: number }[] | null;
    caps: { user_id: string; slot: string; amount: number }[] | null;
    daily: { user_id: string; slot: string; value: number }[] | null;
    totals: { user_id: string; stat: string; value: number }[] | null;
    answers:
      | {
          scope: string;
          user_id: string;
          key: string;
          request_hash: string;
          response: StoredAnswer["response"];
        }[]
      | null;
    unlocked: { user_id: string; achievement_id: string }[] | null;
    streaks: UserStreakRow[] | null;
    milestones: { user_id: string; slot: string }[] | null;
    protections: { user_id: string; streak_id: string | null; starts_at: string; ends_at: string }[] | null;
    quests:
      | {
          user_id: string;
          template_id: string;
          period_key: string;
          status: "active" | "completed" | "rerolled";
          progress: number;
          target: number;
          starts_at: string;
          expires_at: string;
          assigned_at: string;
          completed_at: string | null;
          completed_event_id: string | null;
          seen: string[];
        }[]
      | null;
    entries:
      | {
          user_id: string;
          slot: string;
          score: number;
          rank_score: number;
          reached_at: string;
          ranked: boolean;
        }[]
      | null;
    boosts:
      | {
          user_id: string;
          key: string;
          currency: string;
          multiplier: number;
          starts_at: string;
          ends_at: string;
        }[]
      | null;
  }>(
    `SELECT
       (SELECT json_agg(json_build_object('user_id', user_id, 'currency', currency, 'balance', balance,
                                          'earned', lifetime_earned))
        FROM wallets WHERE user_id = ANY($1::uuid[])) AS wallets,
       (SELECT json_agg(json_build_object('user_id', user_id, 'slot', rule_id || '|' || currency || '|' || period_key,
                                          'amount', amount))
        FROM rule_award_totals WHERE user_id = ANY($1::uuid[]) AND period_key = ANY($4::text[])) AS caps,
       (SELECT json_agg(json_build_object('user_id', user_id, 'slot', stat || '|' || to_char(day, 'YYYY-MM-DD'),
                                          'value', value))
        FROM user_stats_daily WHERE user_id = ANY($1::uuid[]) AND stat = ANY($2::text[]) AND day = ANY($3::date[])) AS daily,
       (SELECT json_agg(json_build_object('user_id', user_id, 'stat', stat, 'value', value))
        FROM user_stats_totals WHERE user_id = ANY($1::uuid[]) AND ($5 OR stat = ANY($2::text[]))) AS totals,
       (SELECT json_agg(json_build_object('scope', k.scope, 'user_id', k.user_id, 'key', k.key,
                                          'request_hash', encode(k.request_hash, 'hex'), 'response', k.response))
        FROM unnest($6::text[], $7::uuid[], $8::text[]) AS w(scope, user_id, key)
        -- One primary-key lookup per key, whatever the planner guesses about the array's size.
        CROSS JOIN LATERAL (
          SELECT * FROM idempotency_keys i WHERE i.scope = w.scope AND i.user_id = w.user_id AND i.key = w.key
        ) k) AS answers,
       (SELECT json_agg(json_build_object('user_id', user_id, 'achievement_id', achievement_id))
        FROM user_achievements WHERE user_id = ANY($1::uuid[])) AS unlocked,
       -- Players deactivated or deleted while this batch waited for their locks (the lock statement
       -- judged them on a snapshot taken before it waited; this statement's is taken after).
       ARRAY(SELECT id FROM users WHERE id = ANY($1::uuid[]) AND NOT (is_active AND deleted_at IS NULL)) AS gone,
       (SELECT json_agg(s) FROM (${USER_STREAKS_SQL} WHERE $10 AND us.user_id = ANY($1::uuid[])) s) AS streaks,
       (SELECT json_agg(json_build_object('user_id', user_id, 'slot', streak_id || '|' || count))
        FROM user_streak_milestones WHERE $10 AND user_id = ANY($1::uuid[])) AS milestones,
       (SELECT json_agg(p) FROM (${protectionsSql("$11")} AND $10 AND user_id = ANY($1::uuid[])) p) AS protections,
       (SELECT json_agg(q) FROM (
          SELECT user_id, template_id, period_key, status, progress, target, starts_at, expires_at, assigned_at,
                 completed_at, completed_event_id, seen
          FROM user_quests WHERE user_id = ANY($1::uuid[]) AND period_key = ANY($9::text[])) q) AS quests,
       (SELECT json_agg(json_build_object('user_id', e.user_id, 'slot', e.leaderboard_id || '|' || e.period_key,
                                          'score', e.score, 'rank_score', e.rank_score,
                                          'reached_at', e.reached_at, 'ranked', e.ranked))
        FROM unnest($12::text[]) AS w(slot)
        CROSS JOIN LATERAL (
          SELECT * FROM leaderboard_entries le
          WHERE le.leaderboard_id = split_part(w.slot, '|', 1)::uuid AND le.period_key = split_part(w.slot, '|', 2)
            AND le.user_id = ANY($1::uuid[])
        ) e) AS entries,
       (SELECT json_agg(b) FROM (${boostsSql("$1", "$13")}) b) AS boosts`,
    [
      players.map((p) => p.id),
      wanted.stats,
      wanted.days,
      wanted.capPeriods,
      wanted.allTotals,
      wanted.keys.map((k) => k.scope),
      wanted.keys.map((k) => k.userId),
      wanted.keys.map((k) => k.key),
      wanted.questPeriods,
      wanted.streaks,
      wanted.protectionsSince,
      wanted.boardPeriods,
      wanted.boostsSince ?? null,
    ],
  );
  const states = new Map<string, PlayerState>();
  for (const p of players) {
    states.set(
      p.id,
      emptyPlayerState(p.id, p.level ?? 1, { timeZone: p.time_zone, dayStartHour: p.day_start_hour }),
    );
  }
  const state = (id: string) => states.get(id)!;
  for (const w of row.wallets ?? [])
    state(w.user_id).wallets.set(w.currency, { balance: w.balance, earned: w.earned });
  for (const c of row.caps ?? []) state(c.user_id).capTotals.set(c.slot, c.amount);
  for (const d of row.daily ?? []) state(d.user_id).daily.set(d.slot, d.value);
  for (const t of row.totals ?? []) state(t.user_id).totals.set(t.stat, t.value);
  for (const u of row.unlocked ?? []) state(u.user_id).unlocked.add(u.achievement_id);
  for (const s of row.streaks ?? []) state(s.user_id).streaks.set(s.key, toStreakState(s));
  for (const m of row.milestones ?? []) state(m.user_id).milestones.add(m.slot);
  for (const p of row.protections ?? []) {
    state(p.user_id).protections.push({
      streakId: p.streak_id,
      startsAt: new Date(p.starts_at),
      endsAt: new Date(p.ends_at),
    });
  }
  for (const q of row.quests ?? []) {
    state(q.user_id).quests.set(`${q.template_id}|${q.period_key}`, {
      templateId: q.template_id,
      periodKey: q.period_key,
      status: q.status,
      progress: q.progress,
      target: q.target,
      startsAt: new Date(q.starts_at),
      expiresAt: new Date(q.expires_at),
      assignedAt: new Date(q.assigned_at),
      completedAt: q.completed_at === null ? null : new Date(q.completed_at),
      completedEventId: q.completed_event_id,
      seen: q.seen,
    });
  }
  for (const e of row.entries ?? []) {
    state(e.user_id).entries.set(e.slot, {
      score: e.score,
      rankScore: e.rank_score,
      reachedAt: new Date(e.reached_at),
      ranked: e.ranked,
    });
  }
  for (const b of row.boosts ?? []) {
    state(b.user_id).boosts.push({
      key: b.key,
      currency: b.currency,
      multiplier: b.multiplier,
      startsAt: new Date(b.starts_at),
      endsAt: new Date(b.ends_at),
    });
  }
  const answers = new Map<string, StoredAnswer>();
  for (const a of row.answers ?? []) {
    answers.set(answerKey(a.scope, a.user_id, a.key), {
      requestHash: Buffer.from(a.request_hash, "hex"),
      response: a.response,
    });
  }
  return { states, answers, gone: row.gone };
}

/** Writes everything a batch changed: one statement, one round trip, every table in it. */
export async function writePlan(tx: Tx, w: Writes): Promise<void> {
  const wallets = [...w.wallets.values()].sort((a, b) =>
    (a.userId + a.currency).localeCompare(b.userId + b.currency),
  );
  const caps = [...w.caps.values()];
  const daily = [...w.daily.values()];
  const totals = [...w.totals.values()];
  const progress = [...w.progress.values()];
  const streaks = [...w.streaks.values()];
  const quests = [...w.quests.values()];
  const entries = [...w.entries.values()];
  // New board periods are shared by every player: inserted in one global order, so that two
  // batches creating the same periods cannot each wait on the other's uncommitted row.
  const periods = [...w.periods.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, p]) => p);
  await tx.exec(
    `WITH
     w AS (
       INSERT INTO wallets (user_id, currency, balance, lifetime_earned, allow_negative)
       SELECT x.user_id, x.currency, x.delta, x.earned, c.allow_negative
       FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::bigint[]) AS x(user_id, currency, delta, earned)
       JOIN currencies c ON c.code = x.currency
       -- A net debit (freeze tokens spent) is an update of a wallet that exists: the row an insert
       -- proposes is checked before ON CONFLICT, so a negative balance there would fail the CHECK.
       WHERE x.delta >= 0
       ON CONFLICT (user_id, currency) DO UPDATE SET
         balance = wallets.balance + EXCLUDED.balance,
         lifetime_earned = wallets.lifetime_earned + EXCLUDED.lifetime_earned,
         updated_at = now()
     ),
     wd AS (
       UPDATE wallets SET balance = wallets.balance + x.delta, lifetime_earned = wallets.lifetime_earned + x.earned,
         updated_at = now()
       FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::bigint[]) AS x(user_id, currency, delta, earned)
       WHERE x.delta < 0 AND wallets.user_id = x.user_id AND wallets.currency = x.currency
         AND wallets.user_id = ANY($1::uuid[])
     ),
     l AS (
       -- Ids are drawn in this order, so replaying a wallet's entries by id gives the running sums.
       INSERT INTO ledger_entries (user_id, currency, type, amount, balance_after, reason, source, reference, metadata)
       SELECT user_id, currency, type, amount, balance_after, reason, source, reference, metadata
       FROM unnest($5::uuid[], $6::text[], $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::jsonb[],
                   $45::ledger_type[])
         WITH ORDINALITY AS x(user_id, currency, amount, balance_after, reason, source, reference, metadata, type, ord)
       ORDER BY ord
     ),
     c AS (
       INSERT INTO rule_award_totals (user_id, rule_id, currency, period_key, amount)
       SELECT * FROM unnest($13::uuid[], $14::uuid[], $15::text[], $16::text[], $17::bigint[])
       ON CONFLICT (user_id, rule_id, currency, period_key)
         DO UPDATE SET amount = rule_award_totals.amount + EXCLUDED.amount
     ),
     sd AS (
       INSERT INTO user_stats_daily (user_id, stat, day, value)
       SELECT * FROM unnest($18::uuid[], $19::text[], $20::date[], $21::bigint[])
       ON CONFLICT (user_id, stat, day) DO UPDATE SET value = user_stats_daily.value + EXCLUDED.value
     ),
     st AS (
       INSERT INTO user_stats_totals (user_id, stat, value)
       SELECT * FROM unnest($22::uuid[], $23::text[], $24::bigint[])
       ON CONFLICT (user_id, stat) DO UPDATE SET value = user_stats_totals.value + EXCLUDED.value, updated_at = now()
     ),
     e AS (
       INSERT INTO events (id, user_id, type, occurred_at, source, source_id, parent_id, idempotency_key, data, result,
                           client_ip, user_agent)
       SELECT * FROM unnest($25::uuid[], $26::uuid[], $27::text[], $28::timestamptz[], $29::text[], $30::uuid[],
                            $31::uuid[], $32::text[], $33::jsonb[], $34::jsonb[], $88::inet[], $89::text[])
     ),
     o AS (
       INSERT INTO outbox (user_id, topic, payload)
       SELECT user_id, 'event.applied', payload
       FROM unnest($35::uuid[], $36::jsonb[]) WITH ORDINALITY AS x(user_id, payload, ord) ORDER BY ord
     ),
     k AS (
       INSERT INTO idempotency_keys (scope, user_id, key, request_hash, response)
       SELECT * FROM unnest($37::text[], $38::uuid[], $39::text[], $40::bytea[], $41::jsonb[])
     ),
     a AS (
       INSERT INTO user_achievements (user_id, achievement_id, event_id)
       SELECT * FROM unnest($46::uuid[], $47::uuid[], $48::uuid[])
     ),
     s AS (
       INSERT INTO user_streaks (user_id, streak_id, current, longest, last_period, time_zone, day_start_hour,
                                 started_at, last_event_at, freezes_used, last_activity_at, activity_time_zone,
                                 activity_day_start_hour)
       SELECT * FROM unnest($49::uuid[], $50::uuid[], $51::int[], $52::int[], $53::int[], $54::text[], $55::smallint[],
                            $56::timestamptz[], $57::timestamptz[], $58::int[], $74::timestamptz[], $75::text[],
                            $76::smallint[])
       ON CONFLICT (user_id, streak_id) DO UPDATE SET current = EXCLUDED.current, longest = EXCLUDED.longest,
         last_period = EXCLUDED.last_period, time_zone = EXCLUDED.time_zone, day_start_hour = EXCLUDED.day_start_hour,
         started_at = EXCLUDED.started_at, last_event_at = EXCLUDED.last_event_at,
         freezes_used = EXCLUDED.freezes_used, last_activity_at = EXCLUDED.last_activity_at,
         activity_time_zone = EXCLUDED.activity_time_zone,
         activity_day_start_hour = EXCLUDED.activity_day_start_hour, updated_at = now()
     ),
     m AS (
       INSERT INTO user_streak_milestones (user_id, streak_id, count, event_id)
       SELECT * FROM unnest($59::uuid[], $60::uuid[], $61::int[], $62::uuid[])
     ),
     q AS (
       -- Players are locked, so the planner saw every row; a conflict can only be a quest just
       -- assigned by a reader (GET /v1/me/quests), which holds nothing the planner did not.
       INSERT INTO user_quests (user_id, template_id, period_key, status, progress, target, starts_at, expires_at,
                                assigned_at, completed_at, completed_event_id, seen)
       -- A distinct quest's values go as one JSON array each (unnest cannot take ragged arrays).
       SELECT x.user_id, x.template_id, x.period_key, x.status, x.progress, x.target, x.starts_at, x.expires_at,
              x.assigned_at, x.completed_at, x.completed_event_id, ARRAY(SELECT jsonb_array_elements_text(x.seen))
       FROM unnest($63::uuid[], $64::uuid[], $65::text[], $66::text[], $67::bigint[], $68::bigint[],
                   $69::timestamptz[], $70::timestamptz[], $71::timestamptz[], $72::timestamptz[], $73::uuid[],
                   $90::jsonb[])
         AS x(user_id, template_id, period_key, status, progress, target, starts_at, expires_at, assigned_at,
              completed_at, completed_event_id, seen)
       ON CONFLICT (user_id, template_id, period_key) DO UPDATE SET status = EXCLUDED.status,
         progress = EXCLUDED.progress, completed_at = EXCLUDED.completed_at,
         completed_event_id = EXCLUDED.completed_event_id, seen = EXCLUDED.seen, updated_at = now()
     ),
     lbp AS (
       INSERT INTO leaderboard_periods (leaderboard_id, period_key, starts_at, ends_at)
       SELECT x.id, x.key, coalesce(x.starts_at, '-infinity'), coalesce(x.ends_at, 'infinity')
       FROM unnest($77::uuid[], $78::text[], $79::timestamptz[], $80::timestamptz[]) AS x(id, key, starts_at, ends_at)
       ON CONFLICT DO NOTHING
     ),
     lbe AS (
       INSERT INTO leaderboard_entries (leaderboard_id, period_key, user_id, score, rank_score, reached_at, ranked)
       SELECT * FROM unnest($81::uuid[], $82::text[], $83::uuid[], $84::float8[], $85::float8[], $86::timestamptz[],
                            $87::boolean[])
       ON CONFLICT (leaderboard_id, period_key, user_id) DO UPDATE SET score = EXCLUDED.score,
         rank_score = EXCLUDED.rank_score, reached_at = EXCLUDED.reached_at, ranked = EXCLUDED.ranked,
         updated_at = now()
     )
     UPDATE user_progress p SET level = x.level, events_count = p.events_count + x.counted, updated_at = now()
     FROM unnest($42::uuid[], $43::int[], $44::int[]) AS x(user_id, level, counted)
     -- The ANY lets a generic plan find the rows by primary key instead of scanning the table.
     WHERE p.user_id = x.user_id AND p.user_id = ANY($42::uuid[])`,
    [
      wallets.map((x) => x.userId),
      wallets.map((x) => x.currency),
      wallets.map((x) => x.delta),
      wallets.map((x) => x.earned),
      w.ledger.map((x) => x.userId),
      w.ledger.map((x) => x.currency),
      w.ledger.map((x) => x.amount),
      w.ledger.map((x) => x.balanceAfter),
      w.ledger.map((x) => x.reason),
      w.ledger.map((x) => x.source),
      w.ledger.map((x) => x.reference),
      w.ledger.map((x) => JSON.stringify(x.metadata)),
      caps.map((x) => x.userId),
      caps.map((x) => x.ruleId),
      caps.map((x) => x.currency),
      caps.map((x) => x.periodKey),
      caps.map((x) => x.amount),
      daily.map((x) => x.userId),
      daily.map((x) => x.stat),
      daily.map((x) => x.day),
      daily.map((x) => x.amount),
      totals.map((x) => x.userId),
      totals.map((x) => x.stat),
      totals.map((x) => x.amount),
      w.events.map((x) => x.id),
      w.events.map((x) => x.userId),
      w.events.map((x) => x.type),
      w.events.map((x) => x.occurredAt),
      w.events.map((x) => x.source),
      w.events.map((x) => x.sourceId),
      w.events.map((x) => x.parentId),
      w.events.map((x) => x.idempotencyKey),
      w.events.map((x) => JSON.stringify(x.data)),
      w.events.map((x) => JSON.stringify(x.result)),
      w.outbox.map((x) => x.userId),
      w.outbox.map((x) => JSON.stringify(x.payload)),
      w.answers.map((x) => x.scope),
      w.answers.map((x) => x.userId),
      w.answers.map((x) => x.key),
      w.answers.map((x) => x.requestHash),
      w.answers.map((x) => JSON.stringify(x.response)),
      progress.map((x) => x.userId),
      progress.map((x) => x.level),
      progress.map((x) => x.counted),
      w.ledger.map((x) => x.type),
      w.unlocks.map((x) => x.userId),
      w.unlocks.map((x) => x.achievementId),
      w.unlocks.map((x) => x.eventId),
      streaks.map((x) => x.userId),
      streaks.map((x) => x.streakId),
      streaks.map((x) => x.state.current),
      streaks.map((x) => x.state.longest),
      streaks.map((x) => x.state.lastPeriod),
      streaks.map((x) => x.state.calendar.timeZone),
      streaks.map((x) => x.state.calendar.dayStartHour),
      streaks.map((x) => x.state.startedAt),
      streaks.map((x) => x.state.lastEventAt),
      streaks.map((x) => x.state.freezesUsed),
      w.milestones.map((x) => x.userId),
      w.milestones.map((x) => x.streakId),
      w.milestones.map((x) => x.count),
      w.milestones.map((x) => x.eventId),
      quests.map((x) => x.userId),
      quests.map((x) => x.templateId),
      quests.map((x) => x.periodKey),
      quests.map((x) => x.status),
      quests.map((x) => x.progress),
      quests.map((x) => x.target),
      quests.map((x) => x.startsAt),
      quests.map((x) => x.expiresAt),
      quests.map((x) => x.assignedAt),
      quests.map((x) => x.completedAt),
      quests.map((x) => x.completedEventId),
      streaks.map((x) => x.state.lastActivityAt),
      streaks.map((x) => x.state.activityCalendar.timeZone),
      streaks.map((x) => x.state.activityCalendar.dayStartHour),
      periods.map((x) => x.boardId),
      periods.map((x) => x.periodKey),
      periods.map((x) => x.startsAt),
      periods.map((x) => x.endsAt),
      entries.map((x) => x.boardId),
      entries.map((x) => x.periodKey),
      entries.map((x) => x.userId),
      entries.map((x) => x.entry.score),
      entries.map((x) => x.entry.rankScore),
      entries.map((x) => x.entry.reachedAt),
      entries.map((x) => x.entry.ranked),
      w.events.map((x) => x.client?.ip ?? null),
      w.events.map((x) => x.client?.userAgent?.slice(0, 512) ?? null),
      quests.map((x) => JSON.stringify(x.seen)),
    ],
  );
}

/**
 * Takes a share lock on the board periods a batch may write into and returns those already closed.
 * Closing a period locks its row for update, so a close and an event writing into the period run
 * one after the other: the event either lands before the close counts it, or sees it closed.
 */
export async function lockBoardPeriods(tx: Tx, slots: string[]): Promise<Set<string>> {
  if (slots.length === 0) return new Set();
  const rows = await tx.rows<{ slot: string; closed: boolean }>(
    `SELECT lp.leaderboard_id || '|' || lp.period_key AS slot, lp.closed_at IS NOT NULL AS closed
     FROM unnest($1::text[]) AS w(slot)
     JOIN leaderboard_periods lp ON lp.leaderboard_id = split_part(w.slot, '|', 1)::uuid
       AND lp.period_key = split_part(w.slot, '|', 2)
     ORDER BY 1
     FOR SHARE OF lp`,
    [slots],
  );
  return new Set(rows.filter((r) => r.closed).map((r) => r.slot));
}
