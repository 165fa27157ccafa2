"""calsync: CRM activities and external calendars kept in step."""

__version__ = "0.1.0"
