-- Attempts of single interactions (an Apps SMS, an outbound or scheduled call) are stored
-- undecided (`decided = ''`) until the engine starts them (`engine::singles`): the few
-- waiting ones, found by due time.
CREATE INDEX attempts_undecided ON attempts (tenant_id, due_at) WHERE decided = '' AND state <> 'done';
