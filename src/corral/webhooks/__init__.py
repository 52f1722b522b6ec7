"""Webhooks (api.md §18): endpoints, the durable outbox of deliveries, Standard Webhooks signatures, the deliverer."""
