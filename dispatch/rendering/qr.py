"""QR codes of ``PREFIX + CODE`` for thousands of letters, each in microseconds.

Every letter's objection notice carries a QR code of the same address with the
letter's own code at the end. :mod:`segno` makes a correct QR code in about half a
millisecond (with the mask fixed; three with its mask search), ten times the whole
budget of a letter in the batch engine. But with the version, error level, mode and
mask fixed, a QR code is an affine function over GF(2) of the bits that encode its
text: Reed-Solomon is linear over GF(2^8), whose addition is XOR, and placing and
masking the codewords are fixed permutations and XORs. So segno is asked once per
prefix for the code of a base text and for a few dozen texts whose code parts differ
(about 50 ms); Gaussian elimination turns their differences into one module pattern
per varying text bit, and tables by byte of those bits make any code's modules a
handful of XORs. The result is checked against segno itself when the table is built,
and the tests compare hundreds of codes with it and read the printed code back.

A code is drawn as a 1-bit image mask (``BI ... ID ... EI``, about 200 bytes in the
content stream): the same symbol as a rectangle per run of dark modules took 2.3 KB
a letter, and compressing that cost more than the rest of the letter.
"""

from __future__ import annotations

import functools
import random

import segno

from dispatch.rendering.pdfwriter import num

#: Quiet zone around the symbol, in modules (ISO/IEC 18004 asks for four).
QUIET = 4
_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
#: What each character and pair of characters is worth in alphanumeric mode.
_VALUES = {a: i for i, a in enumerate(_ALPHANUMERIC)} | {
    a + b: 45 * i + j for i, a in enumerate(_ALPHANUMERIC) for j, b in enumerate(_ALPHANUMERIC)
}


class QrTable:
    """Makes the QR code of ``prefix + code`` for any code of ``length`` characters
    from ``alphabet``; every code gets the same version and so the same size.

    Modules are held as one integer, row by row, each row padded to whole bytes
    (``row_bytes``), the first module of a row in its highest bit: the integer's bytes
    are then the image mask's data as they stand.
    """

    def __init__(self, prefix: str, length: int, alphabet: str, *, error: str = "m") -> None:
        self.prefix, self.length, self.alphabet = prefix, length, frozenset(alphabet)
        base = prefix + alphabet[0] * length
        self._mode = "alphanumeric" if all(c in _ALPHANUMERIC for c in base) else "byte"
        probe = segno.make_qr(base, error=error, boost_error=False, mode=self._mode)
        self.options = {
            "error": error,
            "boost_error": False,
            "mode": self._mode,
            "version": probe.version,
            "mask": probe.mask,
        }
        #: Modules per side (without the quiet zone), and bytes per padded row.
        self.size = len(probe.matrix)
        self.row_bytes = (self.size + 7) // 8
        self._base_bits = self._bits(base)
        self._base = self._segno(base)
        self._tables = self._learn(alphabet)
        rng = random.Random(1)
        for _ in range(4):  # the promise of the module docstring, checked at build time
            code = "".join(rng.choice(alphabet) for _ in range(length))
            if self.modules(code) != self._segno(prefix + code):
                raise RuntimeError("QR codes are not affine in their text bits here")

    def _segno(self, text: str) -> int:
        """The modules of ``text`` as segno makes them, in this table's layout."""
        matrix = segno.make_qr(text, **self.options).matrix  # type: ignore[arg-type]
        bits = 0
        pad = 8 * self.row_bytes - self.size
        for row in matrix:
            for module in row:
                bits = (bits << 1) | (module & 1)
            bits <<= pad
        return bits

    def _bits(self, text: str) -> int:
        """The bits of the part of the encoded text that depends on the code."""
        if self._mode == "byte":
            return int.from_bytes(text[len(self.prefix) :].encode("utf-8"), "big")
        # Alphanumeric: pairs of characters are 11 bits (45 * a + b), a last odd one 6.
        start = len(self.prefix) - len(self.prefix) % 2
        bits = 0
        for i in range(start, len(text), 2):
            pair = text[i : i + 2]
            bits = (bits << (11 if len(pair) == 2 else 6)) | _VALUES[pair]
        return bits

    def _learn(self, alphabet: str) -> list[list[int]]:
        """Per byte of the text bits, the modules to XOR in for each of its 256 values."""
        basis: list[list[int]] = []  # [pivot bit, text bits, modules], reduced row echelon
        rng = random.Random(0)  # any codes will do; fixed so building is repeatable
        stalled = 0
        while stalled < 24:
            text = self.prefix + "".join(rng.choice(alphabet) for _ in range(self.length))
            bits, modules = self._bits(text) ^ self._base_bits, self._segno(text) ^ self._base
            for pivot, basis_bits, basis_modules in basis:
                if bits >> pivot & 1:
                    bits, modules = bits ^ basis_bits, modules ^ basis_modules
            if not bits:
                stalled += 1
                continue
            stalled = 0
            pivot = bits.bit_length() - 1
            for row in basis:  # keep every other row clear of the new pivot
                if row[1] >> pivot & 1:
                    row[1] ^= bits
                    row[2] ^= modules
            basis.append([pivot, bits, modules])
        # A difference of two codes' bits is a sum of basis rows, told apart by their
        # pivots alone: its modules are the XOR of the rows whose pivot bit it has.
        by_bit = {pivot: modules for pivot, _, modules in basis}
        width = max(by_bit, default=0) // 8 + 1
        tables = []
        for byte in range(width):
            table = [0] * 256
            for value in range(1, 256):
                low = value & -value
                table[value] = table[value ^ low] ^ by_bit.get(8 * byte + low.bit_length() - 1, 0)
            tables.append(table)
        return tables

    def modules(self, code: str) -> int:
        """The modules of ``prefix + code`` in this table's layout (1 dark)."""
        if len(code) != self.length or not self.alphabet.issuperset(code):
            raise ValueError("not a code of this table's length and alphabet")
        bits = self._bits(self.prefix + code) ^ self._base_bits
        modules = self._base
        for table in self._tables:
            if bits & 255:
                modules ^= table[bits & 255]
            bits >>= 8
        return modules

    def matrix(self, code: str) -> list[list[bool]]:
        """The modules as rows of booleans (dark True), for tests and people."""
        data = self.modules(code).to_bytes(self.size * self.row_bytes, "big")
        rows = []
        for row in range(self.size):
            line = int.from_bytes(data[row * self.row_bytes : (row + 1) * self.row_bytes], "big")
            width = 8 * self.row_bytes
            rows.append([bool(line >> (width - 1 - col) & 1) for col in range(self.size)])
        return rows

    def draw(self, code: str, x: float, y: float, side: float) -> str:
        """PDF operators that paint the code as an image mask in the square of ``side``
        points whose lower-left corner is (``x``, ``y``), quiet zone included."""
        data = self.modules(code).to_bytes(self.size * self.row_bytes, "big").hex()
        return f"{self._head(x, y, side)}{data}>\nEI Q"

    @functools.lru_cache(maxsize=8)  # noqa: B019 - a few boxes per table, kept with it
    def _head(self, x: float, y: float, side: float) -> str:
        size = self.size
        unit = side / (size + 2 * QUIET)
        scale = num(unit * size)
        # An image is drawn into the unit square, its first row at the top.
        return (
            f"q 0 g {scale} 0 0 {scale} {num(x + QUIET * unit)} {num(y + QUIET * unit)} cm\n"
            f"BI /W {size} /H {size} /IM true /BPC 1 /D [1 0] /F /AHx ID\n"
        )


@functools.lru_cache(maxsize=8)
def qr_table(prefix: str, length: int, alphabet: str) -> QrTable:
    """The table for one prefix (built once per process, about 50 ms)."""
    return QrTable(prefix, length, alphabet)
