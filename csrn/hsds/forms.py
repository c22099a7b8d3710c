"""The upload form of the HSDS import page."""

from flask_wtf.file import FileField, FileRequired

from csrn.forms import BaseForm


class ImportForm(BaseForm):
    """One HSDS package: a .zip of CSV files with datapackage.json, or a .json file of organizations or services."""

    package = FileField("HSDS package (.zip or .json)", validators=[FileRequired("Choose a .zip or .json file.")])
