"""Files shipped inside the package: the default services.yaml and the themes. They are
found beside this module (config/locate.py), so an installed wheel works from any directory."""
