-- Points are org-scoped like every other record: each lot and each operation belongs to the unit that
-- issued it (the earning caller's unit, or the unit owning the points reward that credited it). A unit
-- reads and moves only the points of its subtree and of its ancestors (head office's points are spent at
-- branches, as head office's rewards are granted there); head office sees all. Rows written before this
-- migration have no issuer on record: they go to the root, readable everywhere, as they were.
ALTER TABLE points_lots ADD COLUMN org_path text NOT NULL DEFAULT '/';
ALTER TABLE points_lots ALTER COLUMN org_path DROP DEFAULT;
ALTER TABLE points_operations ADD COLUMN org_path text NOT NULL DEFAULT '/';
ALTER TABLE points_operations ALTER COLUMN org_path DROP DEFAULT;
