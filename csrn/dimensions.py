"""The person's matching dimensions (DESIGN §4.1, §5): kernel data read by intake, referrals, pathways and cases.

They are not identifying: statistics and gap counts are built from them, and they are kept when
identifying fields are purged (DESIGN §5).
"""

URGENCIES = {"emergency": "Emergency — needs someone now", "urgent": "Urgent — within 24 hours",
             "routine": "Routine"}
AGE_GROUPS = {"minor": "Minor (under 18)", "18_24": "18–24", "25_plus": "25 and over", "unknown": "Unknown"}
CITIZENSHIP = {"us": "U.S. citizen or permanent resident", "foreign": "Foreign national", "unknown": "Unknown"}
TRAFFICKING = {"sex": "Sex trafficking", "labour": "Labour trafficking", "both": "Both", "unknown": "Unknown"}
CONSIDERATIONS = {"pregnant": "Pregnant", "disability": "Disability", "lgbtq": "LGBTQ+",
                  "children": "Accompanying children"}
