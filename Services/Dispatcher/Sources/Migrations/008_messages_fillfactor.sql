-- A message row is written three times (queued, sent, delivered) within a second or so, before the
-- versions it leaves can be pruned: at fillfactor 80 most of those updates found no room on their page
-- and wrote every index anew (42% HOT in the dispatch bench). Half a page free keeps them on the page.
ALTER TABLE messages SET (fillfactor = 50);
