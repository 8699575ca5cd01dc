-- Up Migration

-- Equipping a cosmetic uses nothing up: it is recorded as its own event, so that rules, quests and
-- achievements counting item.used cannot be served by equipping avatars back and forth.
INSERT INTO event_types (key, description, data_schema, system) VALUES
  ('item.equipped', 'A player equipped a cosmetic of their inventory (emitted by Ludus)',
   '{"type": "object", "required": ["item"], "properties": {"item": {"type": "string"}, "itemType": {"type": "string"}}}',
   true);

-- Down Migration

DELETE FROM rules WHERE event_type = 'item.equipped';
DELETE FROM event_types WHERE key = 'item.equipped';
