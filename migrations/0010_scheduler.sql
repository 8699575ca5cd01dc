-- Up Migration

-- The scheduler: one row per recurring job. A job runs once per period (periods are multiples of
-- interval_ms since the Unix epoch, UTC), on one instance at a time: an instance claims a due row
-- with FOR UPDATE SKIP LOCKED and leases it until locked_until (from the server's injected clock);
-- if it dies mid-run the lease runs out and another instance runs the job again (jobs are
-- idempotent). last_period_start is the last period done: after downtime the next run sees how
-- many periods were missed and catches up.
CREATE TABLE scheduled_jobs (
  name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_.-]{0,63}$'),
  interval_ms bigint NOT NULL CHECK (interval_ms > 0),
  last_period_start timestamptz,
  next_run_at timestamptz NOT NULL,
  locked_until timestamptz,
  locked_by text CHECK (length(locked_by) <= 200),
  last_started_at timestamptz,
  last_finished_at timestamptz,
  last_result jsonb,
  last_error text CHECK (length(last_error) <= 2000),
  runs bigint NOT NULL DEFAULT 0,
  failures integer NOT NULL DEFAULT 0
);
ALTER TABLE scheduled_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE scheduled_jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY scheduled_jobs_system ON scheduled_jobs USING (ludus_is_system()) WITH CHECK (ludus_is_system());
GRANT SELECT, INSERT, UPDATE ON scheduled_jobs TO ludus_app;

-- Retention: drops the monthly partitions of `parent` (named <table>_yYYYYmMM, see
-- ludus_ensure_monthly_partitions) whose whole month ends on or before `before`. Never the
-- current month's or later ones (by the database's clock), and only for the tables whose history
-- may expire: the ledger is kept for ever (balances are the sum of their ledger).
-- SECURITY DEFINER: the runtime role owns no table and may not drop one itself.
CREATE FUNCTION ludus_drop_monthly_partitions(parent regclass, before date)
RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  limit_day date := least(before, date_trunc('month', now())::date);
  part record;
  month_start date;
  dropped text[] := '{}';
BEGIN
  IF parent NOT IN ('events'::regclass, 'notifications'::regclass, 'audit_logs'::regclass) THEN
    RAISE EXCEPTION 'partitions of % are not dropped by retention', parent;
  END IF;
  FOR part IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = parent AND c.relname ~ ('^' || parent::text || '_y[0-9]{4}m[0-9]{2}$')
    ORDER BY c.relname
  LOOP
    month_start := to_date(right(part.relname, 8), '"y"YYYY"m"MM');
    IF (month_start + interval '1 month')::date <= limit_day THEN
      EXECUTE format('DROP TABLE %I', part.relname);
      dropped := dropped || part.relname::text;
    END IF;
  END LOOP;
  RETURN dropped;
END $$;

REVOKE ALL ON FUNCTION ludus_drop_monthly_partitions(regclass, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ludus_drop_monthly_partitions(regclass, date) TO ludus_app;

-- Down Migration

DROP FUNCTION ludus_drop_monthly_partitions(regclass, date);
DROP TABLE scheduled_jobs;
