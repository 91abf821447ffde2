"""Scraping the services' own Prometheus metrics (the platform's Metrics Collector)."""
