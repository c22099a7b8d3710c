"""The printable referral list as a PDF, with a vendored Unicode font (DejaVu Sans)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fpdf import FPDF

FONTS = Path(__file__).resolve().parent.parent / "fonts"


class ReferralListPDF(FPDF):
    """A4 pages with a title and a line under it in the header and page numbers in the footer (the referral list,
    and the committee review of the gap analysis)."""

    def __init__(self, title: str, printed: str, subtitle: str | None = None):
        super().__init__(format="A4")
        self.list_title, self.printed = title, printed
        self.subtitle = subtitle or f"Referral list printed {printed}. Public addresses only."
        self.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
        self.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        self.set_auto_page_break(auto=True, margin=15)

    def header(self):
        self.set_font("DejaVu", "B", 12)
        self.cell(0, 8, self.list_title, new_x="LMARGIN", new_y="NEXT")
        self.set_font("DejaVu", "", 8)
        self.cell(0, 5, self.subtitle, new_x="LMARGIN", new_y="NEXT")
        self.ln(2)

    def footer(self):
        self.set_y(-12)
        self.set_font("DejaVu", "", 8)
        self.cell(0, 8, f"Page {self.page_no()}/{{nb}}", align="C")


def referral_list_pdf(task_force: str, results, locations: dict, opening: dict, certified_ids: set,
                      now: datetime, zone) -> bytearray:
    """Render the services (and their agencies' public locations) as a PDF document."""
    pdf = ReferralListPDF(f"{task_force} — service directory", now.astimezone(zone).strftime("%d %B %Y %H:%M"))
    pdf.alias_nb_pages()
    pdf.add_page()
    width = pdf.epw
    if not results:
        pdf.set_font("DejaVu", "", 10)
        pdf.multi_cell(width, 6, "No services match this search.")
    for service in results:
        agency = service.agency
        pdf.set_font("DejaVu", "B", 10)
        label = f"{service.title} — {agency.name}"
        if agency.membership_status == "listed":
            label += " (community resource, not in the network)"
        pdf.multi_cell(width, 6, label, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", "", 9)
        lines = [opening.get(service.id, "")]
        if agency.id in certified_ids:
            lines.append("Certified network provider")
        if agency.phone:
            lines.append(f"Phone: {agency.phone}")
        if agency.poc_name or agency.poc_phone:
            lines.append(f"Point of contact: {agency.poc_name} {agency.poc_phone}".strip())
        if service.open_slots is not None:
            stale = " (not confirmed in 30 days)" if service.is_stale(now) else ""
            lines.append(f"Open slots: {service.open_slots}, waiting: {service.waitlist}{stale}")
        if service.how_to_refer:
            lines.append(f"How to refer: {service.how_to_refer}")
        for location in locations.get(agency.id, []):
            lines.append(f"{location.name}: {location.address_1}, {location.city} {location.postal_code}".strip())
        for line in lines:
            if line:
                pdf.multi_cell(width, 5, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    return pdf.output()
