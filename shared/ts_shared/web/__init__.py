"""Flask plumbing shared by the services."""
