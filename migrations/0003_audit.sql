-- Up Migration

-- Who did what to which resource, with the state before and after. Partitioned by month so that
-- retention drops whole partitions. The runtime role may insert and read, never change history,
-- except to blank the personal data (client address, agent, snapshots) of a user who is erased.
CREATE TABLE audit_logs (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  created_at timestamptz NOT NULL DEFAULT now(),
  actor_type text NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system')),
  actor_id uuid,
  -- The user whose data the action concerns (the actor for their own actions).
  subject_user_id uuid,
  action text NOT NULL CHECK (length(action) <= 100),
  resource_type text NOT NULL CHECK (length(resource_type) <= 50),
  resource_id text,
  before_data jsonb,
  after_data jsonb,
  ip inet,
  user_agent text,
  request_id text,
  PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

CREATE INDEX audit_logs_created_idx ON audit_logs (created_at DESC, id DESC);
CREATE INDEX audit_logs_actor_idx ON audit_logs (actor_id, created_at DESC);
CREATE INDEX audit_logs_subject_idx ON audit_logs (subject_user_id, created_at DESC);
CREATE INDEX audit_logs_action_idx ON audit_logs (action, created_at DESC);
CREATE INDEX audit_logs_resource_idx ON audit_logs (resource_type, resource_id);

SELECT ludus_ensure_monthly_partitions('audit_logs', (now() - interval '1 month')::date, 5);

ALTER TABLE audit_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_logs FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_logs_subject ON audit_logs
  USING (subject_user_id = ludus_acting_user() OR ludus_is_system())
  WITH CHECK (subject_user_id = ludus_acting_user() OR ludus_is_system());

GRANT SELECT, INSERT ON audit_logs TO ludus_app;
GRANT UPDATE (ip, user_agent, before_data, after_data) ON audit_logs TO ludus_app;

-- Down Migration

DROP TABLE audit_logs;
