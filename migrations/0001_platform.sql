-- Up Migration

-- The runtime role. The server runs its queries as ludus_app (by logging in as it, or by SET ROLE
-- after connecting). It owns no table, so forced row-level security always applies to it.
DO $$
BEGIN
  CREATE ROLE ludus_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL; -- roles are cluster-wide; another database of this cluster already made it
END $$;

GRANT USAGE ON SCHEMA public TO ludus_app;

-- The acting user of the current transaction, set by the server with set_config(..., true).
CREATE FUNCTION ludus_acting_user() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT nullif(current_setting('ludus.user_id', true), '')::uuid
$$;

-- True inside transactions the server opened for system work (login lookups, admin routes,
-- the scheduler). Every such transaction is opened through one audited code path.
CREATE FUNCTION ludus_is_system() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(current_setting('ludus.system', true), '') = 'on'
$$;

GRANT EXECUTE ON FUNCTION ludus_acting_user() TO ludus_app;
GRANT EXECUTE ON FUNCTION ludus_is_system() TO ludus_app;

-- Creates the monthly partitions of a table partitioned by range on a timestamptz, from the
-- month of from_day for the given number of months. Partitions are named <table>_yYYYYmMM.
-- SECURITY DEFINER so the runtime role (which may not create tables) can keep them ahead of time.
CREATE FUNCTION ludus_ensure_monthly_partitions(parent regclass, from_day date, months integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  month_start date := date_trunc('month', from_day)::date;
  part_name text;
  created integer := 0;
BEGIN
  IF months < 1 OR months > 120 THEN
    RAISE EXCEPTION 'months must be between 1 and 120, got %', months;
  END IF;
  FOR i IN 0 .. months - 1 LOOP
    part_name := format('%s_y%sm%s', parent::text, to_char(month_start, 'YYYY'), to_char(month_start, 'MM'));
    IF to_regclass(part_name) IS NULL THEN
      EXECUTE format(
        'CREATE TABLE %I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
        part_name, parent, month_start::timestamptz, (month_start + interval '1 month')::timestamptz
      );
      created := created + 1;
    END IF;
    month_start := (month_start + interval '1 month')::date;
  END LOOP;
  RETURN created;
END $$;

REVOKE ALL ON FUNCTION ludus_ensure_monthly_partitions(regclass, date, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ludus_ensure_monthly_partitions(regclass, date, integer) TO ludus_app;

-- Instance-wide settings, such as the generated token-signing secret. System-only.
CREATE TABLE settings (
  key text PRIMARY KEY,
  value text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE settings FORCE ROW LEVEL SECURITY;
CREATE POLICY settings_system ON settings USING (ludus_is_system()) WITH CHECK (ludus_is_system());
GRANT SELECT, INSERT, UPDATE ON settings TO ludus_app;

-- Down Migration

DROP TABLE settings;
DROP FUNCTION ludus_ensure_monthly_partitions(regclass, date, integer);
DROP FUNCTION ludus_is_system();
DROP FUNCTION ludus_acting_user();
REVOKE USAGE ON SCHEMA public FROM ludus_app;
