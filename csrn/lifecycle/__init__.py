"""The data lifecycle: the retention purge (SECURITY P7), encryption key rotation (P8) and online backups (R9) —
run by `daily` and the `flask --app app csrn purge | rotate-key | backup` commands. No pages of its own."""
