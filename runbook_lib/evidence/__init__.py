"""The evidence archive: the incident folder's files, hash chain, seal, index and remote copies.

Owns the archive layout, the run chain and seal (:mod:`.archive`), the SQLite
index (:mod:`.index`, the only SQL), pushing to and verifying object storage
(:mod:`.remote`) and the gathered view of one incident (:mod:`.summary`). May
import :mod:`runbook_lib.base`, :mod:`runbook_lib.target`,
:mod:`runbook_lib.incident` and :mod:`runbook_lib.decide`.
"""
