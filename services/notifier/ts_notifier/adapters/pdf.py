"""HTML → PDF with xhtml2pdf, and the QR code image of a URL.

The letters use a PDF standard font (Helvetica): nothing to embed, nothing to install, the fastest
to lay out. Those fonts only draw the Windows-1252 characters, so any other character is replaced
before rendering by its closest plain letter (« Łukasz Şahin » → « Lukasz Sahin ») rather than
printed as a black box."""
from __future__ import annotations

import base64
import codecs
import gc
import io
import unicodedata

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from reportlab import rl_config
from reportlab.platypus.flowables import KeepInFrame, _Container
from xhtml2pdf import parser as pisa_parser
from xhtml2pdf import pisa

PRINTABLE = "cp1252"
_NOT_DECOMPOSABLE = {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i", "Ø": "O", "ø": "o",
                     "‐": "-", "‑": "-", "−": "-", "⁄": "/", "\u202f": " ", "\u2009": " ", "☐": "[ ]"}


# Binary page streams rather than ASCII85 ones: about 20 % smaller files and 5 % faster rendering.
rl_config.useA85 = 0


class _KeepInFrameDrawnAsMeasured(KeepInFrame):
    """ReportLab's KeepInFrame (what `-pdf-keep-in-frame-mode` makes of a block: every block of a
    letter), drawn at the width its content was measured at.

    KeepInFrame lays its content out to measure it, then lays it out again as it draws it, at its
    own width less a rounding allowance (1e-6 pt): a width the paragraphs were never broken at, so
    xhtml2pdf's memory of each paragraph's line breaks (kept per width) missed and every paragraph
    of a letter was broken into lines twice. Drawn at the measured width — the same on paper, to
    the millionth of a point — the second layout reuses the first: about 10 % of a letter's cost.
    The rest is ReportLab's drawOn as is (reportlab 4.x/5.x)."""

    def wrap(self, availWidth, availHeight):
        # What KeepInFrame.wrap lays the content out at (times the scale when it shrinks it).
        self._measured_width = float(min(self.maxWidth or availWidth, availWidth))
        return super().wrap(availWidth, availHeight)

    def drawOn(self, canv, x, y, _sW=0):
        scale = getattr(self, "_scale", 1.0)
        truncate = self.mode == "truncate"
        ss = scale != 1.0 or truncate
        if ss:
            canv.saveState()
            if truncate:
                p = canv.beginPath()
                p.rect(x, y, self.width, self.height)
                canv.clipPath(p, stroke=0)
            else:
                canv.translate(x, y)
                x = y = 0
                canv.scale(1.0 / scale, 1.0 / scale)
        _Container.drawOn(self, canv, x, y, _sW=_sW, scale=scale, aW=getattr(self, "_measured_width", None))
        if ss:
            canv.restoreState()


# xhtml2pdf's parser makes the keep-in-frame blocks with the KeepInFrame it imported: give it ours.
if pisa_parser.KeepInFrame is KeepInFrame:
    pisa_parser.KeepInFrame = _KeepInFrameDrawnAsMeasured


class PdfRenderingFailed(RuntimeError):
    pass


def _closest_printable(error: UnicodeEncodeError) -> tuple[str, int]:
    replacement = []
    for character in error.object[error.start:error.end]:
        if character in _NOT_DECOMPOSABLE:
            replacement.append(_NOT_DECOMPOSABLE[character])
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", character) if not unicodedata.combining(c))
        replacement.append(base if base and all(_encodable(c) for c in base) else "?")
    return "".join(replacement), error.end


def _encodable(character: str) -> bool:
    try:
        character.encode(PRINTABLE)
    except UnicodeEncodeError:
        return False
    return True


codecs.register_error("ts_closest_printable", _closest_printable)


def printable(text: str) -> str:
    """`text` with every character the standard PDF fonts cannot draw replaced (see above)."""
    try:
        text.encode(PRINTABLE)
        return text
    except UnicodeEncodeError:
        return text.encode(PRINTABLE, errors="ts_closest_printable").decode(PRINTABLE)


def html_to_pdf(html: str) -> bytes:
    """One PDF from one HTML document (xhtml2pdf). Never fetches anything: the HTML holds its
    stylesheet and its only image (a data: URI).

    Python's cyclic garbage collector is paused while xhtml2pdf works: a render allocates millions
    of small objects (DOM nodes, fragments, styles), each allocation burst started a collection
    that walked them all again, and that was about 10 % of a letter's cost. The render leaves
    almost no cycles behind (xhtml2pdf unlinks its DOM itself): the peak memory of a batch is the
    same, and the collector takes up its work as soon as the render is over."""
    output = io.BytesIO()
    collecting = gc.isenabled()
    gc.disable()
    try:
        status = pisa.CreatePDF(printable(html), dest=output, encoding="utf-8", link_callback=_no_fetch)
    except RecursionError:  # xhtml2pdf recurses once per nested element
        raise PdfRenderingFailed("the HTML is nested too deeply to be laid out") from None
    finally:
        if collecting:
            gc.enable()
    if status.err:
        raise PdfRenderingFailed(f"xhtml2pdf reported {status.err} error(s)")
    return output.getvalue()


def _no_fetch(uri: str, rel: str | None = None) -> str:
    if uri.startswith("data:"):
        return uri
    raise PdfRenderingFailed(f"the letter refers to an outside resource: {uri[:80]}")


def qr_png_data_uri(url: str) -> str:
    """The QR code of `url` as a PNG data URI (error correction M, 2-module quiet zone)."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=6, border=2)
    code.add_data(url)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
