"""Stats service: account counters and service-access counts fed by events; statistics pages."""
