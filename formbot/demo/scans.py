"""Paper versions of the sample forms, made by code, for tests and `bench/ocr.py`.

A filled .docx (formbot.demo.samples) → PDF through LibreOffice (what WPS's "输出为PDF"
gives: a text layer) → rasterised and degraded the ways paper comes back: a 200 or
150 dpi scan fed slightly crooked, blurred, noisy and saved as JPEG q60, with the
unit's red seal over the table; a phone photo at an angle in uneven light, stored
sideways with its EXIF orientation; the same photo as a messenger sends it (1280 px).
Needs `soffice` and a CJK font (Debian fonts-wqy-zenhei) to make the PDF.
"""

from __future__ import annotations

import io
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np

from formbot.demo.samples import FormFill, activity_docx, volunteer_docx

FILLS: list[tuple[str, FormFill]] = [
    ("activity", FormFill("定海路街道总工会", [
        ["劳模先进事迹报告会", "报告会", "2018年6月—7月", "邀请全国劳模讲述成长经历。", "约200人"],
        ["“杨浦工匠”技能展示", "现场展示", "2018年9月", "展示工匠绝活", "1,200人"],
        ["劳模进社区", "志愿服务", "2018年下半年", "劳模走进社区服务居民", "二百人"],
    ], blank_rows=2)),
    ("volunteer", FormFill("殷行街道工会", [
        ["殷行街道职工志愿者服务队", "王志强，副主席", "30", "2016.3", "助老助残", "服务500人次"],
        ["“小巷工匠”维修服务队", "李秀英（工会主席）", "12人", "2018年5月", "义务维修", ""],
        ["法律服务队", "张三 主席", "约15人", "2017-05-20", "法律咨询", "解答咨询200余次"],
    ], contact="刘洋", phone="55210011", filled_on="2018年6月8日", blank_rows=3)),
    ("activity", FormFill("五角场街道总工会", [
        ["职工读书月", "读书分享", "2018年5月—6月", "组织职工阅读劳模传记并分享心得", "150人"],
        ["劳模工作室开放日", "参观交流", "2018年7月", "走进劳模创新工作室", "80人"],
        ["技能比武", "竞赛", "2018年10月—11月", "数控车工技能比武", "约60人"],
        ["劳模宣讲进企业", "宣讲", "2018年12月", "劳模宣讲团走进辖区企业", "300余人"],
    ], contact="陈敏", phone="65881234", filled_on="2018年6月12日", blank_rows=1)),
]


def docx_for(kind: str, fill: FormFill) -> bytes:
    return activity_docx(fill) if kind == "activity" else volunteer_docx(fill)


def to_pdf(documents: list[bytes], workdir: Path) -> list[bytes]:
    """.docx files → PDFs with one `soffice --convert-to pdf` run."""
    sources = []
    for index, data in enumerate(documents):
        path = workdir / f"form{index}.docx"
        path.write_bytes(data)
        sources.append(str(path))
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(["soffice", "--headless", "--norestore", "--nolockcheck",
                        f"-env:UserInstallation={Path(profile).as_uri()}",
                        "--convert-to", "pdf", "--outdir", str(workdir), *sources],
                       check=True, capture_output=True, timeout=180)
    return [(workdir / f"form{i}.pdf").read_bytes() for i in range(len(documents))]


def render(pdf: bytes, dpi: int) -> np.ndarray:
    """The first page as a BGR image."""
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[0].render(scale=dpi / 72).to_pil().convert("RGB")
    finally:
        document.close()
    return np.asarray(image)[:, :, ::-1].copy()


def _table_box(page: np.ndarray) -> tuple[int, int, int, int]:
    dark = (page.min(axis=2) < 128).astype(np.uint8)
    lines = cv2.morphologyEx(dark, cv2.MORPH_OPEN,
                             cv2.getStructuringElement(cv2.MORPH_RECT, (page.shape[1] // 4, 1)))
    ys, xs = np.nonzero(lines)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def add_seal(page: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A red round seal (ring, star, arcs of 'text') over the table's lower right cells,
    multiplied in as ink is."""
    _, _, x1, y1 = _table_box(page)
    radius = int(0.09 * page.shape[1])
    centre = (int(x1 - 1.6 * radius + rng.integers(-20, 20)), int(y1 - 0.8 * radius))
    ink = np.full(page.shape, 255, np.uint8)
    red = (60, 50, 220)
    thick = max(3, radius // 18)
    cv2.circle(ink, centre, radius, red, thick)
    star = [(centre[0] + int(radius * 0.35 * np.cos(a)), centre[1] + int(radius * 0.35 * np.sin(a)))
            for a in np.linspace(-np.pi / 2, 3.5 * np.pi, 6)[:5]]
    order = np.array([star[i] for i in (0, 2, 4, 1, 3)], np.int32)
    cv2.fillPoly(ink, [order], red)
    for angle in np.linspace(200, 340, 9):   # characters along the rim
        a = np.radians(angle)
        px = centre[0] + int(radius * 0.72 * np.cos(a))
        py = centre[1] + int(radius * 0.72 * np.sin(a))
        cv2.rectangle(ink, (px - thick * 2, py - thick * 2), (px + thick * 2, py + thick * 2),
                      red, -1)
    return (page.astype(np.float32) * ink.astype(np.float32) / 255).astype(np.uint8)


def _jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


def scan(pdf: bytes, dpi: int, seed: int = 1) -> bytes:
    """A crooked, blurred, noisy, stamped JPEG scan at `dpi`."""
    rng = np.random.default_rng(seed)
    page = add_seal(render(pdf, dpi), rng)
    h, w = page.shape[:2]
    angle = float(rng.uniform(1.0, 2.0) * rng.choice([-1, 1]))
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    page = cv2.warpAffine(page, matrix, (w, h), borderValue=(250, 250, 250))
    page = cv2.GaussianBlur(page, (0, 0), 0.8 * dpi / 200)
    noise = rng.normal(0, 8, page.shape)
    page = np.clip(page.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return _jpeg(page, 60)


def photo(pdf: bytes, seed: int = 2, long_side: int | None = None) -> bytes:
    """A phone photo of the stamped page: at an angle, in uneven light, on a desk; stored
    sideways with EXIF orientation 6 as phones do. `long_side`: scaled down as a
    messenger sends it (1280)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    page = add_seal(render(pdf, 220), rng)
    h, w = page.shape[:2]
    canvas_w, canvas_h = int(w * 1.15), int(h * 1.12)
    jitter = lambda s: float(rng.uniform(0.02, 0.06) * s)  # noqa: E731
    source = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    target = np.float32([[jitter(w) + 0.05 * w, jitter(h)],
                         [canvas_w - jitter(w) - 0.02 * w, jitter(h) + 0.02 * h],
                         [canvas_w - jitter(w), canvas_h - jitter(h)],
                         [jitter(w), canvas_h - jitter(h) - 0.01 * h]])
    matrix = cv2.getPerspectiveTransform(source, target)
    image = cv2.warpPerspective(page, matrix, (canvas_w, canvas_h),
                                borderValue=(90, 100, 110))
    # light falling from one side: 100 % to 75 %
    ramp = np.linspace(1.0, 0.75, canvas_w, dtype=np.float32)[None, :, None]
    image = np.clip(image.astype(np.float32) * ramp + rng.normal(0, 5, image.shape), 0, 255)
    image = cv2.GaussianBlur(image.astype(np.uint8), (0, 0), 0.9)
    if long_side:
        scale = long_side / max(image.shape[:2])
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    rgb = Image.fromarray(image[:, :, ::-1]).rotate(90, expand=True)   # the sensor's way up
    exif = Image.Exif()
    exif[0x0112] = 6        # "rotate 90° clockwise to view"
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=85 if not long_side else 75, exif=exif)
    return out.getvalue()


VARIANTS = {
    "scan200": lambda pdf: scan(pdf, 200),
    "scan150": lambda pdf: scan(pdf, 150),
    "photo": lambda pdf: photo(pdf),
    "messenger1280": lambda pdf: photo(pdf, long_side=1280),
}
