"""One settler per settlement mode, all behind the ``Settler`` interface."""
