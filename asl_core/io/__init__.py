"""Plain input and output: decoding photos safely, atomic file writes, file hashes, progress.

`images` turns bytes from anyone into an RGB array or a specific `ImageError`; `files` writes
atomically, hashes files and tells whether a process is alive; `progress` prints one terminal
line with a rate and a time estimate.

May import: the standard library, numpy, Pillow (with pi-heif for HEIC), OpenCV, and
`asl_core.labels` / `asl_core.settings`. Nothing else from `asl_core`, so every other
subpackage can use it.
"""
