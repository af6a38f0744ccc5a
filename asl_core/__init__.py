"""asl_core: recognise American Sign Language hand signs from photos and live video."""

__version__ = "0.1.0"
