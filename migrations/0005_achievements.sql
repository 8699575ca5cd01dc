-- Up Migration

CREATE TYPE achievement_rarity AS ENUM ('common', 'uncommon', 'rare', 'epic', 'legendary');

-- An achievement unlocks when a player's metric reaches its target (and its optional condition
-- holds), inside the transaction of the event that got it there. Seed 000 achievements, with
-- seed 001's hidden and seasonal ones.
CREATE TABLE achievements (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  key text NOT NULL UNIQUE CHECK (key ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
  category text NOT NULL DEFAULT 'general' CHECK (length(category) <= 50),
  rarity achievement_rarity NOT NULL DEFAULT 'common',
  icon text CHECK (length(icon) <= 200),
  color text CHECK (color ~ '^#[0-9A-Fa-f]{6}$'),
  -- [{currency, amount}]
  rewards jsonb NOT NULL DEFAULT '[]',
  -- What is measured: level, stats.<counter>, earned.<currency> or balances.<currency>.
  metric text NOT NULL CHECK (metric ~ '^(level|(stats|earned|balances)\.[a-z][a-z0-9_.]*)$'),
  target bigint NOT NULL CHECK (target > 0),
  -- An optional MongoDB-style condition over the player, as in rules.
  condition jsonb,
  hidden boolean NOT NULL DEFAULT false,
  starts_at timestamptz,
  ends_at timestamptz,
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at)
);

-- The primary key is the guarantee that an achievement unlocks (and pays) once per player.
CREATE TABLE user_achievements (
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  achievement_id uuid NOT NULL REFERENCES achievements (id) ON DELETE CASCADE,
  unlocked_at timestamptz NOT NULL DEFAULT now(),
  event_id uuid,
  -- Seed 000's is_notified: the player has seen the unlock.
  seen_at timestamptz,
  PRIMARY KEY (user_id, achievement_id)
);

INSERT INTO event_types (key, description, data_schema, system) VALUES
  ('achievement.unlocked', 'A player unlocked an achievement (emitted by Ludus)',
   '{"type": "object", "required": ["key"], "properties": {"key": {"type": "string"}}}', true);

ALTER TABLE achievements ENABLE ROW LEVEL SECURITY;
ALTER TABLE achievements FORCE ROW LEVEL SECURITY;
CREATE POLICY achievements_read ON achievements FOR SELECT USING (true);
CREATE POLICY achievements_write ON achievements FOR ALL USING (ludus_is_system()) WITH CHECK (ludus_is_system());
GRANT SELECT, INSERT, UPDATE ON achievements TO ludus_app;

ALTER TABLE user_achievements ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_achievements FORCE ROW LEVEL SECURITY;
CREATE POLICY user_achievements_owner ON user_achievements
  USING (user_id = ludus_acting_user() OR ludus_is_system())
  WITH CHECK (user_id = ludus_acting_user() OR ludus_is_system());
GRANT SELECT, INSERT, UPDATE ON user_achievements TO ludus_app;

-- Down Migration

DELETE FROM rules WHERE event_type = 'achievement.unlocked';
DELETE FROM event_types WHERE key = 'achievement.unlocked';
DROP TABLE user_achievements;
DROP TABLE achievements;
DROP TYPE achievement_rarity;
