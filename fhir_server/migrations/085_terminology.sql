-- Large code systems loaded with `fhir-server terminology load FILE` (LOINC, SNOMED CT, ICD-10
-- for sites that hold the licence). One version per system: a new load of a url replaces it.
CREATE TABLE IF NOT EXISTS terminology_system (
    url text PRIMARY KEY,
    version text,
    name text,
    header jsonb NOT NULL,            -- the CodeSystem without its concepts (title, property, ...)
    concept_count integer NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS terminology_concept (
    system text NOT NULL REFERENCES terminology_system (url) ON DELETE CASCADE,
    code text NOT NULL,
    display text,
    parents text[] NOT NULL DEFAULT '{}',
    inactive boolean NOT NULL DEFAULT false,
    properties jsonb NOT NULL DEFAULT '[]',
    designations jsonb NOT NULL DEFAULT '[]',
    PRIMARY KEY (system, code)
);

-- Hierarchy (children of a code: parents @> ARRAY[code]) and the $expand text filter.
CREATE INDEX IF NOT EXISTS terminology_concept_parents ON terminology_concept USING gin (parents);
CREATE INDEX IF NOT EXISTS terminology_concept_display_trgm ON terminology_concept
    USING gin (lower(display) gin_trgm_ops);
