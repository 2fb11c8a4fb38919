-- Whether a line's reservation is held, kept on the line so availability reads only held lines (their number
-- is bounded by what is held now), not every line a SKU ever had.
ALTER TABLE reservation_lines ADD COLUMN held BOOLEAN NOT NULL DEFAULT TRUE;
UPDATE reservation_lines SET held = FALSE
    WHERE reservation_id IN (SELECT reservation_id FROM reservations WHERE status <> 'held');
CREATE INDEX reservation_lines_held_by_sku ON reservation_lines (sku, held);

-- A hold split across locations is stored as one reservation per location, each naming the caller's id.
ALTER TABLE reservations ADD COLUMN parent_id TEXT;
CREATE INDEX reservations_by_parent ON reservations (parent_id);

-- What buffer rules match on: a location's time zone and region, and its latest weather signal.
ALTER TABLE known_locations ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';
ALTER TABLE known_locations ADD COLUMN region TEXT;

CREATE TABLE location_weather (
    location_id TEXT PRIMARY KEY NOT NULL,
    condition TEXT NOT NULL,
    observed_at TIMESTAMP NOT NULL,
    valid_until TIMESTAMP
);

-- Buffer and segment policies in force (spec is the rule's JSON), from HTTP (source = database) or the policy
-- file (source = file).
CREATE TABLE policies (
    id TEXT PRIMARY KEY NOT NULL,
    spec TEXT NOT NULL,
    version BIGINT NOT NULL,
    source TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Every version of every policy, append-only; a deletion is a version without a spec. Its row count is the
-- revision other replicas poll to hot-reload.
CREATE TABLE policy_versions (
    id TEXT NOT NULL,
    version BIGINT NOT NULL,
    spec TEXT,
    source TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (id, version)
);
