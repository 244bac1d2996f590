"""Periodic jobs of the notifier (`tsctl jobs notifier`, and a thread of the embedded run)."""
from __future__ import annotations

from ts_notifier.service_layer.files import purge_files
from ts_shared.db import utcnow
from ts_shared.service import Job


def purge_files_job(runtime) -> str:
    """J3: PDF and CSV files holding clear passwords are kept 24 hours at most."""
    with runtime.uow() as uow:
        purged = purge_files(uow, now=utcnow())
    return f"{purged} fichier(s) expiré(s) supprimé(s)"


JOBS = (Job("purge_files", every_seconds=600, run=purge_files_job),)
