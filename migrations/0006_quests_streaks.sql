-- Up Migration

-- A currency may have a ceiling on what one player holds (freeze tokens: at most 2, say).
-- Awards beyond it are cut to the room left; admin credits beyond it are refused.
ALTER TABLE currencies ADD COLUMN max_balance bigint CHECK (max_balance > 0);

-- A player may start their day later than midnight (a night owl's day runs 04:00–04:00). Daily
-- statistics, quests and streaks all use it.
ALTER TABLE user_profiles ADD COLUMN day_start_hour smallint NOT NULL DEFAULT 0
  CHECK (day_start_hour BETWEEN 0 AND 23);

-- Achievements may measure a streak: streaks.<key> is the longest that streak has been.
ALTER TABLE achievements DROP CONSTRAINT achievements_metric_check;
ALTER TABLE achievements ADD CONSTRAINT achievements_metric_check
  CHECK (metric ~ '^(level|(stats|earned|balances)\.[a-z][a-z0-9_.]*|streaks\.[a-z0-9][a-z0-9_.-]*)$');

-- Streaks (seed 000 streaks, seed 001 cadence and longest count). One definition, many players.
CREATE TABLE streak_definitions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  key text NOT NULL UNIQUE CHECK (key ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
  category text NOT NULL DEFAULT 'general' CHECK (length(category) <= 50),
  cadence text NOT NULL CHECK (cadence IN ('day', 'week', 'month')),
  -- The event types that count, and an optional condition over {event, player}.
  event_types text[] NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 20),
  condition jsonb,
  -- An event sent after its period ended still counts for that period if it arrives within this
  -- many hours of the end; later, it counts for the period it arrived in.
  grace_hours integer NOT NULL DEFAULT 6 CHECK (grace_hours BETWEEN 0 AND 168),
  -- The currency whose tokens cover missed periods (null: this streak cannot be frozen).
  freeze_currency text REFERENCES currencies (code),
  -- [{count, rewards: [{currency, amount}]}], paid once per player when current reaches count.
  milestones jsonb NOT NULL DEFAULT '[]',
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- A player's streak. Periods are numbered (days, ISO weeks or months since 1970 in the calendar
-- the player had when the period was counted); the calendar is kept so that a change of zone is
-- measured in both, and never gains or loses a period by itself.
CREATE TABLE user_streaks (
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  streak_id uuid NOT NULL REFERENCES streak_definitions (id) ON DELETE CASCADE,
  current integer NOT NULL CHECK (current >= 0),
  longest integer NOT NULL CHECK (longest >= current),
  last_period integer NOT NULL,
  time_zone text NOT NULL,
  day_start_hour smallint NOT NULL,
  started_at timestamptz NOT NULL,
  last_event_at timestamptz NOT NULL,
  -- The last activity (counted or not) and the calendar then: after a change of zone it keeps a
  -- period the new calendar could not count from being taken for a missed one.
  last_activity_at timestamptz NOT NULL,
  activity_time_zone text NOT NULL,
  activity_day_start_hour smallint NOT NULL,
  freezes_used integer NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, streak_id)
);

-- The primary key is the guarantee that a milestone pays once per player.
CREATE TABLE user_streak_milestones (
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  streak_id uuid NOT NULL REFERENCES streak_definitions (id) ON DELETE CASCADE,
  count integer NOT NULL,
  event_id uuid NOT NULL,
  reached_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, streak_id, count)
);

-- A window in which missed periods of one streak (or all, when streak_id is null) are forgiven.
CREATE TABLE streak_protections (
  id bigint GENERATED ALWAYS AS IDENTITY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  streak_id uuid REFERENCES streak_definitions (id) ON DELETE CASCADE,
  starts_at timestamptz NOT NULL,
  ends_at timestamptz NOT NULL,
  source text NOT NULL CHECK (length(source) <= 200),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, id),
  CHECK (ends_at > starts_at)
);

-- Quests (seed 000 quests and user_quests). Pools hand each player N of their templates per period.
CREATE TABLE quest_pools (
  key text PRIMARY KEY CHECK (key ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  size integer NOT NULL CHECK (size BETWEEN 1 AND 50),
  -- How many of the pool's quests a player may swap for others each period.
  rerolls integer NOT NULL DEFAULT 1 CHECK (rerolls BETWEEN 0 AND 10),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE quest_templates (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  key text NOT NULL UNIQUE CHECK (key ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
  category text NOT NULL DEFAULT 'general' CHECK (length(category) <= 50),
  difficulty text NOT NULL DEFAULT 'easy' CHECK (difficulty IN ('easy', 'medium', 'hard', 'epic', 'legendary')),
  cadence text NOT NULL CHECK (cadence IN ('day', 'week', 'month', 'special')),
  -- A special quest runs once, between these instants; recurring ones may be limited to a window too.
  starts_at timestamptz,
  ends_at timestamptz,
  target bigint NOT NULL CHECK (target > 0),
  -- What advances it: event types, an optional condition over {event, player}, by 1 or by a
  -- number field of the event, summed or (mode max) the largest seen.
  event_types text[] NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 20),
  condition jsonb,
  amount_field text CHECK (amount_field ~ '^data(\.[A-Za-z0-9_]+)+$'),
  mode text NOT NULL DEFAULT 'sum' CHECK (mode IN ('sum', 'max')),
  rewards jsonb NOT NULL DEFAULT '[]',
  -- Hours a player has from assignment; the period's end is the limit in any case.
  time_limit_hours integer CHECK (time_limit_hours BETWEEN 1 AND 8784),
  pool text REFERENCES quest_pools (key),
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (cadence <> 'special' OR (starts_at IS NOT NULL AND ends_at IS NOT NULL)),
  CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at)
);

-- A quest given to a player for one period (its key in the player's calendar, or 'special').
-- The primary key makes assignment, and so completion and its reward, happen once.
CREATE TABLE user_quests (
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  template_id uuid NOT NULL REFERENCES quest_templates (id) ON DELETE CASCADE,
  period_key text NOT NULL CHECK (length(period_key) <= 20),
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'rerolled')),
  progress bigint NOT NULL DEFAULT 0 CHECK (progress >= 0),
  target bigint NOT NULL,
  -- Events that happened in [starts_at, expires_at) advance it.
  starts_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  assigned_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  completed_event_id uuid,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, template_id, period_key),
  CHECK (status <> 'completed' OR (completed_at IS NOT NULL AND progress >= target))
);
CREATE INDEX user_quests_user_expires_idx ON user_quests (user_id, expires_at DESC);

INSERT INTO event_types (key, description, data_schema, system) VALUES
  ('streak.extended', 'A player''s streak counted a new period (emitted by Ludus)',
   '{"type": "object", "required": ["key", "current"], "properties": {"key": {"type": "string"}, "current": {"type": "integer"}, "longest": {"type": "integer"}}}',
   true),
  ('quest.completed', 'A player completed a quest (emitted by Ludus)',
   '{"type": "object", "required": ["key", "period"], "properties": {"key": {"type": "string"}, "period": {"type": "string"}}}',
   true);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['streak_definitions', 'quest_pools', 'quest_templates'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY %I ON %I FOR SELECT USING (true)', t || '_read', t);
    EXECUTE format('CREATE POLICY %I ON %I FOR ALL USING (ludus_is_system()) WITH CHECK (ludus_is_system())',
                   t || '_write', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %I TO ludus_app', t);
  END LOOP;
  FOREACH t IN ARRAY ARRAY['user_streaks', 'user_streak_milestones', 'streak_protections', 'user_quests'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY %I ON %I USING (user_id = ludus_acting_user() OR ludus_is_system()) '
                   'WITH CHECK (user_id = ludus_acting_user() OR ludus_is_system())', t || '_owner', t);
  END LOOP;
END $$;
GRANT SELECT, INSERT, UPDATE ON user_streaks, user_quests TO ludus_app;
GRANT SELECT, INSERT ON user_streak_milestones, streak_protections TO ludus_app;

-- Down Migration

DELETE FROM rules WHERE event_type IN ('streak.extended', 'quest.completed');
DELETE FROM event_types WHERE key IN ('streak.extended', 'quest.completed');
DROP TABLE user_quests;
DROP TABLE quest_templates;
DROP TABLE quest_pools;
DROP TABLE streak_protections;
DROP TABLE user_streak_milestones;
DROP TABLE user_streaks;
DROP TABLE streak_definitions;
DELETE FROM achievements WHERE metric LIKE 'streaks.%';
ALTER TABLE achievements DROP CONSTRAINT achievements_metric_check;
ALTER TABLE achievements ADD CONSTRAINT achievements_metric_check
  CHECK (metric ~ '^(level|(stats|earned|balances)\.[a-z][a-z0-9_.]*)$');
ALTER TABLE user_profiles DROP COLUMN day_start_hour;
ALTER TABLE currencies DROP COLUMN max_balance;
