"""The evidence archive: the incident folder's files, hash chain, seal, index and remote copies.

Owns the incident folder's file names (:mod:`.layout`), the run chain
(:mod:`.chain`), the seal and its verification (:mod:`.seal`) with the environment
it records (:mod:`.environment`), adding evidence and resealing (:mod:`.amend`),
numbered decision and check records (:mod:`.records`), the SQLite
index (:mod:`.index`, the only SQL), pushing to and verifying object storage
(:mod:`.remote`) and the gathered view of one incident (:mod:`.summary`). May
import :mod:`runbook_lib.base`, :mod:`runbook_lib.target`,
:mod:`runbook_lib.incident` and :mod:`runbook_lib.decide`.
"""
