"""cevns-fit: sensitivity and fitting of coherent elastic neutrino-nucleus scattering detectors.

Data flows one way (see ``README.md``)::

    constants, targets, form_factors -> cross_section -> sources -> rates
    -> quenching / resolution / efficiency / backgrounds / detector -> templates
    -> likelihood (pyhf workspaces) -> inference, fit -> scan, compare -> plots, cli
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
