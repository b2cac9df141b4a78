"""Billing (hospital side): the price list, priced charges, invoices and their status rule,
payments (desk, Stripe), refunds and PDF receipts (``payments/``).

http://hl7.org/fhir/R4/chargeitemdefinition.html, http://hl7.org/fhir/R4/chargeitem.html,
http://hl7.org/fhir/R4/invoice.html, http://hl7.org/fhir/R4/account.html. The Invoice and
ChargeItem guarantees are the write rules in ``rules`` (registered through
``fhir_server.rules.loading.KNOWN_RULE_MODULES``); the operations are in ``routes``.
"""
