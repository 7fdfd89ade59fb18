-- Apps API dialect extras.

-- Roles, teams and locations a tenant's users can be given through the bulk-user API.
-- The vendor's seven built-in roles (Admin, Manager, Agent, Developer, Manager Admin,
-- Manager Team, Manager Data) exist for every tenant without a row; rows here add
-- custom roles, teams and locations.
CREATE TABLE apps_org_items (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind text NOT NULL,                 -- role | team | location
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX apps_org_items_name ON apps_org_items (tenant_id, kind, lower(name));

-- End users (consumers) the Apps API shows as `end_user.id`: one per tenant and number.
CREATE TABLE apps_end_users (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    number text NOT NULL,               -- E.164
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, number)
);
