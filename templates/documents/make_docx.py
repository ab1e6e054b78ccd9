"""Builds the Word templates of the documents (docxtpl Jinja tags inside .docx files) and
writes them beside this file. Regenerate them after changing their modules (they are
committed, binary):

    .venv/bin/python -m templates.documents.make_docx

writes `review.{zh,en}.docx` (`templates.documents.review_docx`) and `no_fault.{zh,en}.docx`
(`templates.documents.no_fault_docx`). `docx_blocks.stable_zip` rewrites each with fixed entry
times (1980-01-01) in a fixed order, so the templates and every document rendered from them
are byte-for-byte reproducible.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from docx.document import Document

from templates.documents.docx_blocks import stable_zip
from templates.documents.no_fault_docx import no_fault
from templates.documents.review_docx import review

HERE = Path(__file__).parent
BUILDERS: dict[str, Callable[[str], Document]] = {"review": review, "no_fault": no_fault}


def build(kind: str, lang: str) -> bytes:
    """The template's bytes (reproducible)."""
    out = io.BytesIO()
    BUILDERS[kind](lang).save(out)
    return stable_zip(out.getvalue())


def main(argv: Sequence[str] = ()) -> None:
    folder = Path(argv[0]) if argv else HERE
    for kind in BUILDERS:
        for lang in ("zh", "en"):
            path = folder / f"{kind}.{lang}.docx"
            path.write_bytes(build(kind, lang))
            sys.stdout.write(f"wrote {path}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
