-- Contact adds: duplicates decided by a unique index, not by a campaign-wide lock and a SELECT.
--
-- `unique_number` is the contact's number on contacts whose campaign refuses a second
-- contact with one number (the outbound dialer's adds, imports and edits set it); NULL
-- elsewhere (other dialects may hold one number twice). The partial unique index lets
-- `INSERT … ON CONFLICT DO NOTHING` decide duplicates, so concurrent adds to one campaign
-- need no exclusive lock.
ALTER TABLE contacts ADD COLUMN unique_number text;

-- Existing dialer contacts: the first contact of each number keeps it.
UPDATE contacts c SET unique_number = c.number
  FROM campaigns k
 WHERE k.id = c.campaign_id AND k.kind = 'outbound_dialer' AND c.number IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM contacts d
                    WHERE d.tenant_id = c.tenant_id AND d.campaign_id = c.campaign_id
                      AND d.number = c.number AND d.seq < c.seq);

CREATE UNIQUE INDEX contacts_unique_number ON contacts (tenant_id, campaign_id, unique_number)
    WHERE unique_number IS NOT NULL;

-- The scheduler's next batch of a running campaign (pending, by priority then age): an
-- index walk instead of sorting every pending contact of the campaign on each tick.
CREATE INDEX contacts_pending_order ON contacts (tenant_id, campaign_id, priority DESC, seq)
    WHERE status = 'pending';
