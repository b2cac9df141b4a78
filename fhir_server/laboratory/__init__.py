"""The laboratory workflow on R4 resources (issue 15): ServiceRequest -> Task -> Specimen ->
Observations -> DiagnosticReport, with the state rules the server enforces on every write path
(``rules.py``) and the demo lab order (``demo.py``)."""
