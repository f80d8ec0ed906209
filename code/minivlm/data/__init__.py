"""Data that needs no download: photographs bundled with installed packages."""

from .photos import PHOTOS, load_photo, to_grayscale

__all__ = ["PHOTOS", "load_photo", "to_grayscale"]
