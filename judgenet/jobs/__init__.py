"""judgenet.jobs — the steps of the user jobs, one module per job (above every library layer, below api/cli).

* :mod:`~judgenet.jobs.inputs` — input-file conventions: image folders, prompt files, generator names, output folders;
* :mod:`~judgenet.jobs.prepare` — the one real-image reference fit and label-set preparation (labels → features);
* :mod:`~judgenet.jobs.train` — held-out evaluation of recipes, fitting and saving predictors (train/evaluate/tune);
* :mod:`~judgenet.jobs.score` — per-generator scoring tables;
* :mod:`~judgenet.jobs.demo` — the demo on the built-in simulated world;
* :mod:`~judgenet.jobs.select` — active selection of items to label next.

:mod:`judgenet.api` and :mod:`judgenet.cli` only wire these together.
"""
