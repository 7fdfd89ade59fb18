-- Campaign Manager announcements (say = text to speech, play = an uploaded WAV kept in
-- the shared blobs table). Campaigns refer to them by SID in campaigns.attrs.
CREATE TABLE announcements (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name text NOT NULL,
    description text,
    kind text NOT NULL,                         -- say | play
    body text,
    language text,
    voice text,
    blob_id uuid REFERENCES blobs(id) ON DELETE SET NULL,
    file_name text,                             -- "<sid>_<millis>.wav", served at fileUri
    account_sid text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX announcements_tenant ON announcements (tenant_id, seq);
