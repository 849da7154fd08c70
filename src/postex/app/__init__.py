"""Use cases: authorize, validate, append events, return a result. No SQL, no HTTP."""
