-- A message row is rewritten as it moves queued → sent → delivered; room on its page lets those
-- updates stay on the page (no index column changes), instead of a new index entry each time.
ALTER TABLE messages SET (fillfactor = 80);
