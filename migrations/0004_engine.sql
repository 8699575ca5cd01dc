-- Up Migration

-- Definitions (currencies, event types, rules) are shared by every player: anyone may read them,
-- only system transactions (admin routes, content loading) may change them.

CREATE TABLE currencies (
  code text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,31}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  description text CHECK (length(description) <= 1000),
  allow_negative boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO currencies (code, name, description) VALUES
  ('xp', 'Experience', 'Experience points; levels are derived from the total'),
  ('coins', 'Coins', 'The spendable currency of the shop'),
  ('score', 'Score', 'A competitive score; never negative');

CREATE TABLE event_types (
  key text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$' AND length(key) <= 64),
  description text CHECK (length(description) <= 1000),
  -- JSON Schema that an event's data must satisfy.
  data_schema jsonb NOT NULL DEFAULT '{"type": "object"}',
  -- Players may send this type themselves (otherwise only app backends with an API key).
  client_writable boolean NOT NULL DEFAULT false,
  -- At most this many client-sent events of the type per player per day (in the player's zone).
  client_daily_cap integer CHECK (client_daily_cap > 0),
  -- Emitted by Ludus itself (level.up): nobody may send it.
  system boolean NOT NULL DEFAULT false,
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO event_types (key, description, data_schema, system) VALUES
  ('level.up', 'A player reached a new level (emitted by Ludus)',
   '{"type": "object", "required": ["level"], "properties": {"level": {"type": "integer"}, "previousLevel": {"type": "integer"}}}',
   true);

CREATE TABLE rules (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  key text NOT NULL UNIQUE CHECK (key ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description text CHECK (length(description) <= 1000),
  event_type text NOT NULL REFERENCES event_types (key) ON UPDATE CASCADE,
  -- A MongoDB-style query over {event, player}; null matches every event of the type.
  condition jsonb,
  -- [{currency, amount} | {currency, field, multiplier, max}]
  awards jsonb NOT NULL DEFAULT '[]',
  -- [{stat, amount} | {stat, field}]
  counters jsonb NOT NULL DEFAULT '[]',
  -- [{currency, period: day|week|month, max}]: the most this rule pays a player per period
  caps jsonb NOT NULL DEFAULT '[]',
  priority integer NOT NULL DEFAULT 0,
  active boolean NOT NULL DEFAULT true,
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rules_event_type_idx ON rules (event_type) WHERE active;

-- Every version of every rule, so "why did this event pay 20?" can be answered later.
CREATE TABLE rule_versions (
  rule_id uuid NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
  version integer NOT NULL,
  definition jsonb NOT NULL,
  changed_by uuid,
  changed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (rule_id, version)
);

-- Per player: the lock that serialises their events, their level, and seed 000's progress flags.
CREATE TABLE user_progress (
  user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  level integer NOT NULL DEFAULT 1 CHECK (level >= 1),
  recipes_unlocked integer NOT NULL DEFAULT 0 CHECK (recipes_unlocked >= 0),
  has_claimed_gift boolean NOT NULL DEFAULT false,
  events_count bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One balance per player and currency. allow_negative is copied from the currency when the wallet
-- is made, so a CHECK (which cannot look at other tables) can keep balances non-negative.
CREATE TABLE wallets (
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  currency text NOT NULL REFERENCES currencies (code),
  balance bigint NOT NULL DEFAULT 0,
  lifetime_earned bigint NOT NULL DEFAULT 0 CHECK (lifetime_earned >= 0),
  allow_negative boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, currency),
  CONSTRAINT wallets_non_negative CHECK (allow_negative OR balance >= 0)
);

CREATE TYPE ledger_type AS ENUM ('earn', 'spend', 'reward', 'bonus', 'purchase', 'adjust', 'refund');

-- Every change of every balance. Immutable; ids grow in the order entries were written, and a
-- wallet's entries are written under its row lock, so ordering by id replays its history.
CREATE TABLE ledger_entries (
  id bigint GENERATED ALWAYS AS IDENTITY,
  created_at timestamptz NOT NULL DEFAULT now(),
  user_id uuid NOT NULL,
  currency text NOT NULL,
  type ledger_type NOT NULL,
  amount bigint NOT NULL CHECK (amount <> 0),
  balance_after bigint NOT NULL,
  reason text NOT NULL CHECK (length(reason) <= 500),
  source text NOT NULL CHECK (length(source) <= 200),
  reference text CHECK (length(reference) <= 200),
  metadata jsonb,
  PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX ledger_entries_wallet_idx ON ledger_entries (user_id, currency, id);
CREATE INDEX ledger_entries_user_idx ON ledger_entries (user_id, id DESC);
SELECT ludus_ensure_monthly_partitions('ledger_entries', (now() - interval '1 month')::date, 5);

-- Seed 004's score history, as a view of the score ledger: before, after, change, action, source.
CREATE VIEW score_history WITH (security_invoker = true) AS
  SELECT id, user_id, balance_after - amount AS score_before, balance_after AS score_after,
         amount AS score_change, reason AS action, source, reference, created_at
  FROM ledger_entries WHERE currency = 'score';

-- How much each rule has paid a player in each capped period.
CREATE TABLE rule_award_totals (
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  rule_id uuid NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
  currency text NOT NULL,
  period_key text NOT NULL,
  amount bigint NOT NULL,
  PRIMARY KEY (user_id, rule_id, currency, period_key)
);

-- Seed 000 user_statistics: daily counters in the player's zone, plus lifetime totals.
CREATE TABLE user_stats_daily (
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  stat text NOT NULL CHECK (length(stat) <= 100),
  day date NOT NULL,
  value bigint NOT NULL,
  PRIMARY KEY (user_id, stat, day)
);
CREATE TABLE user_stats_totals (
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  stat text NOT NULL CHECK (length(stat) <= 100),
  value bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, stat)
);

-- Every event applied (seed 000 activity_logs, seed 001 behaviour logs), by month of receipt.
CREATE TABLE events (
  id uuid NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  user_id uuid NOT NULL,
  type text NOT NULL,
  occurred_at timestamptz NOT NULL,
  source text NOT NULL CHECK (source IN ('api_key', 'player', 'system', 'admin')),
  source_id uuid,
  parent_id uuid,
  idempotency_key text,
  data jsonb NOT NULL,
  result jsonb NOT NULL,
  PRIMARY KEY (id, received_at)
) PARTITION BY RANGE (received_at);
CREATE INDEX events_user_idx ON events (user_id, received_at DESC, id DESC);
CREATE INDEX events_type_idx ON events (type, received_at DESC);
SELECT ludus_ensure_monthly_partitions('events', (now() - interval '1 month')::date, 5);

-- A replayed request returns the first answer. Scoped by caller and player.
CREATE TABLE idempotency_keys (
  scope text NOT NULL,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  key text NOT NULL CHECK (length(key) <= 200),
  request_hash bytea NOT NULL,
  response jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, user_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Effects to deliver after commit (realtime, notifications, webhooks), written in the event's transaction.
CREATE TABLE outbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id uuid NOT NULL,
  topic text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  dispatched_at timestamptz
);
CREATE INDEX outbox_pending_idx ON outbox (id) WHERE dispatched_at IS NULL;

-- Row-level security.
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['currencies', 'event_types', 'rules', 'rule_versions'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY %I ON %I FOR SELECT USING (true)', t || '_read', t);
    EXECUTE format('CREATE POLICY %I ON %I FOR ALL USING (ludus_is_system()) WITH CHECK (ludus_is_system())', t || '_write', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO ludus_app', t);
  END LOOP;
  FOREACH t IN ARRAY ARRAY['user_progress', 'wallets', 'ledger_entries', 'rule_award_totals', 'user_stats_daily',
                           'user_stats_totals', 'events', 'idempotency_keys', 'outbox'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY %I ON %I USING (user_id = ludus_acting_user() OR ludus_is_system()) '
                   'WITH CHECK (user_id = ludus_acting_user() OR ludus_is_system())', t || '_owner', t);
  END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE ON user_progress, wallets, rule_award_totals, user_stats_daily, user_stats_totals TO ludus_app;
-- History is append-only for the application.
GRANT SELECT, INSERT ON ledger_entries, events TO ludus_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO ludus_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox TO ludus_app;
GRANT SELECT ON score_history TO ludus_app;

-- Down Migration

DROP TABLE outbox;
DROP TABLE idempotency_keys;
DROP TABLE events;
DROP TABLE user_stats_totals;
DROP TABLE user_stats_daily;
DROP TABLE rule_award_totals;
DROP VIEW score_history;
DROP TABLE ledger_entries;
DROP TYPE ledger_type;
DROP TABLE wallets;
DROP TABLE user_progress;
DROP TABLE rule_versions;
DROP TABLE rules;
DROP TABLE event_types;
DROP TABLE currencies;
