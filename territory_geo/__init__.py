"""territory_geo: the library behind the sales territory planning workbench.

Modules, in the order data flows through them: ``io`` (read files) -> ``validate`` -> ``scoring`` -> ``units``
(ZIP areas and adjacency) -> ``store``; plus ``market`` (TAM), ``demo``, ``export``, ``dataset`` (one-call ingest),
``settings`` and ``errors``. The library never imports streamlit.
"""

__version__ = "0.1.0"
