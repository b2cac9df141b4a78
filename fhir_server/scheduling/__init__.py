"""Scheduling: availability -> Slots, the no-double-booking guarantee, $find/$hold/$book/$cancel.

http://hl7.org/fhir/R4/appointment.html, http://hl7.org/fhir/R4/slot.html,
http://hl7.org/fhir/R4/schedule.html; operations after IHE ITI Scheduling (R4). The guarantee is
the write rule in ``rules`` (registered through ``fhir_server.rules.loading.KNOWN_RULE_MODULES``).
"""
