"""EXIF clean-up and the RoomStager request stored inside written files.

Where the request lives, per format (all written and read back by Pillow):
  PNG  : iTXt chunk "roomstager"
  JPEG : COM segment starting with b"roomstager:"
  WebP, TIFF : XMP packet, attribute roomstager:request
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import quoteattr

from PIL import ExifTags, Image

KEY = "roomstager"
COM_PREFIX = b"roomstager:"
_ORIENTATION = ExifTags.Base.Orientation
_EXIF_IFD, _GPS_IFD = ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo
_INTEROP = ExifTags.IFD.Interop
_PIXEL_X, _PIXEL_Y = ExifTags.Base.ExifImageWidth, ExifTags.Base.ExifImageHeight

# Descriptive IFD0 tags worth carrying. Layout tags (strips, bits, compression...) are
# left out: a TIFF's getexif() returns its image tags, which must not reach a JPEG.
_KEEP_IFD0 = {
    ExifTags.Base.ImageDescription,
    ExifTags.Base.Make,
    ExifTags.Base.Model,
    ExifTags.Base.XResolution,
    ExifTags.Base.YResolution,
    ExifTags.Base.ResolutionUnit,
    ExifTags.Base.Software,
    ExifTags.Base.DateTime,
    ExifTags.Base.Artist,
    ExifTags.Base.WhitePoint,
    ExifTags.Base.PrimaryChromaticities,
    ExifTags.Base.Copyright,
}


def clean_exif(img: Image.Image) -> bytes | None:
    """The image's EXIF as bytes with Orientation = 1, or None when it has none.

    The thumbnail (IFD1) is dropped on purpose: it would show the unedited room."""
    try:
        src = img.getexif()
        if not src:
            return None
        out = Image.Exif()
        for tag in _KEEP_IFD0:
            if tag in src:
                out[tag] = src[tag]
        for ifd in (_EXIF_IFD, _GPS_IFD):
            sub = dict(src.get_ifd(ifd))
            sub.pop(_INTEROP, None)  # a raw offset, meaningless once relocated
            if sub:
                out[ifd] = sub
        out[_ORIENTATION] = 1
        return out.tobytes()
    except Exception:  # broken EXIF must never stop a photo from opening
        return None


def exif_for_output(exif: bytes | None, size: tuple[int, int]) -> Image.Exif | None:
    """Parse carried EXIF bytes, set Orientation 1 and the pixel dimensions to `size`."""
    if not exif:
        return None
    try:
        out = Image.Exif()
        out.load(exif)
        out[_ORIENTATION] = 1
        sub = out.get_ifd(_EXIF_IFD)
        if _PIXEL_X in sub or _PIXEL_Y in sub:
            sub[_PIXEL_X], sub[_PIXEL_Y] = size
        return out
    except Exception:
        return None


def to_json(metadata: dict[str, Any]) -> str:
    """The record as JSON; ValueError for NaN / infinity (most JSON readers refuse them).
    default=str: requests may hold Paths or enums; the record must still be written."""
    return json.dumps(metadata, indent=2, sort_keys=True, ensure_ascii=False, default=str, allow_nan=False)


JPEG_RECORD_BYTES = 60_000  # a JPEG comment segment holds 64 kB, prefix included


def _shorten(value: Any, cap: int, where: str, cut: list[str]) -> Any:
    if isinstance(value, str) and len(value) > cap:
        cut.append(where)
        return value[:cap] + "…"
    if isinstance(value, dict):
        return {k: _shorten(v, cap, f"{where}.{k}" if where else str(k), cut) for k, v in value.items()}
    if isinstance(value, list):
        return [_shorten(v, cap, f"{where}[{i}]", cut) for i, v in enumerate(value)]
    return value


def for_file(metadata: dict[str, Any], full: str, fmt: str, sidecar: str | None) -> str:
    """The record to embed in a file of format `fmt`: the full one where it fits (always, except
    in a JPEG's 64 kB comment); else long texts are cut, with a note naming what was cut and
    where the full record is (the sidecar). Decided before anything is written."""
    if fmt != "JPEG" or len(full.encode("utf-8")) <= JPEG_RECORD_BYTES:
        return full
    note = {"full_record": sidecar, "reason": "a JPEG holds 64 kB of metadata"}
    for cap in (4000, 1000, 200, 40):
        cut: list[str] = []
        short = _shorten(metadata, cap, "", cut)
        text = to_json({**short, "truncated": {**note, "fields": cut}})
        if len(text.encode("utf-8")) <= JPEG_RECORD_BYTES:
            return text
    return to_json({"app": metadata.get("app"), "seed": metadata.get("seed"), "truncated": note})


def xmp_packet(text: str) -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:roomstager="https://roomstager.app/ns/1.0/" '
        f"roomstager:request={quoteattr(text)}/>"
        "</rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def _from_xmp(xmp: bytes | str) -> str | None:
    if isinstance(xmp, bytes):
        xmp = xmp.decode("utf-8", "replace")
    try:
        root = ElementTree.fromstring(re.sub(r"<\?xpacket[^>]*\?>", "", xmp).strip("\x00 \ufeff"))
    except ElementTree.ParseError:
        return None
    attr = "{https://roomstager.app/ns/1.0/}request"
    for el in root.iter():
        if attr in el.attrib:
            return el.attrib[attr]
    return None


def embedded_text(img: Image.Image) -> str | None:
    """The request JSON stored in an opened image by write_photo, if any."""
    info = img.info
    if isinstance(info.get(KEY), str):
        return info[KEY]
    comment = info.get("comment")
    if isinstance(comment, bytes) and comment.startswith(COM_PREFIX):
        return comment[len(COM_PREFIX) :].decode("utf-8")
    xmp = info.get("xmp")
    if xmp:
        return _from_xmp(xmp)
    return None
