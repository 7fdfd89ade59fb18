-- The request journal is written at up to journal_limit rows per tenant every 10 s under a
-- flood of requests and trimmed as fast: its WAL was most of what it cost Postgres. It is
-- a debugging record, not business data, so it is UNLOGGED: it survives restarts of
-- switchboard and clean restarts of Postgres, and is emptied only by a Postgres crash
-- (documented in the README's journal section).
ALTER TABLE request_journal SET UNLOGGED;
