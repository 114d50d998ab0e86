"""Studies: a paper's experiment as library code (conditions, runner, scoring, figures).

``figure1``: the paper's Figure 1 (Wyse 2017) as a study that can decide: trained vs random
weights of the classifier net (same input pipeline) x initial noise r, on many pairs x seeds
(``figure1_design``: conditions, settings, pairs; ``figure1_runner``: through the transfer engine;
``figure1_report``: claims, tables, files). Its pre-registered claims study, resumable
(``experiments/claims_study.py``): ``figure1_units`` (the unit order, one file per item),
``figure1_resume`` (the units through the engine), ``figure1_claims`` (``claims.json`` from the
item files: t tests, Holm, verdicts); ``convergence``: the stated convergence rule.
``channels``: the paper's channel-count claim (random nets at 256 ... 4096 channels); its
pre-registered claims study, resumable (``experiments/claims_study.py --study=channels``):
``channels_units`` (config, unit order, item records), ``channels_resume`` (the units through
the engine), ``channels_claims`` (``claims.json``: per-pair slopes against log2 C, t tests, Holm).
``pairs``: the studies' content/style pairs (LJSpeech + ESC-50 fold 5). ``judge``: measures the
optimisation never sees (network-free distances, a second classifier). ``stats``: paired
bootstrap intervals, effect sizes and verdicts; t tests and t intervals, Holm's adjustment.
``outputs`` / ``panels``: clips and figures.
"""
