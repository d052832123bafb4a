"""Figures: one function per figure, each returning a matplotlib Figure (the CLI saves it).

Submodules follow the data flow: ``xsec`` (seed Figs. 3–4), ``spectra`` (dR/dE_R),
``templates`` (binned templates and variations), ``fit`` (post-fit), ``compare`` (detector
comparisons and scans).
"""
