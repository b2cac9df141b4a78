"""FHIR Subscriptions on a transactional outbox (docs/architecture.md, README "Subscriptions and notifications").

model (a Subscription resource -> what to match and where to send), endpoint (the SSRF checks), topics
(the shipped SubscriptionTopic canonicals), rules (the Subscription write rule: validation and the
delivery state), matcher (history changes -> numbered events per subscription), notification (the
backport notification Bundle), delivery (one HTTP attempt), dispatcher (the workers of each process),
routes ($status, $events, the topic list).
"""
