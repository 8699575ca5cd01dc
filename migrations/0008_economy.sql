-- Up Migration

-- The shop (seed 000 shop_items, user_inventory; the virtual_economy transactions are the ledger).
-- Items are definitions addressed by key, like achievements and quests, so content packs and gifts
-- can name them; the key may not look like a UUID, so a path can take either an id or a key.
CREATE TABLE shop_items (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  key text NOT NULL UNIQUE CHECK (
    key ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'
    AND key !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
  ),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
  category text NOT NULL DEFAULT 'general' CHECK (length(category) BETWEEN 1 AND 50),
  price bigint NOT NULL CHECK (price BETWEEN 0 AND 1000000000),
  currency text NOT NULL DEFAULT 'coins' REFERENCES currencies (code),
  item_type text NOT NULL
    CHECK (item_type IN ('recipe', 'avatar', 'badge', 'boost', 'protection', 'freeze', 'consumable')),
  -- What the item does, by type: boost {currency, multiplier, duration (minutes)}, protection
  -- {duration (hours), streak?}, freeze {currency?, amount?}, recipe {recipeCount}; free-form otherwise.
  item_data jsonb NOT NULL DEFAULT '{}',
  active boolean NOT NULL DEFAULT true,
  premium boolean NOT NULL DEFAULT false,
  -- Units left for sale (null: unlimited). Purchases take from it, refunds give back.
  stock bigint CHECK (stock >= 0),
  -- The most units one player may buy (net of refunds); null: no limit.
  per_player_limit integer CHECK (per_player_limit > 0),
  available_from timestamptz,
  available_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (available_until IS NULL OR available_from IS NULL OR available_until > available_from)
);
CREATE INDEX shop_items_catalogue_idx ON shop_items (category, price, key) WHERE active;

-- What each player holds of each item. quantity = purchased + granted - used, always; cosmetics
-- (avatars, badges) are equipped rather than used up.
CREATE TABLE user_inventory (
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  item_id uuid NOT NULL REFERENCES shop_items (id),
  quantity bigint NOT NULL DEFAULT 0 CHECK (quantity >= 0),
  purchased bigint NOT NULL DEFAULT 0 CHECK (purchased >= 0),
  granted bigint NOT NULL DEFAULT 0 CHECK (granted >= 0),
  used bigint NOT NULL DEFAULT 0 CHECK (used >= 0),
  equipped boolean NOT NULL DEFAULT false,
  first_acquired_at timestamptz NOT NULL,
  last_used_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, item_id),
  CONSTRAINT user_inventory_balanced CHECK (quantity = purchased + granted - used)
);

-- Every purchase, with its price and the ledger entry that paid it; refunds mark it and keep
-- their answer, so refunding twice answers the first refund.
CREATE TABLE purchases (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  item_id uuid NOT NULL REFERENCES shop_items (id),
  quantity integer NOT NULL CHECK (quantity > 0),
  unit_price bigint NOT NULL CHECK (unit_price >= 0),
  total bigint NOT NULL CHECK (total >= 0),
  currency text NOT NULL,
  status text NOT NULL DEFAULT 'completed' CHECK (status IN ('completed', 'refunded')),
  idempotency_key text NOT NULL CHECK (length(idempotency_key) <= 200),
  -- null for free items (nothing was debited).
  ledger_entry_id bigint,
  created_at timestamptz NOT NULL,
  refunded_at timestamptz,
  refund jsonb,
  PRIMARY KEY (user_id, id),
  UNIQUE (user_id, idempotency_key),
  CHECK (total = unit_price * quantity),
  CHECK ((status = 'refunded') = (refunded_at IS NOT NULL AND refund IS NOT NULL))
);
CREATE INDEX purchases_id_idx ON purchases (id);
CREATE INDEX purchases_user_created_idx ON purchases (user_id, created_at DESC, id DESC);

-- A boost a player used: awards in its currency for events that happened in [starts_at, ends_at)
-- are multiplied. Using the same item again while it runs extends ends_at.
CREATE TABLE user_boosts (
  id bigint GENERATED ALWAYS AS IDENTITY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  item_id uuid NOT NULL REFERENCES shop_items (id),
  currency text NOT NULL REFERENCES currencies (code),
  multiplier double precision NOT NULL CHECK (multiplier > 1 AND multiplier <= 10),
  starts_at timestamptz NOT NULL,
  ends_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, id),
  CHECK (ends_at > starts_at)
);
CREATE INDEX user_boosts_user_ends_idx ON user_boosts (user_id, ends_at);

-- One-time gifts (seed 000 has_claimed_gift): currency and items, claimed once per player.
CREATE TABLE gifts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  key text NOT NULL UNIQUE CHECK (key ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
  -- [{currency, amount}]
  rewards jsonb NOT NULL DEFAULT '[]',
  -- [{item: shop item key, quantity}]
  items jsonb NOT NULL DEFAULT '[]',
  active boolean NOT NULL DEFAULT true,
  starts_at timestamptz,
  ends_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at)
);

-- The primary key makes a gift claimable once per player; the first answer is kept for replays.
CREATE TABLE user_gifts (
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  gift_id uuid NOT NULL REFERENCES gifts (id),
  claimed_at timestamptz NOT NULL,
  result jsonb NOT NULL,
  PRIMARY KEY (user_id, gift_id)
);

-- Events Ludus records for the economy, so rules, quests and achievements can react to them.
INSERT INTO event_types (key, description, data_schema, system) VALUES
  ('item.purchased', 'A player bought a shop item (emitted by Ludus)',
   '{"type": "object", "required": ["item", "quantity"], "properties": {"item": {"type": "string"}, "itemType": {"type": "string"}, "category": {"type": "string"}, "quantity": {"type": "integer"}, "currency": {"type": "string"}, "total": {"type": "integer"}, "purchaseId": {"type": "string"}}}',
   true),
  ('item.used', 'A player used an item of their inventory (emitted by Ludus)',
   '{"type": "object", "required": ["item", "quantity"], "properties": {"item": {"type": "string"}, "itemType": {"type": "string"}, "quantity": {"type": "integer"}}}',
   true),
  ('gift.claimed', 'A player claimed a one-time gift (emitted by Ludus)',
   '{"type": "object", "required": ["gift"], "properties": {"gift": {"type": "string"}}}',
   true);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['shop_items', 'gifts'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY %I ON %I FOR SELECT USING (true)', t || '_read', t);
    EXECUTE format('CREATE POLICY %I ON %I FOR ALL USING (ludus_is_system()) WITH CHECK (ludus_is_system())',
                   t || '_write', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %I TO ludus_app', t);
  END LOOP;
  FOREACH t IN ARRAY ARRAY['user_inventory', 'purchases', 'user_boosts', 'user_gifts'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY %I ON %I USING (user_id = ludus_acting_user() OR ludus_is_system()) '
                   'WITH CHECK (user_id = ludus_acting_user() OR ludus_is_system())', t || '_owner', t);
  END LOOP;
END $$;
GRANT SELECT, INSERT, UPDATE ON user_inventory, purchases, user_boosts TO ludus_app;
GRANT SELECT, INSERT ON user_gifts TO ludus_app;

-- A player's purchase takes units from a stocked item: the one change to a definition a player's
-- transaction may make. The trigger keeps it to that (stock going down, nothing else changing).
CREATE POLICY shop_items_take_stock ON shop_items FOR UPDATE
  USING (stock IS NOT NULL) WITH CHECK (stock >= 0);

CREATE FUNCTION ludus_shop_items_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT ludus_is_system()
     AND (NEW.stock IS NULL OR OLD.stock IS NULL OR NEW.stock > OLD.stock
          OR to_jsonb(NEW) - 'stock' IS DISTINCT FROM to_jsonb(OLD) - 'stock') THEN
    RAISE EXCEPTION 'a player''s transaction may only take stock from a shop item'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER shop_items_guard BEFORE UPDATE ON shop_items
  FOR EACH ROW EXECUTE FUNCTION ludus_shop_items_guard();

-- Down Migration

DROP TRIGGER shop_items_guard ON shop_items;
DROP FUNCTION ludus_shop_items_guard();
DELETE FROM rules WHERE event_type IN ('item.purchased', 'item.used', 'gift.claimed');
DELETE FROM event_types WHERE key IN ('item.purchased', 'item.used', 'gift.claimed');
DROP TABLE user_gifts;
DROP TABLE gifts;
DROP TABLE user_boosts;
DROP TABLE purchases;
DROP TABLE user_inventory;
DROP TABLE shop_items;
