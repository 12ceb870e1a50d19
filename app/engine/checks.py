"""The field checks requests run on themselves before they are queued.

Each failure raises `InvalidRequest` naming the field, so the commands can name
their option (`--guidance`) and the window its control, with the same problem text.
Non-finite numbers (NaN, infinity) are refused everywhere: they would poison a
job and cannot be written to a JSON sidecar."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from numbers import Integral, Real

import numpy as np

from app.errors import UserError


class InvalidRequest(UserError):
    """A request field that cannot work. `field` names it, so each caller can name its own control."""

    def __init__(self, field_name: str, problem: str):
        super().__init__(f"{field_name} {problem}")
        self.field = field_name
        self.problem = problem


def fail(name: str, problem: str):
    raise InvalidRequest(name, problem)


def finite(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        fail(name, f"must be a number (got {value!r})")
    value = float(value)
    if not math.isfinite(value):
        fail(name, f"must be a finite number (got {value})")
    return value


def number(req, name: str, low: float, high: float, low_open: bool = False) -> None:
    value = finite(name, getattr(req, name))
    if value > high or value < low or (low_open and value == low):
        bracket = "(" if low_open else "["
        fail(name, f"must be in {bracket}{low:g}, {high:g}] (got {value:g})")


def integer(req, name: str, low: int, high: int) -> None:
    value = getattr(req, name)
    if isinstance(value, bool) or not isinstance(value, Integral):
        fail(name, f"must be a whole number (got {value!r})")
    if not low <= int(value) <= high:
        fail(name, f"must be between {low} and {high} (got {value})")


def boolean(req, name: str) -> None:
    if not isinstance(getattr(req, name), (bool, np.bool_)):
        fail(name, f"must be true or false (got {getattr(req, name)!r})")


def text(req, name: str, allow_empty: bool = True) -> None:
    value = getattr(req, name)
    if not isinstance(value, str):
        fail(name, f"must be text (got {type(value).__name__})")
    if not allow_empty and not value.strip():
        fail(name, "must not be empty")
    if "\x00" in value:
        fail(name, "must not contain NUL characters")


def texts(req, name: str) -> None:
    value = getattr(req, name)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        fail(name, "must be a list of text")


def choice(req, name: str, choices: Sequence[str]) -> None:
    if getattr(req, name) not in choices:
        fail(name, f"must be one of {', '.join(choices)} (got {getattr(req, name)!r})")


def choice_from(req, name: str, lookup: Callable[[str], object]) -> None:
    """A choice checked by a lookup that raises a UserError listing the known names."""
    text(req, name, allow_empty=False)
    try:
        lookup(getattr(req, name))
    except UserError as exc:
        fail(name, f"is not known: {exc}")


def lora(req) -> None:
    if req.lora is not None:
        text(req, "lora", allow_empty=False)
    number(req, "lora_scale", -2.0, 2.0)


def canny(req) -> None:
    integer(req, "canny_low", 0, 1000)
    integer(req, "canny_high", 0, 1000)
    if req.canny_low > req.canny_high:
        fail("canny_low", f"must not be above canny_high ({req.canny_low} > {req.canny_high})")


def photo(pixels) -> None:
    if not isinstance(pixels, np.ndarray) or pixels.ndim != 3 or pixels.shape[2] != 3:
        shape = getattr(pixels, "shape", None)
        fail("photo", f"must be an H x W x 3 RGB array (got {shape if shape is not None else type(pixels).__name__})")
    if pixels.dtype != np.uint8:
        fail("photo", f"must be 8-bit (uint8) RGB (got {pixels.dtype})")
    if min(pixels.shape[:2]) < 8:
        fail("photo", f"is too small ({pixels.shape[1]}x{pixels.shape[0]}); the smallest side must be 8 px or more")


def mask(array, pixels: np.ndarray) -> None:
    h, w = pixels.shape[:2]
    if not isinstance(array, np.ndarray) or array.ndim != 2:
        fail("mask", f"must be an H x W array (got {getattr(array, 'shape', type(array).__name__)})")
    if array.shape != (h, w):
        fail("mask", f"is {array.shape[1]}x{array.shape[0]} but the photo is {w}x{h}")
    if array.dtype != bool:
        fail("mask", f"must be a bool array (got {array.dtype})")


def points(pts, size: tuple[int, int]) -> None:
    w, h = size
    for i, p in enumerate(pts):
        if not isinstance(p, (list, tuple)) or len(p) != 3:
            fail("points", f"#{i + 1} must be (x, y, positive) (got {p!r})")
        x, y = finite("points", p[0]), finite("points", p[1])
        if not (0 <= x <= w and 0 <= y <= h):
            fail("points", f"#{i + 1} ({x:g}, {y:g}) lies outside the {w}x{h} photo")


def box(b, size: tuple[int, int]) -> None:
    w, h = size
    if not isinstance(b, (list, tuple)) or len(b) != 4:
        fail("box", f"must be (x0, y0, x1, y1) (got {b!r})")
    x0, y0, x1, y1 = (finite("box", v) for v in b)
    if x1 <= x0 or y1 <= y0:
        fail("box", f"must have x0 < x1 and y0 < y1 (got {x0:g},{y0:g},{x1:g},{y1:g})")
    if x1 < 0 or y1 < 0 or x0 > w or y0 > h:
        fail("box", f"({x0:g},{y0:g},{x1:g},{y1:g}) lies outside the {w}x{h} photo")


def same_photo(name: str, array, pixels: np.ndarray) -> None:
    """An image that stands for the photo (a result) must have its size and layout."""
    if not isinstance(array, np.ndarray) or array.shape != pixels.shape or array.dtype != np.uint8:
        got = getattr(array, "shape", type(array).__name__)
        fail(name, f"must be an RGB image of the photo's size {pixels.shape[1]}x{pixels.shape[0]} (got {got})")
