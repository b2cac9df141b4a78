-- Search index tables, one per search-parameter type (http://hl7.org/fhir/R4/search.html#ptypes).
-- Rows are written by fhir_server.search.indexer in the resource's write transaction and
-- removed when the resource is deleted, so they only ever describe current, live versions.
-- `param` is the SearchParameter code (for composite components: code$n, with `grp` tying
-- the components of one element together). Text columns use the C collation so that
-- "starts with" is a btree range scan.

CREATE TABLE search_string (
    resource_type text NOT NULL, id text NOT NULL, param text NOT NULL, grp integer,
    value text COLLATE "C" NOT NULL,   -- normalized: accents stripped, casefolded
    exact text NOT NULL
);
CREATE INDEX search_string_res ON search_string (resource_type, id);
CREATE INDEX search_string_value ON search_string (resource_type, param, value);
CREATE INDEX search_string_trgm ON search_string USING gin (value gin_trgm_ops);

CREATE TABLE search_token (
    resource_type text NOT NULL, id text NOT NULL, param text NOT NULL, grp integer,
    system text, code text COLLATE "C",
    text text COLLATE "C",             -- normalized display/text, on text-only rows
    type_system text, type_code text   -- Identifier.type, for :of-type
);
CREATE INDEX search_token_res ON search_token (resource_type, id);
CREATE INDEX search_token_code ON search_token (resource_type, param, code, system);
CREATE INDEX search_token_system ON search_token (resource_type, param, system) WHERE system IS NOT NULL;
CREATE INDEX search_token_text ON search_token (resource_type, param, text) WHERE text IS NOT NULL;

CREATE TABLE search_reference (
    resource_type text NOT NULL, id text NOT NULL, param text NOT NULL, grp integer,
    target_type text, target_id text,  -- local references Type/id
    url text COLLATE "C", version text,  -- absolute URLs, URNs, canonicals
    ident_system text, ident_value text  -- Reference.identifier
);
CREATE INDEX search_reference_res ON search_reference (resource_type, id, param);
CREATE INDEX search_reference_target ON search_reference (target_id, target_type, resource_type, param);
CREATE INDEX search_reference_type_param ON search_reference (resource_type, param, target_type, target_id);
CREATE INDEX search_reference_url ON search_reference (resource_type, param, url) WHERE url IS NOT NULL;
CREATE INDEX search_reference_ident ON search_reference (resource_type, param, ident_value)
    WHERE ident_value IS NOT NULL;

CREATE TABLE search_date (
    resource_type text NOT NULL, id text NOT NULL, param text NOT NULL, grp integer,
    low timestamptz NOT NULL, high timestamptz NOT NULL  -- [low, high), +-infinity when open
);
CREATE INDEX search_date_res ON search_date (resource_type, id);
CREATE INDEX search_date_low ON search_date (resource_type, param, low, high);
CREATE INDEX search_date_high ON search_date (resource_type, param, high);

CREATE TABLE search_number (
    resource_type text NOT NULL, id text NOT NULL, param text NOT NULL, grp integer,
    low numeric NOT NULL, high numeric NOT NULL  -- [low, high], +-Infinity when open
);
CREATE INDEX search_number_res ON search_number (resource_type, id);
CREATE INDEX search_number_low ON search_number (resource_type, param, low);

CREATE TABLE search_quantity (
    resource_type text NOT NULL, id text NOT NULL, param text NOT NULL, grp integer,
    system text, code text, unit text,
    low numeric NOT NULL, high numeric NOT NULL,
    c_code text, c_low numeric, c_high numeric  -- UCUM canonical units, when understood
);
CREATE INDEX search_quantity_res ON search_quantity (resource_type, id);
CREATE INDEX search_quantity_code ON search_quantity (resource_type, param, code, low);
CREATE INDEX search_quantity_canon ON search_quantity (resource_type, param, c_code, c_low) WHERE c_code IS NOT NULL;

CREATE TABLE search_uri (
    resource_type text NOT NULL, id text NOT NULL, param text NOT NULL, grp integer,
    uri text COLLATE "C" NOT NULL
);
CREATE INDEX search_uri_res ON search_uri (resource_type, id);
CREATE INDEX search_uri_value ON search_uri (resource_type, param, uri);

-- _text (narrative) and _content (all text of the resource): search.html#text, #content.
CREATE TABLE search_text (
    resource_type text NOT NULL, id text NOT NULL,
    narrative tsvector, content tsvector,
    PRIMARY KEY (resource_type, id)
);
CREATE INDEX search_text_narrative ON search_text USING gin (narrative);
CREATE INDEX search_text_content ON search_text USING gin (content);

-- Keyset paging and _sort on current resources (search.html#sort): live rows per type by id.
CREATE INDEX resource_live_id ON resource (resource_type, id) WHERE NOT deleted;
