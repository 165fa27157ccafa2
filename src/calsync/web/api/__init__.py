"""REST API under /api/v1 (Pipedrive-style envelope)."""
