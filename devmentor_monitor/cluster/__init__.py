"""Several instances as one fleet (issue 20): rendezvous split of the checks, Redis
membership and leader lease, shared check results. No textual, no aiohttp at import."""
