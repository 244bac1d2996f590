"""J3: the files holding clear passwords (the letters' PDF, the class lists) are kept 24 hours at most."""
from __future__ import annotations

from datetime import timedelta

from support.settings import settings_for
from ts_notifier.adapters.batches import GeneratedFile, NotificationBatch
from ts_notifier.jobs import purge_files_job
from ts_notifier.service_layer.files import files_folder, store_file
from ts_shared.db import utcnow
from ts_shared.runtime.process import Platform


def test_the_purge_job_deletes_the_files_past_their_24_hours_and_only_those(tmp_path):
    platform = Platform(settings_for(tmp_path))
    runtime = platform.runtime("notifier")
    with runtime.uow() as uow:
        batch = NotificationBatch(id="b1", school_uai="0541234X", kind="class_list", population="students",
                                  label="Liste des comptes élèves – 6A", requested_by="chef.moulin", expected=1,
                                  received=1)
        uow.session.add(batch)
        uow.session.flush()  # the files refer to it
        expired = store_file(uow, batch, "pdf", "liste-6a.pdf", b"%PDF-1.4")
        fresh = store_file(uow, batch, "csv", "liste-6a.csv", b"\xef\xbb\xbfEleve")
        expired.expires_at = utcnow() - timedelta(minutes=1)
        uow.commit()
        expired_id, fresh_id = expired.id, fresh.id

    assert purge_files_job(runtime) == "1 fichier(s) expiré(s) supprimé(s)"

    folder = files_folder(platform.settings)
    assert not (folder / expired_id).exists() and (folder / fresh_id).exists()
    with runtime.uow() as uow:
        assert uow.session.get(GeneratedFile, expired_id).deleted_at is not None
        assert uow.session.get(GeneratedFile, fresh_id).deleted_at is None
    assert purge_files_job(runtime) == "0 fichier(s) expiré(s) supprimé(s)"
    platform.dispose()
