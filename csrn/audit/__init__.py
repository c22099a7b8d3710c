"""The hash-chained audit log (SECURITY L1): `operations.record` appends, `verify_chain` checks. Its pages, which
read higher modules, are `csrn.dashboard.audit_log`."""
