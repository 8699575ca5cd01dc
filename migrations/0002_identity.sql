-- Up Migration

CREATE TYPE user_role AS ENUM ('player', 'moderator', 'admin');

CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
  username text NOT NULL CHECK (length(username) BETWEEN 3 AND 64),
  -- argon2id PHC string; NULL when the account cannot log in with a password (erased).
  password_hash text,
  display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
  role user_role NOT NULL DEFAULT 'player',
  is_active boolean NOT NULL DEFAULT true,
  email_verified boolean NOT NULL DEFAULT false,
  last_login_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz,
  erased_at timestamptz
);
-- Case-insensitive uniqueness: "Ana@x.org" and "ana@x.org" are one account.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE INDEX users_created_at_idx ON users (created_at, id);

CREATE TABLE user_profiles (
  user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  avatar_url text CHECK (length(avatar_url) <= 2048),
  bio text CHECK (length(bio) <= 2000),
  -- IANA zone name; periods (days, weeks, months) of quests and streaks are computed in it.
  time_zone text NOT NULL DEFAULT 'UTC',
  locale text NOT NULL DEFAULT 'en',
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- A session is one refresh-token family: the chain of tokens that rotate from one login.
CREATE TABLE sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  ip inet,
  user_agent text,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_activity_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  revoked_reason text
);
CREATE INDEX sessions_user_idx ON sessions (user_id, created_at DESC);

CREATE TABLE refresh_tokens (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- SHA-256 of the token: the token itself is 256 random bits, so a slow hash adds nothing.
  token_hash bytea NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  -- Set when the token is exchanged; presenting it again is reuse and revokes the session.
  used_at timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

-- Keys for app backends. Shown once at creation; only the hash is kept.
CREATE TABLE api_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  prefix text NOT NULL UNIQUE,
  key_hash bytea NOT NULL UNIQUE,
  scopes text[] NOT NULL,
  created_by uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  last_used_at timestamptz,
  revoked_at timestamptz
);

-- Failed-login bookkeeping per account and per client address, for growing lockouts.
CREATE TABLE login_failures (
  key text PRIMARY KEY,
  failures integer NOT NULL CHECK (failures >= 0),
  last_failed_at timestamptz NOT NULL,
  locked_until timestamptz
);

-- Row-level security. Player-owned rows are visible to their player; system transactions see all.
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY users_owner ON users
  USING (id = ludus_acting_user() OR ludus_is_system())
  WITH CHECK (id = ludus_acting_user() OR ludus_is_system());

ALTER TABLE user_profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_profiles FORCE ROW LEVEL SECURITY;
CREATE POLICY user_profiles_owner ON user_profiles
  USING (user_id = ludus_acting_user() OR ludus_is_system())
  WITH CHECK (user_id = ludus_acting_user() OR ludus_is_system());

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY sessions_owner ON sessions
  USING (user_id = ludus_acting_user() OR ludus_is_system())
  WITH CHECK (user_id = ludus_acting_user() OR ludus_is_system());

ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY refresh_tokens_owner ON refresh_tokens
  USING (user_id = ludus_acting_user() OR ludus_is_system())
  WITH CHECK (user_id = ludus_acting_user() OR ludus_is_system());

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY api_keys_system ON api_keys USING (ludus_is_system()) WITH CHECK (ludus_is_system());

ALTER TABLE login_failures ENABLE ROW LEVEL SECURITY;
ALTER TABLE login_failures FORCE ROW LEVEL SECURITY;
CREATE POLICY login_failures_system ON login_failures USING (ludus_is_system()) WITH CHECK (ludus_is_system());

GRANT SELECT, INSERT, UPDATE ON users TO ludus_app;
GRANT SELECT, INSERT, UPDATE ON user_profiles TO ludus_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON sessions TO ludus_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON refresh_tokens TO ludus_app;
GRANT SELECT, INSERT, UPDATE ON api_keys TO ludus_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON login_failures TO ludus_app;

-- Down Migration

DROP TABLE login_failures;
DROP TABLE api_keys;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE user_profiles;
DROP TABLE users;
DROP TYPE user_role;
