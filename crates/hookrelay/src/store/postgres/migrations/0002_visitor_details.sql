-- Version 2: visitor details pushed through the Visitors API. One row per set; `fields` is a
-- JSON array of {name, value, url?}.

CREATE TABLE visitor_details (
    license_id TEXT NOT NULL,
    visitor_id TEXT NOT NULL,
    set_id     TEXT NOT NULL,
    icon       TEXT,
    fields     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (license_id, visitor_id, set_id)
);
