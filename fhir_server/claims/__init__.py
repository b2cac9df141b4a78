"""Claims, insurer side: Claim/$submit with adjudication, $inquire, eligibility, ExplanationOfBenefit.

http://hl7.org/fhir/R4/claim.html, claimresponse.html, coverage.html, explanationofbenefit.html;
submission after Da Vinci PAS, EOB after CARIN Blue Button. The guarantees are the write rules in
``rules`` (registered through ``fhir_server.rules.loading.KNOWN_RULE_MODULES``).
"""
