-- The exact JSON text of each version, as served (http://hl7.org/fhir/R4/json.html): resourceType
-- first, elements in StructureDefinition order, decimals as written (-1.000000000000000000E+245
-- stays so). JSONB keeps neither key order nor a decimal's exponent form, so "content" stays for
-- the SQL that looks inside resources, and reads serve "body". Rows written before this migration
-- have body NULL and are served from content::text until they are next written.
ALTER TABLE resource ADD COLUMN body text;
ALTER TABLE resource_history ADD COLUMN body text;
