"""Files shipped inside the package: the default services.yaml and the themes. They are
read through importlib.resources, so an installed wheel works from any directory."""
