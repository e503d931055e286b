"""What operators see: Prometheus metrics and the audit log of writes."""
