"""Camera intrinsics: from the EXIF focal length (35 mm equivalent) when the photo has one,
else from a field of view (a depth model's estimate, or a stated default)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import ExifTags, Image

FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)  # the 35 mm equivalent is defined on the diagonal (CIPA DC-008)
DEFAULT_HFOV_DEG = 60.0  # when neither EXIF nor the model says: a normal lens, stated as a guess


@dataclass(frozen=True)
class Intrinsics:
    """A pinhole camera for a photo of width x height pixels (pixel centres at integer coordinates)."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    source: str  # "exif", "model", "default"

    @property
    def hfov_deg(self) -> float:
        return math.degrees(2 * math.atan(self.width / (2 * self.fx)))

    def to_dict(self) -> dict:
        return {"focal_px": round(self.fx, 2), "cx": round(self.cx, 2), "cy": round(self.cy, 2),
                "hfov_deg": round(self.hfov_deg, 2), "source": self.source}


def focal_px_from_35mm(focal_35mm: float, size: tuple[int, int]) -> float:
    """Focal length in pixels of a (w, h) photo whose 35 mm equivalent focal length is given."""
    w, h = size
    return float(focal_35mm) * math.hypot(w, h) / FULL_FRAME_DIAGONAL_MM


def focal_px_from_hfov(hfov_deg: float, width: int) -> float:
    return 0.5 * width / math.tan(math.radians(hfov_deg) / 2)


def make_intrinsics(size: tuple[int, int], focal_35mm: float | None = None, hfov_deg: float | None = None
                    ) -> Intrinsics:
    """EXIF first (35 mm equivalent), then the model's field of view, then the default."""
    w, h = size
    if focal_35mm:
        f, source = focal_px_from_35mm(focal_35mm, size), "exif"
    elif hfov_deg and 1.0 < hfov_deg < 179.0:
        f, source = focal_px_from_hfov(hfov_deg, w), "model"
    else:
        f, source = focal_px_from_hfov(DEFAULT_HFOV_DEG, w), "default"
    return Intrinsics(f, f, (w - 1) / 2.0, (h - 1) / 2.0, int(w), int(h), source)


def focal_35mm_from_exif(exif: bytes | None) -> float | None:
    """The 35 mm equivalent focal length a photo's EXIF gives, or None.

    FocalLengthIn35mmFilm when present; else FocalLength scaled by the sensor's diagonal,
    known from FocalPlaneX/YResolution and the pixel dimensions the camera recorded."""
    if not exif:
        return None
    try:
        data = Image.Exif()
        data.load(exif)
        ifd = data.get_ifd(ExifTags.IFD.Exif)
    except Exception:  # noqa: BLE001 - damaged EXIF is no focal length, never an error
        return None
    f35 = _number(ifd.get(ExifTags.Base.FocalLengthIn35mmFilm))
    if f35 and f35 > 0:
        return f35
    focal = _number(ifd.get(ExifTags.Base.FocalLength))
    xres = _number(ifd.get(ExifTags.Base.FocalPlaneXResolution))
    yres = _number(ifd.get(ExifTags.Base.FocalPlaneYResolution)) or xres
    unit = {2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}.get(int(_number(ifd.get(ExifTags.Base.FocalPlaneResolutionUnit)) or 2))
    pw = _number(ifd.get(ExifTags.Base.ExifImageWidth))
    ph = _number(ifd.get(ExifTags.Base.ExifImageHeight))
    if not (focal and xres and yres and pw and ph and unit):
        return None
    diagonal_mm = math.hypot(pw / xres * unit, ph / yres * unit)
    return focal * FULL_FRAME_DIAGONAL_MM / diagonal_mm if diagonal_mm > 0 else None


def _number(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return out if math.isfinite(out) else None
