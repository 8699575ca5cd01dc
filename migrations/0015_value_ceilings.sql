-- Up Migration

-- Every balance, lifetime total, counter and board score stays within ±10^15 (LIMITS.valueCeiling in
-- src/platform/limits.ts), far enough below 2^53 that JavaScript reads each of them, and any sum of
-- two, exactly. The application refuses to cross the ceiling before it writes; these constraints
-- make sure that even a bug cannot store more. Their names end in `_ceiling`: a write they refuse
-- answers 409 limits.ceiling_reached.
--
-- NOT VALID: rows written before this migration are not checked (a database that already holds
-- such a value still starts; `ludus verify` lists the value), every row written from now on is.

ALTER TABLE wallets
  ADD CONSTRAINT wallets_balance_ceiling
    CHECK (balance BETWEEN -1000000000000000 AND 1000000000000000) NOT VALID,
  ADD CONSTRAINT wallets_lifetime_earned_ceiling
    CHECK (lifetime_earned <= 1000000000000000) NOT VALID;

ALTER TABLE ledger_entries
  ADD CONSTRAINT ledger_entries_amount_ceiling
    CHECK (amount BETWEEN -1000000000000000 AND 1000000000000000) NOT VALID,
  ADD CONSTRAINT ledger_entries_balance_after_ceiling
    CHECK (balance_after BETWEEN -1000000000000000 AND 1000000000000000) NOT VALID;

ALTER TABLE rule_award_totals
  ADD CONSTRAINT rule_award_totals_amount_ceiling
    CHECK (amount BETWEEN -1000000000000000 AND 1000000000000000) NOT VALID;

ALTER TABLE user_stats_daily
  ADD CONSTRAINT user_stats_daily_value_ceiling
    CHECK (value BETWEEN -1000000000000000 AND 1000000000000000) NOT VALID;

ALTER TABLE user_stats_totals
  ADD CONSTRAINT user_stats_totals_value_ceiling
    CHECK (value BETWEEN -1000000000000000 AND 1000000000000000) NOT VALID;

ALTER TABLE user_progress
  ADD CONSTRAINT user_progress_events_count_ceiling
    CHECK (events_count BETWEEN 0 AND 1000000000000000) NOT VALID;

ALTER TABLE user_quests
  ADD CONSTRAINT user_quests_progress_ceiling
    CHECK (progress <= 1000000000000000 AND target <= 1000000000000000) NOT VALID;

-- Scores are double precision: the ceiling also keeps out NaN and ±Infinity (no JSON for them).
ALTER TABLE leaderboard_entries
  ADD CONSTRAINT leaderboard_entries_score_ceiling
    CHECK (score BETWEEN -1e15 AND 1e15 AND rank_score BETWEEN -1e15 AND 1e15) NOT VALID;

ALTER TABLE leaderboard_snapshots
  ADD CONSTRAINT leaderboard_snapshots_score_ceiling
    CHECK (score BETWEEN -1e15 AND 1e15) NOT VALID;

ALTER TABLE leaderboards
  ADD CONSTRAINT leaderboards_min_score_ceiling
    CHECK (min_score BETWEEN -1e15 AND 1e15) NOT VALID;

-- Down Migration

ALTER TABLE leaderboards DROP CONSTRAINT leaderboards_min_score_ceiling;
ALTER TABLE leaderboard_snapshots DROP CONSTRAINT leaderboard_snapshots_score_ceiling;
ALTER TABLE leaderboard_entries DROP CONSTRAINT leaderboard_entries_score_ceiling;
ALTER TABLE user_quests DROP CONSTRAINT user_quests_progress_ceiling;
ALTER TABLE user_progress DROP CONSTRAINT user_progress_events_count_ceiling;
ALTER TABLE user_stats_totals DROP CONSTRAINT user_stats_totals_value_ceiling;
ALTER TABLE user_stats_daily DROP CONSTRAINT user_stats_daily_value_ceiling;
ALTER TABLE rule_award_totals DROP CONSTRAINT rule_award_totals_amount_ceiling;
ALTER TABLE ledger_entries
  DROP CONSTRAINT ledger_entries_balance_after_ceiling,
  DROP CONSTRAINT ledger_entries_amount_ceiling;
ALTER TABLE wallets
  DROP CONSTRAINT wallets_lifetime_earned_ceiling,
  DROP CONSTRAINT wallets_balance_ceiling;
