"""Pharmacy workflow (issue 15): prescriptions need a prescriber, dispenses stay within what was
prescribed and what is in stock, administrations follow an active prescription. The rules are
in ``rules.py`` (registered through ``fhir_server.rules``); the stock query is ``Medication/$stock``.
"""
