"""Custom metrics: business and application values pushed with POST /api/metrics."""
