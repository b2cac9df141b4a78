-- Search speed-ups added after 002_search (http://hl7.org/fhir/R4/search.html#date).

-- Every date prefix implies an overlap window; one GiST probe serves ranges such as ge..&lt..
CREATE INDEX search_date_range ON search_date USING gist (resource_type, param, tstzrange(low, high, '[)'));

-- Codes and parameters are strongly correlated (category=vital-signs is frequent for one
-- parameter of one type only): multi-column statistics keep the planner's row estimates honest.
CREATE STATISTICS search_token_stats (mcv, dependencies) ON resource_type, param, code FROM search_token;
CREATE STATISTICS search_reference_stats (mcv, dependencies) ON resource_type, param, target_type
    FROM search_reference;
CREATE STATISTICS search_date_stats (mcv, dependencies) ON resource_type, param FROM search_date;
CREATE STATISTICS search_string_stats (mcv, dependencies) ON resource_type, param FROM search_string;
