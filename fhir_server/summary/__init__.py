"""Patient/[id]/$summary: an International Patient Summary style document of one patient
(http://hl7.org/fhir/uv/ips/OperationDefinition/summary), read under the caller's access policy."""
