//! Pseudonymous ids, ML split assignment and guard, principals, roles and
//! API keys. Empty until those land; it has no tables and no migrations yet.
