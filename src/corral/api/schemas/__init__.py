"""Request models of the sessions API (sessions, client events); the catalog's (agents, environments, a session's
agent) are ``corral.catalog.params``, which the routes declare directly (see ``corral.catalog.params.base``)."""
