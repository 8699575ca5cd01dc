-- Up Migration

-- Delivery: the outbox becomes a queue the dispatcher works through in order per player, with
-- retries and dead letters; webhooks for app backends; notifications with preferences per channel.
-- Every time below comes from the server's injected clock (passed as a parameter), not now(), so
-- retries, backoff and expiry can be tested by moving a clock.

ALTER TABLE outbox
  ADD COLUMN attempts integer NOT NULL DEFAULT 0,
  ADD COLUMN next_attempt_at timestamptz,
  ADD COLUMN last_error text CHECK (length(last_error) <= 2000),
  ADD COLUMN dead_at timestamptz;
-- A player's rows in order: the dispatcher's per-player queue and the stream's resume point.
CREATE INDEX outbox_user_idx ON outbox (user_id, id);
CREATE INDEX outbox_dead_idx ON outbox (id) WHERE dead_at IS NOT NULL;

-- Endpoints of app backends. The secret signs every delivery; it is shown once, when made, and
-- only system transactions (admin routes, the sender) can read the table.
CREATE TABLE webhook_endpoints (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  url text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2000),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
  -- Event types delivered: exact keys, 'prefix.*' or '*'.
  event_types text[] NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 50),
  secret text NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  -- Failed attempts in a row (any delivery); reset by a success. Too many disable the endpoint.
  consecutive_failures integer NOT NULL DEFAULT 0,
  disabled_at timestamptz,
  disabled_reason text CHECK (length(disabled_reason) <= 500),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);

-- One event for one endpoint. Delivered in outbox order per (endpoint, player): a delivery waits
-- while an earlier one of the same pair is pending.
CREATE TABLE webhook_deliveries (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  outbox_id bigint NOT NULL,
  user_id uuid NOT NULL,
  event_id uuid NOT NULL,
  event_type text NOT NULL,
  payload jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'delivered', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  -- While 'sending': when another worker may take it over (the sender died mid-request).
  locked_until timestamptz,
  last_status_code integer,
  last_error text CHECK (length(last_error) <= 2000),
  delivered_at timestamptz,
  created_at timestamptz NOT NULL,
  UNIQUE (endpoint_id, outbox_id)
);
CREATE INDEX webhook_deliveries_open_idx ON webhook_deliveries (endpoint_id, user_id, outbox_id)
  WHERE status IN ('pending', 'sending');
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
  WHERE status IN ('pending', 'sending');
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);

-- Every try of every delivery: the delivery log.
CREATE TABLE webhook_attempts (
  delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  attempt integer NOT NULL,
  attempted_at timestamptz NOT NULL,
  status_code integer,
  duration_ms integer NOT NULL,
  ok boolean NOT NULL,
  error text CHECK (length(error) <= 2000),
  PRIMARY KEY (delivery_id, attempt)
);

-- Seed 001 notifications, by month (retention drops whole months). dedupe_key names the effect a
-- notification came from, so a redelivered outbox row makes no second one; created_at is the
-- outbox row's, so the retry lands in the same partition and the same unique key.
CREATE TABLE notifications (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  type text NOT NULL CHECK (type ~ '^[a-z][a-z0-9_]{0,49}$'),
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 255),
  message text NOT NULL DEFAULT '' CHECK (length(message) <= 2000),
  data jsonb NOT NULL DEFAULT '{}',
  dedupe_key text NOT NULL CHECK (length(dedupe_key) <= 300),
  -- Shown in the player's list (the in-app channel); off when only email or push was wanted.
  in_app boolean NOT NULL DEFAULT true,
  read_at timestamptz,
  created_at timestamptz NOT NULL,
  expires_at timestamptz,
  PRIMARY KEY (id, created_at),
  UNIQUE (user_id, dedupe_key, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at DESC, id DESC);
CREATE INDEX notifications_unread_idx ON notifications (user_id, created_at DESC, id DESC)
  WHERE read_at IS NULL AND in_app;
SELECT ludus_ensure_monthly_partitions('notifications', (now() - interval '1 month')::date, 5);

-- Seed 001 notification_preferences: one row per type a player changed; absent means the defaults.
CREATE TABLE notification_preferences (
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  type text NOT NULL CHECK (type ~ '^[a-z][a-z0-9_]{0,49}$'),
  in_app boolean NOT NULL,
  email boolean NOT NULL,
  push boolean NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (user_id, type)
);

-- A notification to send by email or push, retried like a webhook delivery (seed 001 is_sent/sent_at).
CREATE TABLE notification_sends (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  notification_id uuid NOT NULL,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  channel text NOT NULL CHECK (channel IN ('email', 'push')),
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  locked_until timestamptz,
  last_error text CHECK (length(last_error) <= 2000),
  sent_at timestamptz,
  created_at timestamptz NOT NULL,
  UNIQUE (notification_id, channel)
);
CREATE INDEX notification_sends_due_idx ON notification_sends (next_attempt_at)
  WHERE status IN ('pending', 'sending');

-- Row-level security: players own their notifications and preferences; the rest is system-only.
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['notifications', 'notification_preferences'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY %I ON %I USING (user_id = ludus_acting_user() OR ludus_is_system()) '
                   'WITH CHECK (user_id = ludus_acting_user() OR ludus_is_system())', t || '_owner', t);
  END LOOP;
  FOREACH t IN ARRAY ARRAY['webhook_endpoints', 'webhook_deliveries', 'webhook_attempts', 'notification_sends'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY %I ON %I USING (ludus_is_system()) WITH CHECK (ludus_is_system())',
                   t || '_system', t);
  END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE, DELETE ON notifications, notification_preferences TO ludus_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_endpoints, webhook_deliveries, notification_sends TO ludus_app;
GRANT SELECT, INSERT ON webhook_attempts TO ludus_app;

-- Down Migration

DROP TABLE notification_sends;
DROP TABLE notification_preferences;
DROP TABLE notifications;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
DROP INDEX outbox_dead_idx;
DROP INDEX outbox_user_idx;
ALTER TABLE outbox DROP COLUMN dead_at, DROP COLUMN last_error, DROP COLUMN next_attempt_at, DROP COLUMN attempts;
