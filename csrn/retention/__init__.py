"""Retention: identifying fields purged once a person's referrals have all ended longer ago than the retention
period (SECURITY P7); run by `daily` and `flask --app app csrn purge`. No pages of its own."""
