"""The form writers live with the demo (formbot/demo/formfiles.py), which shows a second
notice; the tests of any notice import them from here as before."""

from formbot.demo.formfiles import FOOTER, Table, docx_bytes, header_text, xlsx_bytes

__all__ = ["FOOTER", "Table", "docx_bytes", "header_text", "xlsx_bytes"]
