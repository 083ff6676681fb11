"""The social department's service (Socialforvaltningen): social action plans, lead department
and handover. For now it runs the common runtime and its health checks; its capabilities
follow in their own issue."""
