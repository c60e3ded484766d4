"""The directory ``spanwise exec`` puts first on a child's ``PYTHONPATH``; it holds only
``sitecustomize.py``, which Python runs at start-up (see that module)."""
