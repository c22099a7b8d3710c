"""Open Referral HSDS 3.0: the directory exported as a standard data package (`flask --app app csrn export-hsds`).
The official files it follows are in `spec/` (CC BY-SA 4.0, with their attribution)."""
