-- An external grant revoked or expired before its provider answered is `cancelled`: the retry job no longer
-- asks the provider to issue a benefit whose unit was given back. A fetch already in flight at that moment
-- still records the provider's reference, so that the bank can see what the provider issued.
ALTER TABLE grants DROP CONSTRAINT grants_external_status_check;
ALTER TABLE grants ADD CONSTRAINT grants_external_status_check CHECK (external_status IN ('pending', 'fetched', 'failed', 'cancelled'));
UPDATE grants SET external_status = 'cancelled', external_next_at = NULL WHERE external_status = 'pending' AND status <> 'granted';
