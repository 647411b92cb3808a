#!/usr/bin/env python
"""Django's command-line utility for Compresso."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    # TensorFlow's C++ start-up lines (CPU features, absl) would break up the
    # runner's progress bar; errors still print. Child processes inherit it.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A bad environment variable (webapp/env.py names it): one line, not a stack.
        sys.exit(f"ImproperlyConfigured: {exc}")


if __name__ == "__main__":
    main()
