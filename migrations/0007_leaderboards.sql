-- Up Migration

-- A leaderboard ranks players by one figure over a period in the board's time zone (seed 000
-- leaderboard entries, seed 003 best score and WPM, seed 004 current/lifetime score and snapshots).
CREATE TABLE leaderboards (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  key text NOT NULL UNIQUE CHECK (key ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
  category text NOT NULL DEFAULT 'general' CHECK (length(category) <= 50),
  -- What is ranked: {"kind": "currency", "currency"} (earned in the period), {"kind": "counter",
  -- "stat"}, {"kind": "level"}, {"kind": "event", "eventType", "field"} (a number in an event), or
  -- {"kind": "submitted"} (scores sent by an app backend).
  source jsonb NOT NULL,
  period text NOT NULL CHECK (period IN ('day', 'week', 'month', 'all')),
  time_zone text NOT NULL DEFAULT 'UTC',
  sort text NOT NULL DEFAULT 'desc' CHECK (sort IN ('desc', 'asc')),
  -- sum: add up; best: keep the best; latest: keep the last.
  operator text NOT NULL CHECK (operator IN ('sum', 'best', 'latest')),
  -- Entries below this (above, for asc boards) are kept but not ranked.
  min_score double precision,
  snapshot_size integer NOT NULL DEFAULT 10 CHECK (snapshot_size BETWEEN 1 AND 1000),
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per board, period and player. rank_score is the score made "higher is better" (negated
-- on asc boards), so one index serves every board in rank order: top-N pages read straight off it.
-- Ties go to the earlier reached_at, then the smaller user id.
CREATE TABLE leaderboard_entries (
  leaderboard_id uuid NOT NULL REFERENCES leaderboards (id) ON DELETE CASCADE,
  period_key text NOT NULL CHECK (length(period_key) <= 20),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  score double precision NOT NULL,
  rank_score double precision NOT NULL,
  reached_at timestamptz NOT NULL,
  -- Whether the entry is ranked (its score meets the board's minimum).
  ranked boolean NOT NULL DEFAULT true,
  -- The rank it closed the period with (set when the period is closed).
  final_rank integer,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (leaderboard_id, period_key, user_id)
);
CREATE INDEX leaderboard_entries_rank_idx
  ON leaderboard_entries (leaderboard_id, period_key, rank_score DESC, reached_at, user_id) WHERE ranked;

-- Each period of each board, and when it was closed: closing sets closed_at once.
CREATE TABLE leaderboard_periods (
  leaderboard_id uuid NOT NULL REFERENCES leaderboards (id) ON DELETE CASCADE,
  period_key text NOT NULL,
  starts_at timestamptz NOT NULL,
  ends_at timestamptz NOT NULL,
  closed_at timestamptz,
  entries integer,
  PRIMARY KEY (leaderboard_id, period_key)
);
CREATE INDEX leaderboard_periods_open_idx ON leaderboard_periods (ends_at) WHERE closed_at IS NULL;

-- The top of a closed period (seed 004 leaderboard snapshots, top 10 by default).
CREATE TABLE leaderboard_snapshots (
  leaderboard_id uuid NOT NULL REFERENCES leaderboards (id) ON DELETE CASCADE,
  period_key text NOT NULL,
  rank integer NOT NULL CHECK (rank > 0),
  user_id uuid NOT NULL,
  score double precision NOT NULL,
  reached_at timestamptz NOT NULL,
  PRIMARY KEY (leaderboard_id, period_key, rank)
);

ALTER TABLE leaderboards ENABLE ROW LEVEL SECURITY;
ALTER TABLE leaderboards FORCE ROW LEVEL SECURITY;
CREATE POLICY leaderboards_read ON leaderboards FOR SELECT USING (true);
CREATE POLICY leaderboards_write ON leaderboards FOR ALL USING (ludus_is_system()) WITH CHECK (ludus_is_system());
GRANT SELECT, INSERT, UPDATE ON leaderboards TO ludus_app;

-- Boards are public: everyone reads every entry; a player's transaction writes only their own.
ALTER TABLE leaderboard_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE leaderboard_entries FORCE ROW LEVEL SECURITY;
CREATE POLICY leaderboard_entries_read ON leaderboard_entries FOR SELECT USING (true);
CREATE POLICY leaderboard_entries_write ON leaderboard_entries FOR INSERT
  WITH CHECK (user_id = ludus_acting_user() OR ludus_is_system());
CREATE POLICY leaderboard_entries_update ON leaderboard_entries FOR UPDATE
  USING (user_id = ludus_acting_user() OR ludus_is_system())
  WITH CHECK (user_id = ludus_acting_user() OR ludus_is_system());
GRANT SELECT, INSERT, UPDATE ON leaderboard_entries TO ludus_app;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['leaderboard_periods', 'leaderboard_snapshots'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY %I ON %I FOR SELECT USING (true)', t || '_read', t);
    EXECUTE format('CREATE POLICY %I ON %I FOR ALL USING (ludus_is_system()) WITH CHECK (ludus_is_system())',
                   t || '_write', t);
  END LOOP;
END $$;
-- Players' events open the periods they write into.
CREATE POLICY leaderboard_periods_open ON leaderboard_periods FOR INSERT WITH CHECK (closed_at IS NULL);
-- … and share-lock them (SELECT … FOR SHARE needs an UPDATE policy), without being able to change them.
CREATE POLICY leaderboard_periods_lock ON leaderboard_periods FOR UPDATE USING (true) WITH CHECK (ludus_is_system());
GRANT SELECT, INSERT, UPDATE ON leaderboard_periods TO ludus_app;
GRANT SELECT, INSERT ON leaderboard_snapshots TO ludus_app;

-- Down Migration

DROP TABLE leaderboard_snapshots;
DROP TABLE leaderboard_periods;
DROP TABLE leaderboard_entries;
DROP TABLE leaderboards;
