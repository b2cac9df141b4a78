"""Notifications to people: email through SMTP (FHIR_SMTP_URL), templates in English and Spanish, and
every message recorded as a Communication. Used by the Subscription ``email`` channel."""
