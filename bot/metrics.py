"""Prometheus metrics of the web process (the `/metrics` route)."""
from prometheus_client import Counter

WEBHOOK_EVENTS = Counter("tongdai_webhook_events_total",
                         "Webhook requests and messages by channel and outcome",
                         ["channel", "outcome"])
