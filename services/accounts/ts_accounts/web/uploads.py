"""Files uploaded for an import (console and API): saved to a temporary folder for the time of the
request, and the import's problems told with the names staff gave the files."""
from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Iterator

from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename

from ts_accounts.adapters.siecle import ImportFileError


def _saved_name(number: int, upload: FileStorage) -> str:
    # A number keeps two uploads of one name apart; secure_filename keeps the name inside the folder.
    return f"{number:02d}-{secure_filename(upload.filename or '') or 'fichier'}"


@contextmanager
def saved_uploads(uploads: list[FileStorage]) -> Iterator[list[Path]]:
    with tempfile.TemporaryDirectory(prefix="ts-import-") as folder:
        paths = []
        for number, upload in enumerate(uploads):
            path = Path(folder) / _saved_name(number, upload)
            upload.save(path)
            paths.append(path)
        yield paths


def as_uploaded(message: str, uploads: list[FileStorage]) -> str:
    """`message`, naming each file as uploaded (not its temporary copy)."""
    for number, upload in enumerate(uploads):
        message = message.replace(_saved_name(number, upload), upload.filename or "")
    return message


def problems_as_uploaded(error: ImportFileError, uploads: list[FileStorage]) -> list[str]:
    """Each problem of a refused import, naming the file as uploaded."""
    return [as_uploaded(str(problem), uploads) for problem in error.problems]
