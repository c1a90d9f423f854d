#!/usr/bin/env bash
# Forms that come back on paper (parsers/paper.py). The OCR itself needs nothing from
# Debian: pdfplumber, pypdfium2 (renders image-only PDF pages), OpenCV headless,
# onnxruntime and rapidocr (its PP-OCRv6 models inside the wheel) are pyproject
# dependencies. The tests and bench/ocr.py print sample forms to PDF with LibreOffice
# (.ci/install-libreoffice.sh), which needs a CJK font to draw the Chinese text.
set -euo pipefail
bash "$(dirname "$0")/apt-install.sh" fonts-wqy-zenhei
fc-list :lang=zh | grep -q . || {
    echo "install-ocr.sh: no CJK font after installing fonts-wqy-zenhei" >&2
    exit 1
}
