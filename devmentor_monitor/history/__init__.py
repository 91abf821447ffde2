"""Metric history on disk: every series (check results, host metrics, scraped and custom
metrics) kept in tiers, raw for 24 h, 1-minute rollups for 7 d, 1-hour rollups for
`retention.metrics`. `model` declares the interface and the series names; `sqlite` is the
embedded backend."""
