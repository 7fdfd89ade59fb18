-- Import staging: the contacts of an uploaded file, parsed, land here with COPY in the
-- transaction that creates their job, and move to `contacts` batch by batch (each batch
-- deletes its rows in the transaction that inserts them and checkpoints the job).
--
-- UNLOGGED: no WAL for rows that only pass through. The table survives a restart of
-- switchboard (and a clean stop of PostgreSQL); a crash of PostgreSQL itself empties it,
-- and an import that then finds its rows gone fails saying so (nothing is doubled).
-- A tenant reset empties it (RESET_TABLES); snapshots leave it out (rows in passing).
CREATE UNLOGGED TABLE import_rows (
    job_id uuid NOT NULL,
    ord bigint NOT NULL,                 -- the element's index in the file
    tenant_id uuid NOT NULL,
    id uuid,                             -- the contact's id once inserted
    number text,                         -- E.164; NULL on an invalid row
    original_number text,
    email text,
    name text,
    external_id text,
    outbound_number text,
    priority integer NOT NULL DEFAULT 0,
    attrs jsonb,
    problem jsonb,                       -- why the row is invalid (the dialect's words); NULL when valid
    PRIMARY KEY (job_id, ord)
);
