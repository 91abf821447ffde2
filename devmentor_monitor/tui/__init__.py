"""The full-screen dashboard. The only package that imports textual (an import contract
in pyproject.toml holds every other module to it)."""
