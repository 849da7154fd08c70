"""Write the console's three feedback sounds (accepted, refused, held) as small WAV files.

Run once; the files are committed in ``src/postex/web/static/``. Stdlib only: each sound is
a few sine tones with a short fade, 8 kHz mono 8-bit, so each file stays under 4 KB.
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

RATE = 8000
STATIC = Path(__file__).resolve().parent.parent / "src" / "postex" / "web" / "static"

# (frequency Hz, seconds) per note; silence is frequency 0.
SOUNDS = {
    "accepted": [(1320, 0.09)],  # one short high beep
    "refused": [(220, 0.16), (0, 0.05), (220, 0.16)],  # two low buzzes
    "held": [(660, 0.12), (0, 0.03), (520, 0.12), (0, 0.03), (660, 0.12)],  # three mid tones
}


def samples(notes: list[tuple[int, float]]) -> bytes:
    out = bytearray()
    for freq, seconds in notes:
        n = int(RATE * seconds)
        for i in range(n):
            fade = min(1.0, i / 80, (n - i) / 80)  # no clicks at the edges
            value = math.sin(2 * math.pi * freq * i / RATE) * fade if freq else 0.0
            out += struct.pack("B", int(128 + 100 * value))
    return bytes(out)


def main() -> None:
    for name, notes in SOUNDS.items():
        with wave.open(str(STATIC / f"{name}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(1)
            w.setframerate(RATE)
            w.writeframes(samples(notes))


if __name__ == "__main__":
    main()
