"""FHIR primitives on the ground floor, below both the resource layer and search.

Pure helpers that any layer may use and that import nothing but ``errors``, ``jsonio``,
``render`` and ``definitions``: date/time ranges and instants (``datetimes``), the FHIRPath
engine set-up (``fhirpath_env``), ``_summary``/``_elements`` (``summary``) and reading a JSON
request body (``body``). See docs/architecture.md for the module map.
"""
