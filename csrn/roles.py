"""Role names (DESIGN §2): kernel data that every module reads, so none needs `auth` just to name a role."""

STAFF = "staff"
CASE_MANAGER = "case_manager"
AGENCY_ADMIN = "agency_admin"
CHAIR = "chair"
ADMIN = "admin"
VOLUNTEER = "volunteer"
ROLES = (STAFF, CASE_MANAGER, AGENCY_ADMIN, CHAIR, ADMIN, VOLUNTEER)
# Who answers the referral offers made to their agency: its case managers and admins, or an approved
# pro bono volunteer for their one-person provider (DESIGN §2).
RECEIVER_ROLES = (CASE_MANAGER, AGENCY_ADMIN, VOLUNTEER)
ROLE_LABELS = {
    STAFF: "Staff",
    CASE_MANAGER: "Case manager",
    AGENCY_ADMIN: "Agency admin",
    CHAIR: "Committee chair",
    ADMIN: "Administrator",
    VOLUNTEER: "Volunteer",
}
