-- Up Migration

-- Snapshots are taken when a period closes and, for periods that never close (all time), on a
-- schedule (seed 004 keeps top-10 snapshots for daily, weekly, monthly and all-time boards). One
-- row per taking: when, whether it is the period's final one, and how many entries were ranked.
CREATE TABLE leaderboard_snapshot_sets (
  leaderboard_id uuid NOT NULL REFERENCES leaderboards (id) ON DELETE CASCADE,
  period_key text NOT NULL,
  taken_at timestamptz NOT NULL,
  final boolean NOT NULL,
  entries integer NOT NULL,
  PRIMARY KEY (leaderboard_id, period_key, taken_at)
);
CREATE INDEX leaderboard_snapshot_sets_recent_idx
  ON leaderboard_snapshot_sets (leaderboard_id, taken_at DESC, period_key DESC);

INSERT INTO leaderboard_snapshot_sets (leaderboard_id, period_key, taken_at, final, entries)
  SELECT leaderboard_id, period_key, closed_at, true, coalesce(entries, 0)
  FROM leaderboard_periods WHERE closed_at IS NOT NULL;

ALTER TABLE leaderboard_snapshots ADD COLUMN taken_at timestamptz;
UPDATE leaderboard_snapshots s SET taken_at = p.closed_at
  FROM leaderboard_periods p
  WHERE p.leaderboard_id = s.leaderboard_id AND p.period_key = s.period_key;
DELETE FROM leaderboard_snapshots WHERE taken_at IS NULL;
ALTER TABLE leaderboard_snapshots
  ALTER COLUMN taken_at SET NOT NULL,
  DROP CONSTRAINT leaderboard_snapshots_pkey,
  ADD PRIMARY KEY (leaderboard_id, period_key, taken_at, rank);

ALTER TABLE leaderboard_snapshot_sets ENABLE ROW LEVEL SECURITY;
ALTER TABLE leaderboard_snapshot_sets FORCE ROW LEVEL SECURITY;
CREATE POLICY leaderboard_snapshot_sets_read ON leaderboard_snapshot_sets FOR SELECT USING (true);
CREATE POLICY leaderboard_snapshot_sets_write ON leaderboard_snapshot_sets FOR ALL
  USING (ludus_is_system()) WITH CHECK (ludus_is_system());
GRANT SELECT, INSERT ON leaderboard_snapshot_sets TO ludus_app;

-- Seed 000 activity_logs: where a player's own events came from.
ALTER TABLE events
  ADD COLUMN client_ip inet,
  ADD COLUMN user_agent text CHECK (length(user_agent) <= 512);
-- Events stay append-only; erasure may only blank where they came from.
GRANT UPDATE (client_ip, user_agent) ON events TO ludus_app;

-- Quests that count each value of a field once: "breakfast, lunch and dinner", "five different
-- friends" (seed 000's Daily Nutrition Log and Social Engagement). The values counted so far.
ALTER TABLE quest_templates DROP CONSTRAINT quest_templates_mode_check,
  ADD CONSTRAINT quest_templates_mode_check CHECK (mode IN ('sum', 'max', 'distinct'));
ALTER TABLE user_quests ADD COLUMN seen text[] NOT NULL DEFAULT '{}';

-- Down Migration

ALTER TABLE user_quests DROP COLUMN seen;
UPDATE quest_templates SET mode = 'sum' WHERE mode = 'distinct';
ALTER TABLE quest_templates DROP CONSTRAINT quest_templates_mode_check,
  ADD CONSTRAINT quest_templates_mode_check CHECK (mode IN ('sum', 'max'));

REVOKE UPDATE (client_ip, user_agent) ON events FROM ludus_app;
ALTER TABLE events DROP COLUMN user_agent, DROP COLUMN client_ip;
DELETE FROM leaderboard_snapshots s USING leaderboard_periods p
  WHERE p.leaderboard_id = s.leaderboard_id AND p.period_key = s.period_key
    AND (p.closed_at IS NULL OR s.taken_at <> p.closed_at);
ALTER TABLE leaderboard_snapshots
  DROP CONSTRAINT leaderboard_snapshots_pkey,
  ADD PRIMARY KEY (leaderboard_id, period_key, rank),
  DROP COLUMN taken_at;
DROP TABLE leaderboard_snapshot_sets;
