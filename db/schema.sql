--
-- PostgreSQL database dump
--



SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: achievement_rarity; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.achievement_rarity AS ENUM (
    'common',
    'uncommon',
    'rare',
    'epic',
    'legendary'
);


--
-- Name: ledger_type; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.ledger_type AS ENUM (
    'earn',
    'spend',
    'reward',
    'bonus',
    'purchase',
    'adjust',
    'refund'
);


--
-- Name: user_role; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.user_role AS ENUM (
    'player',
    'moderator',
    'admin'
);


--
-- Name: ludus_acting_user(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ludus_acting_user() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
  SELECT nullif(current_setting('ludus.user_id', true), '')::uuid
$$;


--
-- Name: ludus_drop_monthly_partitions(regclass, date); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ludus_drop_monthly_partitions(parent regclass, before date) RETURNS text[]
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $_$
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
END $_$;


--
-- Name: ludus_ensure_monthly_partitions(regclass, date, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ludus_ensure_monthly_partitions(parent regclass, from_day date, months integer) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
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


--
-- Name: ludus_is_system(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ludus_is_system() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
  SELECT coalesce(current_setting('ludus.system', true), '') = 'on'
$$;


--
-- Name: ludus_shop_items_guard(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ludus_shop_items_guard() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  IF NOT ludus_is_system()
     AND (NEW.stock IS NULL OR OLD.stock IS NULL OR NEW.stock > OLD.stock
          OR to_jsonb(NEW) - 'stock' IS DISTINCT FROM to_jsonb(OLD) - 'stock') THEN
    RAISE EXCEPTION 'a player''s transaction may only take stock from a shop item'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: achievements; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.achievements (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    key text NOT NULL,
    name text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    category text DEFAULT 'general'::text NOT NULL,
    rarity public.achievement_rarity DEFAULT 'common'::public.achievement_rarity NOT NULL,
    icon text,
    color text,
    rewards jsonb DEFAULT '[]'::jsonb NOT NULL,
    metric text NOT NULL,
    target bigint NOT NULL,
    condition jsonb,
    hidden boolean DEFAULT false NOT NULL,
    starts_at timestamp with time zone,
    ends_at timestamp with time zone,
    active boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT achievements_category_check CHECK ((length(category) <= 50)),
    CONSTRAINT achievements_check CHECK (((ends_at IS NULL) OR (starts_at IS NULL) OR (ends_at > starts_at))),
    CONSTRAINT achievements_color_check CHECK ((color ~ '^#[0-9A-Fa-f]{6}$'::text)),
    CONSTRAINT achievements_description_check CHECK ((length(description) <= 1000)),
    CONSTRAINT achievements_icon_check CHECK ((length(icon) <= 200)),
    CONSTRAINT achievements_key_check CHECK ((key ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'::text)),
    CONSTRAINT achievements_metric_check CHECK ((metric ~ '^(level|(stats|earned|balances)\.[a-z][a-z0-9_.]*|streaks\.[a-z0-9][a-z0-9_.-]*)$'::text)),
    CONSTRAINT achievements_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100))),
    CONSTRAINT achievements_target_check CHECK ((target > 0))
);

ALTER TABLE ONLY public.achievements FORCE ROW LEVEL SECURITY;


--
-- Name: api_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.api_keys (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    prefix text NOT NULL,
    key_hash bytea NOT NULL,
    scopes text[] NOT NULL,
    created_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone,
    last_used_at timestamp with time zone,
    revoked_at timestamp with time zone,
    CONSTRAINT api_keys_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100)))
);

ALTER TABLE ONLY public.api_keys FORCE ROW LEVEL SECURITY;


--
-- Name: audit_logs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.audit_logs (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    actor_type text NOT NULL,
    actor_id uuid,
    subject_user_id uuid,
    action text NOT NULL,
    resource_type text NOT NULL,
    resource_id text,
    before_data jsonb,
    after_data jsonb,
    ip inet,
    user_agent text,
    request_id text,
    CONSTRAINT audit_logs_action_check CHECK ((length(action) <= 100)),
    CONSTRAINT audit_logs_actor_type_check CHECK ((actor_type = ANY (ARRAY['user'::text, 'api_key'::text, 'system'::text]))),
    CONSTRAINT audit_logs_resource_type_check CHECK ((length(resource_type) <= 50))
)
PARTITION BY RANGE (created_at);

ALTER TABLE ONLY public.audit_logs FORCE ROW LEVEL SECURITY;


--
-- Name: currencies; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.currencies (
    code text NOT NULL,
    name text NOT NULL,
    description text,
    allow_negative boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    max_balance bigint,
    CONSTRAINT currencies_code_check CHECK ((code ~ '^[a-z][a-z0-9_]{1,31}$'::text)),
    CONSTRAINT currencies_description_check CHECK ((length(description) <= 1000)),
    CONSTRAINT currencies_max_balance_check CHECK ((max_balance > 0)),
    CONSTRAINT currencies_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100)))
);

ALTER TABLE ONLY public.currencies FORCE ROW LEVEL SECURITY;


--
-- Name: event_types; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.event_types (
    key text NOT NULL,
    description text,
    data_schema jsonb DEFAULT '{"type": "object"}'::jsonb NOT NULL,
    client_writable boolean DEFAULT false NOT NULL,
    client_daily_cap integer,
    system boolean DEFAULT false NOT NULL,
    active boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT event_types_client_daily_cap_check CHECK ((client_daily_cap > 0)),
    CONSTRAINT event_types_description_check CHECK ((length(description) <= 1000)),
    CONSTRAINT event_types_key_check CHECK (((key ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$'::text) AND (length(key) <= 64)))
);

ALTER TABLE ONLY public.event_types FORCE ROW LEVEL SECURITY;


--
-- Name: events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.events (
    id uuid NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    user_id uuid NOT NULL,
    type text NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    source text NOT NULL,
    source_id uuid,
    parent_id uuid,
    idempotency_key text,
    data jsonb NOT NULL,
    result jsonb NOT NULL,
    client_ip inet,
    user_agent text,
    CONSTRAINT events_source_check CHECK ((source = ANY (ARRAY['api_key'::text, 'player'::text, 'system'::text, 'admin'::text]))),
    CONSTRAINT events_user_agent_check CHECK ((length(user_agent) <= 512))
)
PARTITION BY RANGE (received_at);

ALTER TABLE ONLY public.events FORCE ROW LEVEL SECURITY;


--
-- Name: gifts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.gifts (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    key text NOT NULL,
    name text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    rewards jsonb DEFAULT '[]'::jsonb NOT NULL,
    items jsonb DEFAULT '[]'::jsonb NOT NULL,
    active boolean DEFAULT true NOT NULL,
    starts_at timestamp with time zone,
    ends_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT gifts_check CHECK (((ends_at IS NULL) OR (starts_at IS NULL) OR (ends_at > starts_at))),
    CONSTRAINT gifts_description_check CHECK ((length(description) <= 1000)),
    CONSTRAINT gifts_key_check CHECK ((key ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'::text)),
    CONSTRAINT gifts_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100)))
);

ALTER TABLE ONLY public.gifts FORCE ROW LEVEL SECURITY;


--
-- Name: idempotency_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.idempotency_keys (
    scope text NOT NULL,
    user_id uuid NOT NULL,
    key text NOT NULL,
    request_hash bytea NOT NULL,
    response jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT idempotency_keys_key_check CHECK ((length(key) <= 200))
);

ALTER TABLE ONLY public.idempotency_keys FORCE ROW LEVEL SECURITY;


--
-- Name: leaderboard_entries; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.leaderboard_entries (
    leaderboard_id uuid NOT NULL,
    period_key text NOT NULL,
    user_id uuid NOT NULL,
    score double precision NOT NULL,
    rank_score double precision NOT NULL,
    reached_at timestamp with time zone NOT NULL,
    ranked boolean DEFAULT true NOT NULL,
    final_rank integer,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT leaderboard_entries_period_key_check CHECK ((length(period_key) <= 20))
);

ALTER TABLE ONLY public.leaderboard_entries FORCE ROW LEVEL SECURITY;


--
-- Name: leaderboard_periods; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.leaderboard_periods (
    leaderboard_id uuid NOT NULL,
    period_key text NOT NULL,
    starts_at timestamp with time zone NOT NULL,
    ends_at timestamp with time zone NOT NULL,
    closed_at timestamp with time zone,
    entries integer
);

ALTER TABLE ONLY public.leaderboard_periods FORCE ROW LEVEL SECURITY;


--
-- Name: leaderboard_snapshot_sets; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.leaderboard_snapshot_sets (
    leaderboard_id uuid NOT NULL,
    period_key text NOT NULL,
    taken_at timestamp with time zone NOT NULL,
    final boolean NOT NULL,
    entries integer NOT NULL
);

ALTER TABLE ONLY public.leaderboard_snapshot_sets FORCE ROW LEVEL SECURITY;


--
-- Name: leaderboard_snapshots; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.leaderboard_snapshots (
    leaderboard_id uuid NOT NULL,
    period_key text NOT NULL,
    rank integer NOT NULL,
    user_id uuid NOT NULL,
    score double precision NOT NULL,
    reached_at timestamp with time zone NOT NULL,
    taken_at timestamp with time zone NOT NULL,
    CONSTRAINT leaderboard_snapshots_rank_check CHECK ((rank > 0))
);

ALTER TABLE ONLY public.leaderboard_snapshots FORCE ROW LEVEL SECURITY;


--
-- Name: leaderboards; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.leaderboards (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    key text NOT NULL,
    name text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    category text DEFAULT 'general'::text NOT NULL,
    source jsonb NOT NULL,
    period text NOT NULL,
    time_zone text DEFAULT 'UTC'::text NOT NULL,
    sort text DEFAULT 'desc'::text NOT NULL,
    operator text NOT NULL,
    min_score double precision,
    snapshot_size integer DEFAULT 10 NOT NULL,
    active boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT leaderboards_category_check CHECK ((length(category) <= 50)),
    CONSTRAINT leaderboards_description_check CHECK ((length(description) <= 1000)),
    CONSTRAINT leaderboards_key_check CHECK ((key ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'::text)),
    CONSTRAINT leaderboards_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100))),
    CONSTRAINT leaderboards_operator_check CHECK ((operator = ANY (ARRAY['sum'::text, 'best'::text, 'latest'::text]))),
    CONSTRAINT leaderboards_period_check CHECK ((period = ANY (ARRAY['day'::text, 'week'::text, 'month'::text, 'all'::text]))),
    CONSTRAINT leaderboards_snapshot_size_check CHECK (((snapshot_size >= 1) AND (snapshot_size <= 1000))),
    CONSTRAINT leaderboards_sort_check CHECK ((sort = ANY (ARRAY['desc'::text, 'asc'::text])))
);

ALTER TABLE ONLY public.leaderboards FORCE ROW LEVEL SECURITY;


--
-- Name: ledger_entries; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.ledger_entries (
    id bigint NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    user_id uuid NOT NULL,
    currency text NOT NULL,
    type public.ledger_type NOT NULL,
    amount bigint NOT NULL,
    balance_after bigint NOT NULL,
    reason text NOT NULL,
    source text NOT NULL,
    reference text,
    metadata jsonb,
    CONSTRAINT ledger_entries_amount_check CHECK ((amount <> 0)),
    CONSTRAINT ledger_entries_reason_check CHECK ((length(reason) <= 500)),
    CONSTRAINT ledger_entries_reference_check CHECK ((length(reference) <= 200)),
    CONSTRAINT ledger_entries_source_check CHECK ((length(source) <= 200))
)
PARTITION BY RANGE (created_at);

ALTER TABLE ONLY public.ledger_entries FORCE ROW LEVEL SECURITY;


--
-- Name: ledger_entries_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.ledger_entries ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.ledger_entries_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: login_failures; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.login_failures (
    key text NOT NULL,
    failures integer NOT NULL,
    last_failed_at timestamp with time zone NOT NULL,
    locked_until timestamp with time zone,
    CONSTRAINT login_failures_failures_check CHECK ((failures >= 0))
);

ALTER TABLE ONLY public.login_failures FORCE ROW LEVEL SECURITY;


--
-- Name: notification_preferences; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.notification_preferences (
    user_id uuid NOT NULL,
    type text NOT NULL,
    in_app boolean NOT NULL,
    email boolean NOT NULL,
    push boolean NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    CONSTRAINT notification_preferences_type_check CHECK ((type ~ '^[a-z][a-z0-9_]{0,49}$'::text))
);

ALTER TABLE ONLY public.notification_preferences FORCE ROW LEVEL SECURITY;


--
-- Name: notification_sends; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.notification_sends (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    notification_id uuid NOT NULL,
    user_id uuid NOT NULL,
    channel text NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone NOT NULL,
    locked_until timestamp with time zone,
    last_error text,
    sent_at timestamp with time zone,
    created_at timestamp with time zone NOT NULL,
    CONSTRAINT notification_sends_channel_check CHECK ((channel = ANY (ARRAY['email'::text, 'push'::text]))),
    CONSTRAINT notification_sends_last_error_check CHECK ((length(last_error) <= 2000)),
    CONSTRAINT notification_sends_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'sending'::text, 'sent'::text, 'dead'::text])))
);

ALTER TABLE ONLY public.notification_sends FORCE ROW LEVEL SECURITY;


--
-- Name: notifications; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.notifications (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    type text NOT NULL,
    title text NOT NULL,
    message text DEFAULT ''::text NOT NULL,
    data jsonb DEFAULT '{}'::jsonb NOT NULL,
    dedupe_key text NOT NULL,
    in_app boolean DEFAULT true NOT NULL,
    read_at timestamp with time zone,
    created_at timestamp with time zone NOT NULL,
    expires_at timestamp with time zone,
    CONSTRAINT notifications_dedupe_key_check CHECK ((length(dedupe_key) <= 300)),
    CONSTRAINT notifications_message_check CHECK ((length(message) <= 2000)),
    CONSTRAINT notifications_title_check CHECK (((length(title) >= 1) AND (length(title) <= 255))),
    CONSTRAINT notifications_type_check CHECK ((type ~ '^[a-z][a-z0-9_]{0,49}$'::text))
)
PARTITION BY RANGE (created_at);

ALTER TABLE ONLY public.notifications FORCE ROW LEVEL SECURITY;


--
-- Name: outbox; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.outbox (
    id bigint NOT NULL,
    user_id uuid NOT NULL,
    topic text NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    dispatched_at timestamp with time zone,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone,
    last_error text,
    dead_at timestamp with time zone,
    CONSTRAINT outbox_last_error_check CHECK ((length(last_error) <= 2000))
);

ALTER TABLE ONLY public.outbox FORCE ROW LEVEL SECURITY;


--
-- Name: outbox_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.outbox ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: purchases; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.purchases (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    item_id uuid NOT NULL,
    quantity integer NOT NULL,
    unit_price bigint NOT NULL,
    total bigint NOT NULL,
    currency text NOT NULL,
    status text DEFAULT 'completed'::text NOT NULL,
    idempotency_key text NOT NULL,
    ledger_entry_id bigint,
    created_at timestamp with time zone NOT NULL,
    refunded_at timestamp with time zone,
    refund jsonb,
    CONSTRAINT purchases_check CHECK ((total = (unit_price * quantity))),
    CONSTRAINT purchases_check1 CHECK (((status = 'refunded'::text) = ((refunded_at IS NOT NULL) AND (refund IS NOT NULL)))),
    CONSTRAINT purchases_idempotency_key_check CHECK ((length(idempotency_key) <= 200)),
    CONSTRAINT purchases_quantity_check CHECK ((quantity > 0)),
    CONSTRAINT purchases_status_check CHECK ((status = ANY (ARRAY['completed'::text, 'refunded'::text]))),
    CONSTRAINT purchases_total_check CHECK ((total >= 0)),
    CONSTRAINT purchases_unit_price_check CHECK ((unit_price >= 0))
);

ALTER TABLE ONLY public.purchases FORCE ROW LEVEL SECURITY;


--
-- Name: quest_pools; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.quest_pools (
    key text NOT NULL,
    name text NOT NULL,
    size integer NOT NULL,
    rerolls integer DEFAULT 1 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT quest_pools_key_check CHECK ((key ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'::text)),
    CONSTRAINT quest_pools_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100))),
    CONSTRAINT quest_pools_rerolls_check CHECK (((rerolls >= 0) AND (rerolls <= 10))),
    CONSTRAINT quest_pools_size_check CHECK (((size >= 1) AND (size <= 50)))
);

ALTER TABLE ONLY public.quest_pools FORCE ROW LEVEL SECURITY;


--
-- Name: quest_templates; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.quest_templates (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    key text NOT NULL,
    name text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    category text DEFAULT 'general'::text NOT NULL,
    difficulty text DEFAULT 'easy'::text NOT NULL,
    cadence text NOT NULL,
    starts_at timestamp with time zone,
    ends_at timestamp with time zone,
    target bigint NOT NULL,
    event_types text[] NOT NULL,
    condition jsonb,
    amount_field text,
    mode text DEFAULT 'sum'::text NOT NULL,
    rewards jsonb DEFAULT '[]'::jsonb NOT NULL,
    time_limit_hours integer,
    pool text,
    active boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT quest_templates_amount_field_check CHECK ((amount_field ~ '^data(\.[A-Za-z0-9_]+)+$'::text)),
    CONSTRAINT quest_templates_cadence_check CHECK ((cadence = ANY (ARRAY['day'::text, 'week'::text, 'month'::text, 'special'::text]))),
    CONSTRAINT quest_templates_category_check CHECK ((length(category) <= 50)),
    CONSTRAINT quest_templates_check CHECK (((cadence <> 'special'::text) OR ((starts_at IS NOT NULL) AND (ends_at IS NOT NULL)))),
    CONSTRAINT quest_templates_check1 CHECK (((ends_at IS NULL) OR (starts_at IS NULL) OR (ends_at > starts_at))),
    CONSTRAINT quest_templates_description_check CHECK ((length(description) <= 1000)),
    CONSTRAINT quest_templates_difficulty_check CHECK ((difficulty = ANY (ARRAY['easy'::text, 'medium'::text, 'hard'::text, 'epic'::text, 'legendary'::text]))),
    CONSTRAINT quest_templates_event_types_check CHECK (((cardinality(event_types) >= 1) AND (cardinality(event_types) <= 20))),
    CONSTRAINT quest_templates_key_check CHECK ((key ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'::text)),
    CONSTRAINT quest_templates_mode_check CHECK ((mode = ANY (ARRAY['sum'::text, 'max'::text, 'distinct'::text]))),
    CONSTRAINT quest_templates_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100))),
    CONSTRAINT quest_templates_target_check CHECK ((target > 0)),
    CONSTRAINT quest_templates_time_limit_hours_check CHECK (((time_limit_hours >= 1) AND (time_limit_hours <= 8784)))
);

ALTER TABLE ONLY public.quest_templates FORCE ROW LEVEL SECURITY;


--
-- Name: refresh_tokens; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.refresh_tokens (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    session_id uuid NOT NULL,
    user_id uuid NOT NULL,
    token_hash bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    used_at timestamp with time zone
);

ALTER TABLE ONLY public.refresh_tokens FORCE ROW LEVEL SECURITY;


--
-- Name: rule_award_totals; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rule_award_totals (
    user_id uuid NOT NULL,
    rule_id uuid NOT NULL,
    currency text NOT NULL,
    period_key text NOT NULL,
    amount bigint NOT NULL
);

ALTER TABLE ONLY public.rule_award_totals FORCE ROW LEVEL SECURITY;


--
-- Name: rule_versions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rule_versions (
    rule_id uuid NOT NULL,
    version integer NOT NULL,
    definition jsonb NOT NULL,
    changed_by uuid,
    changed_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY public.rule_versions FORCE ROW LEVEL SECURITY;


--
-- Name: rules; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rules (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    key text NOT NULL,
    name text NOT NULL,
    description text,
    event_type text NOT NULL,
    condition jsonb,
    awards jsonb DEFAULT '[]'::jsonb NOT NULL,
    counters jsonb DEFAULT '[]'::jsonb NOT NULL,
    caps jsonb DEFAULT '[]'::jsonb NOT NULL,
    priority integer DEFAULT 0 NOT NULL,
    active boolean DEFAULT true NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT rules_description_check CHECK ((length(description) <= 1000)),
    CONSTRAINT rules_key_check CHECK ((key ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'::text)),
    CONSTRAINT rules_name_check CHECK (((length(name) >= 1) AND (length(name) <= 200)))
);

ALTER TABLE ONLY public.rules FORCE ROW LEVEL SECURITY;


--
-- Name: scheduled_jobs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.scheduled_jobs (
    name text NOT NULL,
    interval_ms bigint NOT NULL,
    last_period_start timestamp with time zone,
    next_run_at timestamp with time zone NOT NULL,
    locked_until timestamp with time zone,
    locked_by text,
    last_started_at timestamp with time zone,
    last_finished_at timestamp with time zone,
    last_result jsonb,
    last_error text,
    runs bigint DEFAULT 0 NOT NULL,
    failures integer DEFAULT 0 NOT NULL,
    CONSTRAINT scheduled_jobs_interval_ms_check CHECK ((interval_ms > 0)),
    CONSTRAINT scheduled_jobs_last_error_check CHECK ((length(last_error) <= 2000)),
    CONSTRAINT scheduled_jobs_locked_by_check CHECK ((length(locked_by) <= 200)),
    CONSTRAINT scheduled_jobs_name_check CHECK ((name ~ '^[a-z][a-z0-9_.-]{0,63}$'::text))
);

ALTER TABLE ONLY public.scheduled_jobs FORCE ROW LEVEL SECURITY;


--
-- Name: schema_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_migrations (
    id integer NOT NULL,
    name character varying(255) NOT NULL,
    run_on timestamp without time zone NOT NULL
);


--
-- Name: schema_migrations_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.schema_migrations_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: schema_migrations_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.schema_migrations_id_seq OWNED BY public.schema_migrations.id;


--
-- Name: score_history; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.score_history WITH (security_invoker='true') AS
 SELECT ledger_entries.id,
    ledger_entries.user_id,
    (ledger_entries.balance_after - ledger_entries.amount) AS score_before,
    ledger_entries.balance_after AS score_after,
    ledger_entries.amount AS score_change,
    ledger_entries.reason AS action,
    ledger_entries.source,
    ledger_entries.reference,
    ledger_entries.created_at
   FROM public.ledger_entries
  WHERE (ledger_entries.currency = 'score'::text);


--
-- Name: sessions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sessions (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    ip inet,
    user_agent text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_activity_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    revoked_at timestamp with time zone,
    revoked_reason text
);

ALTER TABLE ONLY public.sessions FORCE ROW LEVEL SECURITY;


--
-- Name: settings; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.settings (
    key text NOT NULL,
    value text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY public.settings FORCE ROW LEVEL SECURITY;


--
-- Name: shop_items; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.shop_items (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    key text NOT NULL,
    name text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    category text DEFAULT 'general'::text NOT NULL,
    price bigint NOT NULL,
    currency text DEFAULT 'coins'::text NOT NULL,
    item_type text NOT NULL,
    item_data jsonb DEFAULT '{}'::jsonb NOT NULL,
    active boolean DEFAULT true NOT NULL,
    premium boolean DEFAULT false NOT NULL,
    stock bigint,
    per_player_limit integer,
    available_from timestamp with time zone,
    available_until timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT shop_items_category_check CHECK (((length(category) >= 1) AND (length(category) <= 50))),
    CONSTRAINT shop_items_check CHECK (((available_until IS NULL) OR (available_from IS NULL) OR (available_until > available_from))),
    CONSTRAINT shop_items_description_check CHECK ((length(description) <= 1000)),
    CONSTRAINT shop_items_item_type_check CHECK ((item_type = ANY (ARRAY['recipe'::text, 'avatar'::text, 'badge'::text, 'boost'::text, 'protection'::text, 'freeze'::text, 'consumable'::text]))),
    CONSTRAINT shop_items_key_check CHECK (((key ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'::text) AND (key !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'::text))),
    CONSTRAINT shop_items_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100))),
    CONSTRAINT shop_items_per_player_limit_check CHECK ((per_player_limit > 0)),
    CONSTRAINT shop_items_price_check CHECK (((price >= 0) AND (price <= 1000000000))),
    CONSTRAINT shop_items_stock_check CHECK ((stock >= 0))
);

ALTER TABLE ONLY public.shop_items FORCE ROW LEVEL SECURITY;


--
-- Name: streak_definitions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.streak_definitions (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    key text NOT NULL,
    name text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    category text DEFAULT 'general'::text NOT NULL,
    cadence text NOT NULL,
    event_types text[] NOT NULL,
    condition jsonb,
    grace_hours integer DEFAULT 6 NOT NULL,
    freeze_currency text,
    milestones jsonb DEFAULT '[]'::jsonb NOT NULL,
    active boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT streak_definitions_cadence_check CHECK ((cadence = ANY (ARRAY['day'::text, 'week'::text, 'month'::text]))),
    CONSTRAINT streak_definitions_category_check CHECK ((length(category) <= 50)),
    CONSTRAINT streak_definitions_description_check CHECK ((length(description) <= 1000)),
    CONSTRAINT streak_definitions_event_types_check CHECK (((cardinality(event_types) >= 1) AND (cardinality(event_types) <= 20))),
    CONSTRAINT streak_definitions_grace_hours_check CHECK (((grace_hours >= 0) AND (grace_hours <= 168))),
    CONSTRAINT streak_definitions_key_check CHECK ((key ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'::text)),
    CONSTRAINT streak_definitions_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100)))
);

ALTER TABLE ONLY public.streak_definitions FORCE ROW LEVEL SECURITY;


--
-- Name: streak_protections; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.streak_protections (
    id bigint NOT NULL,
    user_id uuid NOT NULL,
    streak_id uuid,
    starts_at timestamp with time zone NOT NULL,
    ends_at timestamp with time zone NOT NULL,
    source text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT streak_protections_check CHECK ((ends_at > starts_at)),
    CONSTRAINT streak_protections_source_check CHECK ((length(source) <= 200))
);

ALTER TABLE ONLY public.streak_protections FORCE ROW LEVEL SECURITY;


--
-- Name: streak_protections_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.streak_protections ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.streak_protections_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: user_achievements; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.user_achievements (
    user_id uuid NOT NULL,
    achievement_id uuid NOT NULL,
    unlocked_at timestamp with time zone DEFAULT now() NOT NULL,
    event_id uuid,
    seen_at timestamp with time zone
);

ALTER TABLE ONLY public.user_achievements FORCE ROW LEVEL SECURITY;


--
-- Name: user_boosts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.user_boosts (
    id bigint NOT NULL,
    user_id uuid NOT NULL,
    item_id uuid NOT NULL,
    currency text NOT NULL,
    multiplier double precision NOT NULL,
    starts_at timestamp with time zone NOT NULL,
    ends_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT user_boosts_check CHECK ((ends_at > starts_at)),
    CONSTRAINT user_boosts_multiplier_check CHECK (((multiplier > (1)::double precision) AND (multiplier <= (10)::double precision)))
);

ALTER TABLE ONLY public.user_boosts FORCE ROW LEVEL SECURITY;


--
-- Name: user_boosts_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.user_boosts ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.user_boosts_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: user_gifts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.user_gifts (
    user_id uuid NOT NULL,
    gift_id uuid NOT NULL,
    claimed_at timestamp with time zone NOT NULL,
    result jsonb NOT NULL
);

ALTER TABLE ONLY public.user_gifts FORCE ROW LEVEL SECURITY;


--
-- Name: user_inventory; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.user_inventory (
    user_id uuid NOT NULL,
    item_id uuid NOT NULL,
    quantity bigint DEFAULT 0 NOT NULL,
    purchased bigint DEFAULT 0 NOT NULL,
    granted bigint DEFAULT 0 NOT NULL,
    used bigint DEFAULT 0 NOT NULL,
    equipped boolean DEFAULT false NOT NULL,
    first_acquired_at timestamp with time zone NOT NULL,
    last_used_at timestamp with time zone,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT user_inventory_balanced CHECK ((quantity = ((purchased + granted) - used))),
    CONSTRAINT user_inventory_granted_check CHECK ((granted >= 0)),
    CONSTRAINT user_inventory_purchased_check CHECK ((purchased >= 0)),
    CONSTRAINT user_inventory_quantity_check CHECK ((quantity >= 0)),
    CONSTRAINT user_inventory_used_check CHECK ((used >= 0))
);

ALTER TABLE ONLY public.user_inventory FORCE ROW LEVEL SECURITY;


--
-- Name: user_profiles; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.user_profiles (
    user_id uuid NOT NULL,
    avatar_url text,
    bio text,
    time_zone text DEFAULT 'UTC'::text NOT NULL,
    locale text DEFAULT 'en'::text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    day_start_hour smallint DEFAULT 0 NOT NULL,
    CONSTRAINT user_profiles_avatar_url_check CHECK ((length(avatar_url) <= 2048)),
    CONSTRAINT user_profiles_bio_check CHECK ((length(bio) <= 2000)),
    CONSTRAINT user_profiles_day_start_hour_check CHECK (((day_start_hour >= 0) AND (day_start_hour <= 23)))
);

ALTER TABLE ONLY public.user_profiles FORCE ROW LEVEL SECURITY;


--
-- Name: user_progress; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.user_progress (
    user_id uuid NOT NULL,
    level integer DEFAULT 1 NOT NULL,
    recipes_unlocked integer DEFAULT 0 NOT NULL,
    has_claimed_gift boolean DEFAULT false NOT NULL,
    events_count bigint DEFAULT 0 NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT user_progress_level_check CHECK ((level >= 1)),
    CONSTRAINT user_progress_recipes_unlocked_check CHECK ((recipes_unlocked >= 0))
);

ALTER TABLE ONLY public.user_progress FORCE ROW LEVEL SECURITY;


--
-- Name: user_quests; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.user_quests (
    user_id uuid NOT NULL,
    template_id uuid NOT NULL,
    period_key text NOT NULL,
    status text DEFAULT 'active'::text NOT NULL,
    progress bigint DEFAULT 0 NOT NULL,
    target bigint NOT NULL,
    starts_at timestamp with time zone NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    assigned_at timestamp with time zone DEFAULT now() NOT NULL,
    completed_at timestamp with time zone,
    completed_event_id uuid,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    seen text[] DEFAULT '{}'::text[] NOT NULL,
    CONSTRAINT user_quests_check CHECK (((status <> 'completed'::text) OR ((completed_at IS NOT NULL) AND (progress >= target)))),
    CONSTRAINT user_quests_period_key_check CHECK ((length(period_key) <= 20)),
    CONSTRAINT user_quests_progress_check CHECK ((progress >= 0)),
    CONSTRAINT user_quests_status_check CHECK ((status = ANY (ARRAY['active'::text, 'completed'::text, 'rerolled'::text])))
);

ALTER TABLE ONLY public.user_quests FORCE ROW LEVEL SECURITY;


--
-- Name: user_stats_daily; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.user_stats_daily (
    user_id uuid NOT NULL,
    stat text NOT NULL,
    day date NOT NULL,
    value bigint NOT NULL,
    CONSTRAINT user_stats_daily_stat_check CHECK ((length(stat) <= 100))
);

ALTER TABLE ONLY public.user_stats_daily FORCE ROW LEVEL SECURITY;


--
-- Name: user_stats_totals; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.user_stats_totals (
    user_id uuid NOT NULL,
    stat text NOT NULL,
    value bigint NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT user_stats_totals_stat_check CHECK ((length(stat) <= 100))
);

ALTER TABLE ONLY public.user_stats_totals FORCE ROW LEVEL SECURITY;


--
-- Name: user_streak_milestones; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.user_streak_milestones (
    user_id uuid NOT NULL,
    streak_id uuid NOT NULL,
    count integer NOT NULL,
    event_id uuid NOT NULL,
    reached_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY public.user_streak_milestones FORCE ROW LEVEL SECURITY;


--
-- Name: user_streaks; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.user_streaks (
    user_id uuid NOT NULL,
    streak_id uuid NOT NULL,
    current integer NOT NULL,
    longest integer NOT NULL,
    last_period integer NOT NULL,
    time_zone text NOT NULL,
    day_start_hour smallint NOT NULL,
    started_at timestamp with time zone NOT NULL,
    last_event_at timestamp with time zone NOT NULL,
    last_activity_at timestamp with time zone NOT NULL,
    activity_time_zone text NOT NULL,
    activity_day_start_hour smallint NOT NULL,
    freezes_used integer DEFAULT 0 NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT user_streaks_check CHECK ((longest >= current)),
    CONSTRAINT user_streaks_current_check CHECK ((current >= 0))
);

ALTER TABLE ONLY public.user_streaks FORCE ROW LEVEL SECURITY;


--
-- Name: users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.users (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    email text NOT NULL,
    username text NOT NULL,
    password_hash text,
    display_name text NOT NULL,
    role public.user_role DEFAULT 'player'::public.user_role NOT NULL,
    is_active boolean DEFAULT true NOT NULL,
    email_verified boolean DEFAULT false NOT NULL,
    last_login_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone,
    erased_at timestamp with time zone,
    CONSTRAINT users_display_name_check CHECK (((length(display_name) >= 1) AND (length(display_name) <= 100))),
    CONSTRAINT users_email_check CHECK (((length(email) >= 3) AND (length(email) <= 254))),
    CONSTRAINT users_username_check CHECK (((length(username) >= 3) AND (length(username) <= 64)))
);

ALTER TABLE ONLY public.users FORCE ROW LEVEL SECURITY;


--
-- Name: wallets; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.wallets (
    user_id uuid NOT NULL,
    currency text NOT NULL,
    balance bigint DEFAULT 0 NOT NULL,
    lifetime_earned bigint DEFAULT 0 NOT NULL,
    allow_negative boolean DEFAULT false NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT wallets_lifetime_earned_check CHECK ((lifetime_earned >= 0)),
    CONSTRAINT wallets_non_negative CHECK ((allow_negative OR (balance >= 0)))
);

ALTER TABLE ONLY public.wallets FORCE ROW LEVEL SECURITY;


--
-- Name: webhook_attempts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_attempts (
    delivery_id uuid NOT NULL,
    attempt integer NOT NULL,
    attempted_at timestamp with time zone NOT NULL,
    status_code integer,
    duration_ms integer NOT NULL,
    ok boolean NOT NULL,
    error text,
    CONSTRAINT webhook_attempts_error_check CHECK ((length(error) <= 2000))
);

ALTER TABLE ONLY public.webhook_attempts FORCE ROW LEVEL SECURITY;


--
-- Name: webhook_deliveries; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_deliveries (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    endpoint_id uuid NOT NULL,
    outbox_id bigint NOT NULL,
    user_id uuid NOT NULL,
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    payload jsonb NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone NOT NULL,
    locked_until timestamp with time zone,
    last_status_code integer,
    last_error text,
    delivered_at timestamp with time zone,
    created_at timestamp with time zone NOT NULL,
    CONSTRAINT webhook_deliveries_last_error_check CHECK ((length(last_error) <= 2000)),
    CONSTRAINT webhook_deliveries_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'sending'::text, 'delivered'::text, 'dead'::text])))
);

ALTER TABLE ONLY public.webhook_deliveries FORCE ROW LEVEL SECURITY;


--
-- Name: webhook_endpoints; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_endpoints (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    url text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    event_types text[] NOT NULL,
    secret text NOT NULL,
    enabled boolean DEFAULT true NOT NULL,
    consecutive_failures integer DEFAULT 0 NOT NULL,
    disabled_at timestamp with time zone,
    disabled_reason text,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    CONSTRAINT webhook_endpoints_description_check CHECK ((length(description) <= 500)),
    CONSTRAINT webhook_endpoints_disabled_reason_check CHECK ((length(disabled_reason) <= 500)),
    CONSTRAINT webhook_endpoints_event_types_check CHECK (((cardinality(event_types) >= 1) AND (cardinality(event_types) <= 50))),
    CONSTRAINT webhook_endpoints_url_check CHECK (((url ~ '^https?://'::text) AND (length(url) <= 2000)))
);

ALTER TABLE ONLY public.webhook_endpoints FORCE ROW LEVEL SECURITY;


--
-- Name: schema_migrations id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_migrations ALTER COLUMN id SET DEFAULT nextval('public.schema_migrations_id_seq'::regclass);


--
-- Name: achievements achievements_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.achievements
    ADD CONSTRAINT achievements_key_key UNIQUE (key);


--
-- Name: achievements achievements_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.achievements
    ADD CONSTRAINT achievements_pkey PRIMARY KEY (id);


--
-- Name: api_keys api_keys_key_hash_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash);


--
-- Name: api_keys api_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_pkey PRIMARY KEY (id);


--
-- Name: api_keys api_keys_prefix_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_prefix_key UNIQUE (prefix);


--
-- Name: audit_logs audit_logs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_logs
    ADD CONSTRAINT audit_logs_pkey PRIMARY KEY (id, created_at);


--
-- Name: currencies currencies_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.currencies
    ADD CONSTRAINT currencies_pkey PRIMARY KEY (code);


--
-- Name: event_types event_types_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.event_types
    ADD CONSTRAINT event_types_pkey PRIMARY KEY (key);


--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (id, received_at);


--
-- Name: gifts gifts_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gifts
    ADD CONSTRAINT gifts_key_key UNIQUE (key);


--
-- Name: gifts gifts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gifts
    ADD CONSTRAINT gifts_pkey PRIMARY KEY (id);


--
-- Name: idempotency_keys idempotency_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.idempotency_keys
    ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY (scope, user_id, key);


--
-- Name: leaderboard_entries leaderboard_entries_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leaderboard_entries
    ADD CONSTRAINT leaderboard_entries_pkey PRIMARY KEY (leaderboard_id, period_key, user_id);


--
-- Name: leaderboard_entries leaderboard_entries_score_ceiling; Type: CHECK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE public.leaderboard_entries
    ADD CONSTRAINT leaderboard_entries_score_ceiling CHECK ((((score >= ('-1000000000000000'::numeric)::double precision) AND (score <= ('1000000000000000'::numeric)::double precision)) AND ((rank_score >= ('-1000000000000000'::numeric)::double precision) AND (rank_score <= ('1000000000000000'::numeric)::double precision)))) NOT VALID;


--
-- Name: leaderboard_periods leaderboard_periods_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leaderboard_periods
    ADD CONSTRAINT leaderboard_periods_pkey PRIMARY KEY (leaderboard_id, period_key);


--
-- Name: leaderboard_snapshot_sets leaderboard_snapshot_sets_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leaderboard_snapshot_sets
    ADD CONSTRAINT leaderboard_snapshot_sets_pkey PRIMARY KEY (leaderboard_id, period_key, taken_at);


--
-- Name: leaderboard_snapshots leaderboard_snapshots_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leaderboard_snapshots
    ADD CONSTRAINT leaderboard_snapshots_pkey PRIMARY KEY (leaderboard_id, period_key, taken_at, rank);


--
-- Name: leaderboard_snapshots leaderboard_snapshots_score_ceiling; Type: CHECK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE public.leaderboard_snapshots
    ADD CONSTRAINT leaderboard_snapshots_score_ceiling CHECK (((score >= ('-1000000000000000'::numeric)::double precision) AND (score <= ('1000000000000000'::numeric)::double precision))) NOT VALID;


--
-- Name: leaderboards leaderboards_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leaderboards
    ADD CONSTRAINT leaderboards_key_key UNIQUE (key);


--
-- Name: leaderboards leaderboards_min_score_ceiling; Type: CHECK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE public.leaderboards
    ADD CONSTRAINT leaderboards_min_score_ceiling CHECK (((min_score >= ('-1000000000000000'::numeric)::double precision) AND (min_score <= ('1000000000000000'::numeric)::double precision))) NOT VALID;


--
-- Name: leaderboards leaderboards_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leaderboards
    ADD CONSTRAINT leaderboards_pkey PRIMARY KEY (id);


--
-- Name: ledger_entries ledger_entries_amount_ceiling; Type: CHECK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE public.ledger_entries
    ADD CONSTRAINT ledger_entries_amount_ceiling CHECK (((amount >= '-1000000000000000'::bigint) AND (amount <= '1000000000000000'::bigint))) NOT VALID;


--
-- Name: ledger_entries ledger_entries_balance_after_ceiling; Type: CHECK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE public.ledger_entries
    ADD CONSTRAINT ledger_entries_balance_after_ceiling CHECK (((balance_after >= '-1000000000000000'::bigint) AND (balance_after <= '1000000000000000'::bigint))) NOT VALID;


--
-- Name: ledger_entries ledger_entries_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ledger_entries
    ADD CONSTRAINT ledger_entries_pkey PRIMARY KEY (id, created_at);


--
-- Name: login_failures login_failures_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.login_failures
    ADD CONSTRAINT login_failures_pkey PRIMARY KEY (key);


--
-- Name: notification_preferences notification_preferences_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.notification_preferences
    ADD CONSTRAINT notification_preferences_pkey PRIMARY KEY (user_id, type);


--
-- Name: notification_sends notification_sends_notification_id_channel_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.notification_sends
    ADD CONSTRAINT notification_sends_notification_id_channel_key UNIQUE (notification_id, channel);


--
-- Name: notification_sends notification_sends_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.notification_sends
    ADD CONSTRAINT notification_sends_pkey PRIMARY KEY (id);


--
-- Name: notifications notifications_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.notifications
    ADD CONSTRAINT notifications_pkey PRIMARY KEY (id, created_at);


--
-- Name: notifications notifications_user_id_dedupe_key_created_at_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.notifications
    ADD CONSTRAINT notifications_user_id_dedupe_key_created_at_key UNIQUE (user_id, dedupe_key, created_at);


--
-- Name: outbox outbox_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outbox
    ADD CONSTRAINT outbox_pkey PRIMARY KEY (id);


--
-- Name: purchases purchases_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.purchases
    ADD CONSTRAINT purchases_pkey PRIMARY KEY (user_id, id);


--
-- Name: purchases purchases_user_id_idempotency_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.purchases
    ADD CONSTRAINT purchases_user_id_idempotency_key_key UNIQUE (user_id, idempotency_key);


--
-- Name: quest_pools quest_pools_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.quest_pools
    ADD CONSTRAINT quest_pools_pkey PRIMARY KEY (key);


--
-- Name: quest_templates quest_templates_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.quest_templates
    ADD CONSTRAINT quest_templates_key_key UNIQUE (key);


--
-- Name: quest_templates quest_templates_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.quest_templates
    ADD CONSTRAINT quest_templates_pkey PRIMARY KEY (id);


--
-- Name: refresh_tokens refresh_tokens_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.refresh_tokens
    ADD CONSTRAINT refresh_tokens_pkey PRIMARY KEY (id);


--
-- Name: refresh_tokens refresh_tokens_token_hash_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.refresh_tokens
    ADD CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash);


--
-- Name: rule_award_totals rule_award_totals_amount_ceiling; Type: CHECK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE public.rule_award_totals
    ADD CONSTRAINT rule_award_totals_amount_ceiling CHECK (((amount >= '-1000000000000000'::bigint) AND (amount <= '1000000000000000'::bigint))) NOT VALID;


--
-- Name: rule_award_totals rule_award_totals_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rule_award_totals
    ADD CONSTRAINT rule_award_totals_pkey PRIMARY KEY (user_id, rule_id, currency, period_key);


--
-- Name: rule_versions rule_versions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rule_versions
    ADD CONSTRAINT rule_versions_pkey PRIMARY KEY (rule_id, version);


--
-- Name: rules rules_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rules
    ADD CONSTRAINT rules_key_key UNIQUE (key);


--
-- Name: rules rules_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rules
    ADD CONSTRAINT rules_pkey PRIMARY KEY (id);


--
-- Name: scheduled_jobs scheduled_jobs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.scheduled_jobs
    ADD CONSTRAINT scheduled_jobs_pkey PRIMARY KEY (name);


--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (id);


--
-- Name: sessions sessions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);


--
-- Name: settings settings_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.settings
    ADD CONSTRAINT settings_pkey PRIMARY KEY (key);


--
-- Name: shop_items shop_items_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.shop_items
    ADD CONSTRAINT shop_items_key_key UNIQUE (key);


--
-- Name: shop_items shop_items_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.shop_items
    ADD CONSTRAINT shop_items_pkey PRIMARY KEY (id);


--
-- Name: streak_definitions streak_definitions_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.streak_definitions
    ADD CONSTRAINT streak_definitions_key_key UNIQUE (key);


--
-- Name: streak_definitions streak_definitions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.streak_definitions
    ADD CONSTRAINT streak_definitions_pkey PRIMARY KEY (id);


--
-- Name: streak_protections streak_protections_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.streak_protections
    ADD CONSTRAINT streak_protections_pkey PRIMARY KEY (user_id, id);


--
-- Name: user_achievements user_achievements_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_achievements
    ADD CONSTRAINT user_achievements_pkey PRIMARY KEY (user_id, achievement_id);


--
-- Name: user_boosts user_boosts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_boosts
    ADD CONSTRAINT user_boosts_pkey PRIMARY KEY (user_id, id);


--
-- Name: user_gifts user_gifts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_gifts
    ADD CONSTRAINT user_gifts_pkey PRIMARY KEY (user_id, gift_id);


--
-- Name: user_inventory user_inventory_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_inventory
    ADD CONSTRAINT user_inventory_pkey PRIMARY KEY (user_id, item_id);


--
-- Name: user_profiles user_profiles_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_profiles
    ADD CONSTRAINT user_profiles_pkey PRIMARY KEY (user_id);


--
-- Name: user_progress user_progress_events_count_ceiling; Type: CHECK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE public.user_progress
    ADD CONSTRAINT user_progress_events_count_ceiling CHECK (((events_count >= 0) AND (events_count <= '1000000000000000'::bigint))) NOT VALID;


--
-- Name: user_progress user_progress_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_progress
    ADD CONSTRAINT user_progress_pkey PRIMARY KEY (user_id);


--
-- Name: user_quests user_quests_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_quests
    ADD CONSTRAINT user_quests_pkey PRIMARY KEY (user_id, template_id, period_key);


--
-- Name: user_quests user_quests_progress_ceiling; Type: CHECK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE public.user_quests
    ADD CONSTRAINT user_quests_progress_ceiling CHECK (((progress <= '1000000000000000'::bigint) AND (target <= '1000000000000000'::bigint))) NOT VALID;


--
-- Name: user_stats_daily user_stats_daily_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_stats_daily
    ADD CONSTRAINT user_stats_daily_pkey PRIMARY KEY (user_id, stat, day);


--
-- Name: user_stats_daily user_stats_daily_value_ceiling; Type: CHECK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE public.user_stats_daily
    ADD CONSTRAINT user_stats_daily_value_ceiling CHECK (((value >= '-1000000000000000'::bigint) AND (value <= '1000000000000000'::bigint))) NOT VALID;


--
-- Name: user_stats_totals user_stats_totals_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_stats_totals
    ADD CONSTRAINT user_stats_totals_pkey PRIMARY KEY (user_id, stat);


--
-- Name: user_stats_totals user_stats_totals_value_ceiling; Type: CHECK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE public.user_stats_totals
    ADD CONSTRAINT user_stats_totals_value_ceiling CHECK (((value >= '-1000000000000000'::bigint) AND (value <= '1000000000000000'::bigint))) NOT VALID;


--
-- Name: user_streak_milestones user_streak_milestones_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_streak_milestones
    ADD CONSTRAINT user_streak_milestones_pkey PRIMARY KEY (user_id, streak_id, count);


--
-- Name: user_streaks user_streaks_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_streaks
    ADD CONSTRAINT user_streaks_pkey PRIMARY KEY (user_id, streak_id);


--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);


--
-- Name: wallets wallets_balance_ceiling; Type: CHECK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE public.wallets
    ADD CONSTRAINT wallets_balance_ceiling CHECK (((balance >= '-1000000000000000'::bigint) AND (balance <= '1000000000000000'::bigint))) NOT VALID;


--
-- Name: wallets wallets_lifetime_earned_ceiling; Type: CHECK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE public.wallets
    ADD CONSTRAINT wallets_lifetime_earned_ceiling CHECK ((lifetime_earned <= '1000000000000000'::bigint)) NOT VALID;


--
-- Name: wallets wallets_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.wallets
    ADD CONSTRAINT wallets_pkey PRIMARY KEY (user_id, currency);


--
-- Name: webhook_attempts webhook_attempts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_attempts
    ADD CONSTRAINT webhook_attempts_pkey PRIMARY KEY (delivery_id, attempt);


--
-- Name: webhook_deliveries webhook_deliveries_endpoint_id_outbox_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_endpoint_id_outbox_id_key UNIQUE (endpoint_id, outbox_id);


--
-- Name: webhook_deliveries webhook_deliveries_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (id);


--
-- Name: webhook_endpoints webhook_endpoints_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_endpoints
    ADD CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (id);


--
-- Name: audit_logs_action_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_logs_action_idx ON ONLY public.audit_logs USING btree (action, created_at DESC);


--
-- Name: audit_logs_actor_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_logs_actor_idx ON ONLY public.audit_logs USING btree (actor_id, created_at DESC);


--
-- Name: audit_logs_created_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_logs_created_idx ON ONLY public.audit_logs USING btree (created_at DESC, id DESC);


--
-- Name: audit_logs_resource_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_logs_resource_idx ON ONLY public.audit_logs USING btree (resource_type, resource_id);


--
-- Name: audit_logs_subject_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_logs_subject_idx ON ONLY public.audit_logs USING btree (subject_user_id, created_at DESC);


--
-- Name: events_type_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX events_type_idx ON ONLY public.events USING btree (type, received_at DESC);


--
-- Name: events_user_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX events_user_idx ON ONLY public.events USING btree (user_id, received_at DESC, id DESC);


--
-- Name: idempotency_keys_created_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idempotency_keys_created_idx ON public.idempotency_keys USING btree (created_at);


--
-- Name: leaderboard_entries_rank_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leaderboard_entries_rank_idx ON public.leaderboard_entries USING btree (leaderboard_id, period_key, rank_score DESC, reached_at, user_id) WHERE ranked;


--
-- Name: leaderboard_periods_open_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leaderboard_periods_open_idx ON public.leaderboard_periods USING btree (ends_at) WHERE (closed_at IS NULL);


--
-- Name: leaderboard_snapshot_sets_recent_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leaderboard_snapshot_sets_recent_idx ON public.leaderboard_snapshot_sets USING btree (leaderboard_id, taken_at DESC, period_key DESC);


--
-- Name: ledger_entries_user_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ledger_entries_user_idx ON ONLY public.ledger_entries USING btree (user_id, id DESC);


--
-- Name: ledger_entries_wallet_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ledger_entries_wallet_idx ON ONLY public.ledger_entries USING btree (user_id, currency, id);


--
-- Name: notification_sends_due_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX notification_sends_due_idx ON public.notification_sends USING btree (next_attempt_at) WHERE (status = ANY (ARRAY['pending'::text, 'sending'::text]));


--
-- Name: notifications_unread_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX notifications_unread_idx ON ONLY public.notifications USING btree (user_id, created_at DESC, id DESC) WHERE ((read_at IS NULL) AND in_app);


--
-- Name: notifications_user_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX notifications_user_idx ON ONLY public.notifications USING btree (user_id, created_at DESC, id DESC);


--
-- Name: outbox_dead_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX outbox_dead_idx ON public.outbox USING btree (id) WHERE (dead_at IS NOT NULL);


--
-- Name: outbox_pending_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX outbox_pending_idx ON public.outbox USING btree (id) WHERE (dispatched_at IS NULL);


--
-- Name: outbox_user_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX outbox_user_idx ON public.outbox USING btree (user_id, id);


--
-- Name: purchases_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX purchases_id_idx ON public.purchases USING btree (id);


--
-- Name: purchases_user_created_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX purchases_user_created_idx ON public.purchases USING btree (user_id, created_at DESC, id DESC);


--
-- Name: refresh_tokens_session_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX refresh_tokens_session_idx ON public.refresh_tokens USING btree (session_id);


--
-- Name: refresh_tokens_user_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX refresh_tokens_user_idx ON public.refresh_tokens USING btree (user_id);


--
-- Name: rules_event_type_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX rules_event_type_idx ON public.rules USING btree (event_type) WHERE active;


--
-- Name: sessions_user_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX sessions_user_idx ON public.sessions USING btree (user_id, created_at DESC);


--
-- Name: shop_items_catalogue_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX shop_items_catalogue_idx ON public.shop_items USING btree (category, price, key) WHERE active;


--
-- Name: user_boosts_user_ends_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX user_boosts_user_ends_idx ON public.user_boosts USING btree (user_id, ends_at);


--
-- Name: user_quests_user_expires_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX user_quests_user_expires_idx ON public.user_quests USING btree (user_id, expires_at DESC);


--
-- Name: users_created_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX users_created_at_idx ON public.users USING btree (created_at, id);


--
-- Name: users_email_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX users_email_key ON public.users USING btree (lower(email));


--
-- Name: users_username_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX users_username_key ON public.users USING btree (lower(username));


--
-- Name: webhook_deliveries_due_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX webhook_deliveries_due_idx ON public.webhook_deliveries USING btree (next_attempt_at) WHERE (status = ANY (ARRAY['pending'::text, 'sending'::text]));


--
-- Name: webhook_deliveries_endpoint_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX webhook_deliveries_endpoint_idx ON public.webhook_deliveries USING btree (endpoint_id, created_at DESC, id DESC);


--
-- Name: webhook_deliveries_open_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX webhook_deliveries_open_idx ON public.webhook_deliveries USING btree (endpoint_id, user_id, outbox_id) WHERE (status = ANY (ARRAY['pending'::text, 'sending'::text]));


--
-- Name: shop_items shop_items_guard; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER shop_items_guard BEFORE UPDATE ON public.shop_items FOR EACH ROW EXECUTE FUNCTION public.ludus_shop_items_guard();


--
-- Name: api_keys api_keys_created_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id) ON DELETE SET NULL;


--
-- Name: idempotency_keys idempotency_keys_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.idempotency_keys
    ADD CONSTRAINT idempotency_keys_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: leaderboard_entries leaderboard_entries_leaderboard_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leaderboard_entries
    ADD CONSTRAINT leaderboard_entries_leaderboard_id_fkey FOREIGN KEY (leaderboard_id) REFERENCES public.leaderboards(id) ON DELETE CASCADE;


--
-- Name: leaderboard_entries leaderboard_entries_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leaderboard_entries
    ADD CONSTRAINT leaderboard_entries_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: leaderboard_periods leaderboard_periods_leaderboard_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leaderboard_periods
    ADD CONSTRAINT leaderboard_periods_leaderboard_id_fkey FOREIGN KEY (leaderboard_id) REFERENCES public.leaderboards(id) ON DELETE CASCADE;


--
-- Name: leaderboard_snapshot_sets leaderboard_snapshot_sets_leaderboard_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leaderboard_snapshot_sets
    ADD CONSTRAINT leaderboard_snapshot_sets_leaderboard_id_fkey FOREIGN KEY (leaderboard_id) REFERENCES public.leaderboards(id) ON DELETE CASCADE;


--
-- Name: leaderboard_snapshots leaderboard_snapshots_leaderboard_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leaderboard_snapshots
    ADD CONSTRAINT leaderboard_snapshots_leaderboard_id_fkey FOREIGN KEY (leaderboard_id) REFERENCES public.leaderboards(id) ON DELETE CASCADE;


--
-- Name: notification_preferences notification_preferences_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.notification_preferences
    ADD CONSTRAINT notification_preferences_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: notification_sends notification_sends_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.notification_sends
    ADD CONSTRAINT notification_sends_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: notifications notifications_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE public.notifications
    ADD CONSTRAINT notifications_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: purchases purchases_item_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.purchases
    ADD CONSTRAINT purchases_item_id_fkey FOREIGN KEY (item_id) REFERENCES public.shop_items(id);


--
-- Name: purchases purchases_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.purchases
    ADD CONSTRAINT purchases_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: quest_templates quest_templates_pool_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.quest_templates
    ADD CONSTRAINT quest_templates_pool_fkey FOREIGN KEY (pool) REFERENCES public.quest_pools(key);


--
-- Name: refresh_tokens refresh_tokens_session_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.refresh_tokens
    ADD CONSTRAINT refresh_tokens_session_id_fkey FOREIGN KEY (session_id) REFERENCES public.sessions(id) ON DELETE CASCADE;


--
-- Name: refresh_tokens refresh_tokens_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.refresh_tokens
    ADD CONSTRAINT refresh_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: rule_award_totals rule_award_totals_rule_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rule_award_totals
    ADD CONSTRAINT rule_award_totals_rule_id_fkey FOREIGN KEY (rule_id) REFERENCES public.rules(id) ON DELETE CASCADE;


--
-- Name: rule_award_totals rule_award_totals_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rule_award_totals
    ADD CONSTRAINT rule_award_totals_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: rule_versions rule_versions_rule_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rule_versions
    ADD CONSTRAINT rule_versions_rule_id_fkey FOREIGN KEY (rule_id) REFERENCES public.rules(id) ON DELETE CASCADE;


--
-- Name: rules rules_event_type_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rules
    ADD CONSTRAINT rules_event_type_fkey FOREIGN KEY (event_type) REFERENCES public.event_types(key) ON UPDATE CASCADE;


--
-- Name: sessions sessions_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: shop_items shop_items_currency_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.shop_items
    ADD CONSTRAINT shop_items_currency_fkey FOREIGN KEY (currency) REFERENCES public.currencies(code);


--
-- Name: streak_definitions streak_definitions_freeze_currency_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.streak_definitions
    ADD CONSTRAINT streak_definitions_freeze_currency_fkey FOREIGN KEY (freeze_currency) REFERENCES public.currencies(code);


--
-- Name: streak_protections streak_protections_streak_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.streak_protections
    ADD CONSTRAINT streak_protections_streak_id_fkey FOREIGN KEY (streak_id) REFERENCES public.streak_definitions(id) ON DELETE CASCADE;


--
-- Name: streak_protections streak_protections_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.streak_protections
    ADD CONSTRAINT streak_protections_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: user_achievements user_achievements_achievement_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_achievements
    ADD CONSTRAINT user_achievements_achievement_id_fkey FOREIGN KEY (achievement_id) REFERENCES public.achievements(id) ON DELETE CASCADE;


--
-- Name: user_achievements user_achievements_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_achievements
    ADD CONSTRAINT user_achievements_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: user_boosts user_boosts_currency_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_boosts
    ADD CONSTRAINT user_boosts_currency_fkey FOREIGN KEY (currency) REFERENCES public.currencies(code);


--
-- Name: user_boosts user_boosts_item_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_boosts
    ADD CONSTRAINT user_boosts_item_id_fkey FOREIGN KEY (item_id) REFERENCES public.shop_items(id);


--
-- Name: user_boosts user_boosts_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_boosts
    ADD CONSTRAINT user_boosts_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: user_gifts user_gifts_gift_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_gifts
    ADD CONSTRAINT user_gifts_gift_id_fkey FOREIGN KEY (gift_id) REFERENCES public.gifts(id);


--
-- Name: user_gifts user_gifts_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_gifts
    ADD CONSTRAINT user_gifts_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: user_inventory user_inventory_item_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_inventory
    ADD CONSTRAINT user_inventory_item_id_fkey FOREIGN KEY (item_id) REFERENCES public.shop_items(id);


--
-- Name: user_inventory user_inventory_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_inventory
    ADD CONSTRAINT user_inventory_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: user_profiles user_profiles_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_profiles
    ADD CONSTRAINT user_profiles_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: user_progress user_progress_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_progress
    ADD CONSTRAINT user_progress_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: user_quests user_quests_template_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_quests
    ADD CONSTRAINT user_quests_template_id_fkey FOREIGN KEY (template_id) REFERENCES public.quest_templates(id) ON DELETE CASCADE;


--
-- Name: user_quests user_quests_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_quests
    ADD CONSTRAINT user_quests_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: user_stats_daily user_stats_daily_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_stats_daily
    ADD CONSTRAINT user_stats_daily_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: user_stats_totals user_stats_totals_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_stats_totals
    ADD CONSTRAINT user_stats_totals_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: user_streak_milestones user_streak_milestones_streak_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_streak_milestones
    ADD CONSTRAINT user_streak_milestones_streak_id_fkey FOREIGN KEY (streak_id) REFERENCES public.streak_definitions(id) ON DELETE CASCADE;


--
-- Name: user_streak_milestones user_streak_milestones_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_streak_milestones
    ADD CONSTRAINT user_streak_milestones_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: user_streaks user_streaks_streak_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_streaks
    ADD CONSTRAINT user_streaks_streak_id_fkey FOREIGN KEY (streak_id) REFERENCES public.streak_definitions(id) ON DELETE CASCADE;


--
-- Name: user_streaks user_streaks_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_streaks
    ADD CONSTRAINT user_streaks_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: wallets wallets_currency_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.wallets
    ADD CONSTRAINT wallets_currency_fkey FOREIGN KEY (currency) REFERENCES public.currencies(code);


--
-- Name: wallets wallets_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.wallets
    ADD CONSTRAINT wallets_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: webhook_attempts webhook_attempts_delivery_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_attempts
    ADD CONSTRAINT webhook_attempts_delivery_id_fkey FOREIGN KEY (delivery_id) REFERENCES public.webhook_deliveries(id) ON DELETE CASCADE;


--
-- Name: webhook_deliveries webhook_deliveries_endpoint_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_endpoint_id_fkey FOREIGN KEY (endpoint_id) REFERENCES public.webhook_endpoints(id) ON DELETE CASCADE;


--
-- Name: achievements; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.achievements ENABLE ROW LEVEL SECURITY;

--
-- Name: achievements achievements_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY achievements_read ON public.achievements FOR SELECT USING (true);


--
-- Name: achievements achievements_write; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY achievements_write ON public.achievements USING (public.ludus_is_system()) WITH CHECK (public.ludus_is_system());


--
-- Name: api_keys; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.api_keys ENABLE ROW LEVEL SECURITY;

--
-- Name: api_keys api_keys_system; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY api_keys_system ON public.api_keys USING (public.ludus_is_system()) WITH CHECK (public.ludus_is_system());


--
-- Name: audit_logs; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.audit_logs ENABLE ROW LEVEL SECURITY;

--
-- Name: audit_logs audit_logs_subject; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY audit_logs_subject ON public.audit_logs USING (((subject_user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((subject_user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: currencies; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.currencies ENABLE ROW LEVEL SECURITY;

--
-- Name: currencies currencies_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY currencies_read ON public.currencies FOR SELECT USING (true);


--
-- Name: currencies currencies_write; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY currencies_write ON public.currencies USING (public.ludus_is_system()) WITH CHECK (public.ludus_is_system());


--
-- Name: event_types; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.event_types ENABLE ROW LEVEL SECURITY;

--
-- Name: event_types event_types_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY event_types_read ON public.event_types FOR SELECT USING (true);


--
-- Name: event_types event_types_write; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY event_types_write ON public.event_types USING (public.ludus_is_system()) WITH CHECK (public.ludus_is_system());


--
-- Name: events; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.events ENABLE ROW LEVEL SECURITY;

--
-- Name: events events_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY events_owner ON public.events USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: gifts; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.gifts ENABLE ROW LEVEL SECURITY;

--
-- Name: gifts gifts_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY gifts_read ON public.gifts FOR SELECT USING (true);


--
-- Name: gifts gifts_write; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY gifts_write ON public.gifts USING (public.ludus_is_system()) WITH CHECK (public.ludus_is_system());


--
-- Name: idempotency_keys; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.idempotency_keys ENABLE ROW LEVEL SECURITY;

--
-- Name: idempotency_keys idempotency_keys_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY idempotency_keys_owner ON public.idempotency_keys USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: leaderboard_entries; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.leaderboard_entries ENABLE ROW LEVEL SECURITY;

--
-- Name: leaderboard_entries leaderboard_entries_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY leaderboard_entries_read ON public.leaderboard_entries FOR SELECT USING (true);


--
-- Name: leaderboard_entries leaderboard_entries_update; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY leaderboard_entries_update ON public.leaderboard_entries FOR UPDATE USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: leaderboard_entries leaderboard_entries_write; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY leaderboard_entries_write ON public.leaderboard_entries FOR INSERT WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: leaderboard_periods; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.leaderboard_periods ENABLE ROW LEVEL SECURITY;

--
-- Name: leaderboard_periods leaderboard_periods_lock; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY leaderboard_periods_lock ON public.leaderboard_periods FOR UPDATE USING (true) WITH CHECK (public.ludus_is_system());


--
-- Name: leaderboard_periods leaderboard_periods_open; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY leaderboard_periods_open ON public.leaderboard_periods FOR INSERT WITH CHECK ((closed_at IS NULL));


--
-- Name: leaderboard_periods leaderboard_periods_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY leaderboard_periods_read ON public.leaderboard_periods FOR SELECT USING (true);


--
-- Name: leaderboard_periods leaderboard_periods_write; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY leaderboard_periods_write ON public.leaderboard_periods USING (public.ludus_is_system()) WITH CHECK (public.ludus_is_system());


--
-- Name: leaderboard_snapshot_sets; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.leaderboard_snapshot_sets ENABLE ROW LEVEL SECURITY;

--
-- Name: leaderboard_snapshot_sets leaderboard_snapshot_sets_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY leaderboard_snapshot_sets_read ON public.leaderboard_snapshot_sets FOR SELECT USING (true);


--
-- Name: leaderboard_snapshot_sets leaderboard_snapshot_sets_write; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY leaderboard_snapshot_sets_write ON public.leaderboard_snapshot_sets USING (public.ludus_is_system()) WITH CHECK (public.ludus_is_system());


--
-- Name: leaderboard_snapshots; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.leaderboard_snapshots ENABLE ROW LEVEL SECURITY;

--
-- Name: leaderboard_snapshots leaderboard_snapshots_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY leaderboard_snapshots_read ON public.leaderboard_snapshots FOR SELECT USING (true);


--
-- Name: leaderboard_snapshots leaderboard_snapshots_write; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY leaderboard_snapshots_write ON public.leaderboard_snapshots USING (public.ludus_is_system()) WITH CHECK (public.ludus_is_system());


--
-- Name: leaderboards; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.leaderboards ENABLE ROW LEVEL SECURITY;

--
-- Name: leaderboards leaderboards_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY leaderboards_read ON public.leaderboards FOR SELECT USING (true);


--
-- Name: leaderboards leaderboards_write; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY leaderboards_write ON public.leaderboards USING (public.ludus_is_system()) WITH CHECK (public.ludus_is_system());


--
-- Name: ledger_entries; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.ledger_entries ENABLE ROW LEVEL SECURITY;

--
-- Name: ledger_entries ledger_entries_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY ledger_entries_owner ON public.ledger_entries USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: login_failures; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.login_failures ENABLE ROW LEVEL SECURITY;

--
-- Name: login_failures login_failures_system; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY login_failures_system ON public.login_failures USING (public.ludus_is_system()) WITH CHECK (public.ludus_is_system());


--
-- Name: notification_preferences; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.notification_preferences ENABLE ROW LEVEL SECURITY;

--
-- Name: notification_preferences notification_preferences_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY notification_preferences_owner ON public.notification_preferences USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: notification_sends; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.notification_sends ENABLE ROW LEVEL SECURITY;

--
-- Name: notification_sends notification_sends_system; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY notification_sends_system ON public.notification_sends USING (public.ludus_is_system()) WITH CHECK (public.ludus_is_system());


--
-- Name: notifications; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.notifications ENABLE ROW LEVEL SECURITY;

--
-- Name: notifications notifications_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY notifications_owner ON public.notifications USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: outbox; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.outbox ENABLE ROW LEVEL SECURITY;

--
-- Name: outbox outbox_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY outbox_owner ON public.outbox USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: purchases; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.purchases ENABLE ROW LEVEL SECURITY;

--
-- Name: purchases purchases_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY purchases_owner ON public.purchases USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: quest_pools; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.quest_pools ENABLE ROW LEVEL SECURITY;

--
-- Name: quest_pools quest_pools_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY quest_pools_read ON public.quest_pools FOR SELECT USING (true);


--
-- Name: quest_pools quest_pools_write; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY quest_pools_write ON public.quest_pools USING (public.ludus_is_system()) WITH CHECK (public.ludus_is_system());


--
-- Name: quest_templates; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.quest_templates ENABLE ROW LEVEL SECURITY;

--
-- Name: quest_templates quest_templates_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY quest_templates_read ON public.quest_templates FOR SELECT USING (true);


--
-- Name: quest_templates quest_templates_write; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY quest_templates_write ON public.quest_templates USING (public.ludus_is_system()) WITH CHECK (public.ludus_is_system());


--
-- Name: refresh_tokens; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.refresh_tokens ENABLE ROW LEVEL SECURITY;

--
-- Name: refresh_tokens refresh_tokens_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY refresh_tokens_owner ON public.refresh_tokens USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: rule_award_totals; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.rule_award_totals ENABLE ROW LEVEL SECURITY;

--
-- Name: rule_award_totals rule_award_totals_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY rule_award_totals_owner ON public.rule_award_totals USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: rule_versions; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.rule_versions ENABLE ROW LEVEL SECURITY;

--
-- Name: rule_versions rule_versions_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY rule_versions_read ON public.rule_versions FOR SELECT USING (true);


--
-- Name: rule_versions rule_versions_write; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY rule_versions_write ON public.rule_versions USING (public.ludus_is_system()) WITH CHECK (public.ludus_is_system());


--
-- Name: rules; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.rules ENABLE ROW LEVEL SECURITY;

--
-- Name: rules rules_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY rules_read ON public.rules FOR SELECT USING (true);


--
-- Name: rules rules_write; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY rules_write ON public.rules USING (public.ludus_is_system()) WITH CHECK (public.ludus_is_system());


--
-- Name: scheduled_jobs; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.scheduled_jobs ENABLE ROW LEVEL SECURITY;

--
-- Name: scheduled_jobs scheduled_jobs_system; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY scheduled_jobs_system ON public.scheduled_jobs USING (public.ludus_is_system()) WITH CHECK (public.ludus_is_system());


--
-- Name: sessions; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.sessions ENABLE ROW LEVEL SECURITY;

--
-- Name: sessions sessions_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY sessions_owner ON public.sessions USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: settings; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.settings ENABLE ROW LEVEL SECURITY;

--
-- Name: settings settings_system; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY settings_system ON public.settings USING (public.ludus_is_system()) WITH CHECK (public.ludus_is_system());


--
-- Name: shop_items; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.shop_items ENABLE ROW LEVEL SECURITY;

--
-- Name: shop_items shop_items_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY shop_items_read ON public.shop_items FOR SELECT USING (true);


--
-- Name: shop_items shop_items_take_stock; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY shop_items_take_stock ON public.shop_items FOR UPDATE USING ((stock IS NOT NULL)) WITH CHECK ((stock >= 0));


--
-- Name: shop_items shop_items_write; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY shop_items_write ON public.shop_items USING (public.ludus_is_system()) WITH CHECK (public.ludus_is_system());


--
-- Name: streak_definitions; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.streak_definitions ENABLE ROW LEVEL SECURITY;

--
-- Name: streak_definitions streak_definitions_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY streak_definitions_read ON public.streak_definitions FOR SELECT USING (true);


--
-- Name: streak_definitions streak_definitions_write; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY streak_definitions_write ON public.streak_definitions USING (public.ludus_is_system()) WITH CHECK (public.ludus_is_system());


--
-- Name: streak_protections; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.streak_protections ENABLE ROW LEVEL SECURITY;

--
-- Name: streak_protections streak_protections_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY streak_protections_owner ON public.streak_protections USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: user_achievements; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.user_achievements ENABLE ROW LEVEL SECURITY;

--
-- Name: user_achievements user_achievements_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY user_achievements_owner ON public.user_achievements USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: user_boosts; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.user_boosts ENABLE ROW LEVEL SECURITY;

--
-- Name: user_boosts user_boosts_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY user_boosts_owner ON public.user_boosts USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: user_gifts; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.user_gifts ENABLE ROW LEVEL SECURITY;

--
-- Name: user_gifts user_gifts_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY user_gifts_owner ON public.user_gifts USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: user_inventory; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.user_inventory ENABLE ROW LEVEL SECURITY;

--
-- Name: user_inventory user_inventory_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY user_inventory_owner ON public.user_inventory USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: user_profiles; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.user_profiles ENABLE ROW LEVEL SECURITY;

--
-- Name: user_profiles user_profiles_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY user_profiles_owner ON public.user_profiles USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: user_progress; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.user_progress ENABLE ROW LEVEL SECURITY;

--
-- Name: user_progress user_progress_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY user_progress_owner ON public.user_progress USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: user_quests; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.user_quests ENABLE ROW LEVEL SECURITY;

--
-- Name: user_quests user_quests_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY user_quests_owner ON public.user_quests USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: user_stats_daily; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.user_stats_daily ENABLE ROW LEVEL SECURITY;

--
-- Name: user_stats_daily user_stats_daily_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY user_stats_daily_owner ON public.user_stats_daily USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: user_stats_totals; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.user_stats_totals ENABLE ROW LEVEL SECURITY;

--
-- Name: user_stats_totals user_stats_totals_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY user_stats_totals_owner ON public.user_stats_totals USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: user_streak_milestones; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.user_streak_milestones ENABLE ROW LEVEL SECURITY;

--
-- Name: user_streak_milestones user_streak_milestones_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY user_streak_milestones_owner ON public.user_streak_milestones USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: user_streaks; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.user_streaks ENABLE ROW LEVEL SECURITY;

--
-- Name: user_streaks user_streaks_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY user_streaks_owner ON public.user_streaks USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: users; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;

--
-- Name: users users_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY users_owner ON public.users USING (((id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: wallets; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.wallets ENABLE ROW LEVEL SECURITY;

--
-- Name: wallets wallets_owner; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY wallets_owner ON public.wallets USING (((user_id = public.ludus_acting_user()) OR public.ludus_is_system())) WITH CHECK (((user_id = public.ludus_acting_user()) OR public.ludus_is_system()));


--
-- Name: webhook_attempts; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.webhook_attempts ENABLE ROW LEVEL SECURITY;

--
-- Name: webhook_attempts webhook_attempts_system; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY webhook_attempts_system ON public.webhook_attempts USING (public.ludus_is_system()) WITH CHECK (public.ludus_is_system());


--
-- Name: webhook_deliveries; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.webhook_deliveries ENABLE ROW LEVEL SECURITY;

--
-- Name: webhook_deliveries webhook_deliveries_system; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY webhook_deliveries_system ON public.webhook_deliveries USING (public.ludus_is_system()) WITH CHECK (public.ludus_is_system());


--
-- Name: webhook_endpoints; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.webhook_endpoints ENABLE ROW LEVEL SECURITY;

--
-- Name: webhook_endpoints webhook_endpoints_system; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY webhook_endpoints_system ON public.webhook_endpoints USING (public.ludus_is_system()) WITH CHECK (public.ludus_is_system());


--
-- PostgreSQL database dump complete
--


