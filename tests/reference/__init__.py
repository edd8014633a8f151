"""Independent reference computations used by the tests AND by ``benchmarks/`` (one place).

* :mod:`reference.mid` — line-by-line transcriptions of the official MID code
  (``naver-ai/mid.metric`` ``metrics/mid.py``: ``_compute_pmi`` and the streaming
  ``MutualInformationDivergence`` class) and a textbook computation with explicit inverses.
* :mod:`reference.distribution` — brute-force loops for KID's unbiased MMD², improved precision/recall
  and the realism score (Kynkäänniemi et al. 2019), written from the papers' definitions.

Nothing here imports judgenet: these are the "other side" of every equality test. Import as
``from reference import mid`` (pytest puts ``tests/`` on ``sys.path``; ``benchmarks/protocol.py`` does too).
"""
