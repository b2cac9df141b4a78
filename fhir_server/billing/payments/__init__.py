"""Payments of Invoices: the desk payment ($pay by billing staff) and how a confirmed payment is
recorded (PaymentReconciliation + PaymentNotice, the Invoice balanced when its share is paid).
Online payments through a provider (Stripe) are not built yet."""
