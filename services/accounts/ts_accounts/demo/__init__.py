"""Demo and test data of the accounts service (synthetic SIECLE exports)."""
