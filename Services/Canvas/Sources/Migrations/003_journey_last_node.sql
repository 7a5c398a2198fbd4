-- The node a journey reached last (its "last touch"): `node` is where it goes next (after a wait it
-- already names the following node), so a conversion is credited to `last_node` instead. NULL until
-- the journey has reached a node.
ALTER TABLE journeys ADD COLUMN last_node text;
