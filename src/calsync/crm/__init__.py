"""The CRM core: domain rules, permissions and redaction, and the services every writer uses."""
