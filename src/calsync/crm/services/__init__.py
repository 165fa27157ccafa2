"""The one writer path: API, pages and the sync engine change CRM data only through these."""
