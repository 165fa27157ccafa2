"""FastAPI app: REST API, HTML pages, the embedded CalDAV server, webhooks."""
