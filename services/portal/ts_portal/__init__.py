"""Portal service « Scolarité services »: the families' site, family sessions, and a read model of
each school's portal settings fed by events."""
