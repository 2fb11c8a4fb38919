CREATE TABLE locations (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    timezone TEXT NOT NULL,
    -- Comma-separated: ship,pickup,curbside
    capabilities TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE skus (
    sku TEXT PRIMARY KEY NOT NULL,
    title TEXT NOT NULL,
    -- JSON array of tags
    tags TEXT NOT NULL,
    reorder_point BIGINT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
